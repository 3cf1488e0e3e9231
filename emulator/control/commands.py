"""`hvsim log`, `hvsim replay` and `hvsim conformance`: the request log from the command line.

Each reads the log from a running server's control API (`--url`) or from the JSON-lines file
(`--file`, by default the one `hvsim serve` writes next to its default database).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from emulator.conformance import build_report
from emulator.conformance.report import clock_text
from emulator.control.class_model import CatalogClassModel
from emulator.control.client import (
    ControlError,
    basic_header,
    fetch_records,
    follow_records,
    get,
)
from emulator.control.replay import replay
from emulator.core.catalog import CatalogError, load_catalog
from emulator.transport.request_log import RequestRecord, as_dict, format_record
from emulator.transport.request_log_file import follow, matches_client, parse_time, read_records

DEFAULT_LOG_FILE = Path("hvsim.requests.jsonl")  # next to the default sqlite:///hvsim.db
COMMANDS = ("log", "replay", "conformance")


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    log = commands.add_parser("log", help="show the request log")
    _source(log)
    log.add_argument("--follow", "-f", action="store_true",
                     help="keep showing requests as they are logged, like tail -f")
    log.add_argument("--limit", type=int, default=100, help="the last N requests (default 100)")
    log.add_argument("--json", action="store_true", help="one JSON record per line")

    again = commands.add_parser("replay", help="send logged requests again and compare answers")
    again.add_argument("file", type=Path, help="a request log (JSON lines)")
    again.add_argument("--to", action="append", required=True, metavar="URL|HOST=URL",
                       help="base URL for every host, or for one host (repeatable)")
    again.add_argument("--client", help="only this client's requests (user, address, "
                                        "address:port or part of the User-Agent)")
    again.add_argument("--fast", action="store_true",
                       help="do not wait the original pauses between requests")
    _credentials(again)

    report = commands.add_parser("conformance",
                                 help="rules over the request log; exit 1 on errors")
    _source(report)
    report.add_argument("--format", choices=("text", "json", "junit"), default="text")
    report.add_argument("--output", "-o", type=Path, help="write the report here")


def _source(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="a running server's base URL (its control API)")
    where.add_argument("--file", type=Path,
                       help=f"a request log file (default {DEFAULT_LOG_FILE})")
    parser.add_argument("--client", help="only this client (user, address, address:port or "
                                         "part of the User-Agent)")
    parser.add_argument("--since", help="only requests from this time on (epoch seconds or "
                                        "ISO 8601)")
    _credentials(parser)


def _credentials(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="user name for a server started with --users "
                                       "(Basic; default: none, or 'hvsim' for replay)")
    parser.add_argument("--password", default="", help="that user's password")


def run(args: argparse.Namespace) -> int:
    try:
        if args.command == "log":
            return show_log(args)
        if args.command == "replay":
            return replay_log(args)
        return conformance(args)
    except ControlError as error:
        print(f"hvsim: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _records(args: argparse.Namespace, limit: int | None = None) -> list[RequestRecord]:
    since = _since(args.since)
    if args.url:
        return fetch_records(args.url, basic_header(args.user, args.password),
                             client=args.client, since=since, limit=limit or 10_000)
    path = args.file or DEFAULT_LOG_FILE
    if not path.exists():
        raise ControlError(f"{path}: no such request log")
    return read_records(path, since=since, client=args.client, limit=limit)


def _since(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError as error:
        raise ControlError(f"--since: {error}") from None


def show_log(args: argparse.Namespace) -> int:
    for record in _records(args, args.limit):
        _print(record, args.json)
    if not args.follow:
        return 0
    stream: Iterator[RequestRecord]
    if args.url:
        stream = follow_records(args.url, basic_header(args.user, args.password),
                                client=args.client)
    else:
        stream = (r for r in follow(args.file or DEFAULT_LOG_FILE)
                  if not args.client or matches_client(r, args.client))
    for record in stream:
        _print(record, args.json)
    return 0


def _print(record: RequestRecord, as_json: bool) -> None:
    if as_json:
        print(json.dumps(as_dict(record), ensure_ascii=False), flush=True)
    else:
        print(f"{clock_text(record.time)} {format_record(record)}", flush=True)


def replay_log(args: argparse.Namespace) -> int:
    targets: dict[str, str] = {}
    default = None
    for target in args.to:
        host, sep, url = target.partition("=")
        if sep and not host.startswith(("http://", "https://")):
            targets[host] = url
        else:
            default = target
    if not args.file.exists():
        raise ControlError(f"{args.file}: no such request log")
    records = read_records(args.file, client=args.client)
    auth = basic_header(args.user or "hvsim", args.password)
    total = differing = 0
    for result in replay(records, targets, default, auth, pace=not args.fast):
        total += 1
        record = result.record
        same = result.matches
        differing += not same
        what = f"{record.host} {record.protocol} {record.operation}"
        if same:
            print(f"same    {what}: {result.answer.outcome()}", flush=True)
        else:
            print(f"DIFFERS {what}: was {result.original.outcome()}, now "
                  f"{result.answer.outcome()}", flush=True)
    print(f"hvsim replay: {total} requests, {total - differing} same answer, "
          f"{differing} different", flush=True)
    return 1 if differing else 0


def conformance(args: argparse.Namespace) -> int:
    if args.url:
        params = {"client": args.client, "since": args.since, "format": args.format}
        _, body = get(args.url, "/conformance", params,
                      basic_header(args.user, args.password))
        text = body.decode("utf-8")
        if args.format == "json":
            data = json.loads(text)
            text = json.dumps(data, indent=2) + "\n"
            errors = int(data["summary"]["error"])
        else:
            # The server's summary decides the exit status whatever the format shown.
            _, summary = get(args.url, "/conformance", {**params, "format": "json"},
                             basic_header(args.user, args.password))
            errors = int(json.loads(summary)["summary"]["error"])
    else:
        try:
            model = CatalogClassModel(load_catalog())
        except CatalogError as error:
            raise ControlError(f"cannot load the class model: {error}") from None
        report = build_report(_records(args), model)
        text = {"json": lambda: json.dumps(report.to_dict(), indent=2) + "\n",
                "junit": report.to_junit, "text": report.to_text}[args.format]()
        errors = report.count("error")
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 1 if errors else 0
