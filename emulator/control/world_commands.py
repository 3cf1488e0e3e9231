"""`hvsim state export|import`, `hvsim reset` and `hvsim snapshot save|restore|list|delete`:
the world routes of a running server's control API, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from pathlib import Path

from emulator.control.client import ControlError, basic_header, send

COMMANDS = ("state", "reset", "snapshot")
DEFAULT_URL = "http://127.0.0.1:5988"  # the first host of `hvsim serve` without --port


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    state = commands.add_parser("state", help="export or load a running server's world")
    actions = state.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="print the world as a scenario file (TOML)")
    _server(export)
    export.add_argument("--output", "-o", type=Path, help="write it here instead")
    load = actions.add_parser("import", help="replace the world by a scenario file's")
    load.add_argument("file", type=Path, help="a scenario file, e.g. from `state export`")
    _server(load)

    reset = commands.add_parser("reset",
                                help="put a running server's world back to its start scenario")
    _server(reset)

    snapshot = commands.add_parser("snapshot", help="named copies of a running server's world")
    actions = snapshot.add_subparsers(dest="action", required=True)
    for name, meaning in (("save", "keep the world as it is now"),
                          ("restore", "replace the world by a snapshot's"),
                          ("delete", "forget a snapshot")):
        action = actions.add_parser(name, help=meaning)
        action.add_argument("name")
        _server(action)
    _server(actions.add_parser("list", help="the snapshots, oldest first"))


def _server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL,
                        help=f"a host endpoint of the running server (default {DEFAULT_URL})")
    parser.add_argument("--user", help="user name for a server started with --users (Basic)")
    parser.add_argument("--password", default="", help="that user's password")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ControlError as error:
        print(f"hvsim: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"hvsim: {error.filename}: {error.strerror}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    auth = basic_header(args.user, args.password)
    if args.command == "reset":
        return _print_world(send(args.url, "POST", "/reset", auth)[1], "reset")
    if args.command == "state" and args.action == "export":
        _, body = send(args.url, "GET", "/state", auth)
        if args.output:
            args.output.write_bytes(body)
        else:
            sys.stdout.write(body.decode("utf-8"))
        return 0
    if args.command == "state":
        document = args.file.read_bytes()
        _, body = send(args.url, "PUT", "/state", auth, document, "application/toml")
        return _print_world(body, f"loaded {args.file}")
    if args.action == "list":
        for item in json.loads(send(args.url, "GET", "/snapshots", auth)[1])["snapshots"]:
            print(f"{item['name']}\t{item['taken_at']}\t{item['hosts']} hosts\t"
                  f"{item['vms']} VMs")
        return 0
    if args.action == "save":
        body = json.dumps({"name": args.name}).encode()
        item = json.loads(send(args.url, "POST", "/snapshots", auth, body,
                               "application/json")[1])
        print(f"hvsim: snapshot {item['name']} taken: {item['hosts']} hosts, {item['vms']} VMs")
        return 0
    name = urllib.parse.quote(args.name, safe="")
    if args.action == "restore":
        return _print_world(send(args.url, "POST", f"/snapshots/{name}/restore", auth)[1],
                            f"restored {args.name}")
    send(args.url, "DELETE", f"/snapshots/{name}", auth)
    print(f"hvsim: snapshot {args.name} deleted")
    return 0


def _print_world(body: bytes, what: str) -> int:
    world = json.loads(body)["world"]
    print(f"hvsim: {what}: cluster {world['cluster']}, {world['hosts']} hosts, "
          f"{world['vms']} VMs")
    return 0
