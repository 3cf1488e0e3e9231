"""`hvsim clock`: show, freeze, run or advance a running server's world clock."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from emulator.control.client import ControlError, basic_header, call

COMMAND = "clock"
DEFAULT_URL = "http://127.0.0.1:5988"


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    clock = commands.add_parser(
        COMMAND, help="show, freeze, run or advance the world clock of a running server",
        description="Without an action: show the clock. freeze: stop simulated time; run: let "
                    "it run scaled again (--scale X to change the speed); advance N|next-change"
                    "|idle: move a frozen clock on N simulated seconds, to the next moment a "
                    "job starts, ends or is removed, or until no job is in progress.")
    clock.add_argument("action", nargs="?", choices=("show", "freeze", "run", "advance"),
                       default="show")
    clock.add_argument("amount", nargs="?", metavar="N|next-change|idle",
                       help="for advance: seconds, next-change or idle")
    clock.add_argument("--scale", type=float, help="for run: simulated seconds per second")
    clock.add_argument("--url", default=DEFAULT_URL,
                       help=f"a host endpoint of the server (default {DEFAULT_URL})")
    clock.add_argument("--json", action="store_true", help="print the clock as JSON")
    clock.add_argument("--user", help="user name for a server started with --users (Basic)")
    clock.add_argument("--password", default="", help="that user's password")


def run(args: argparse.Namespace) -> int:
    headers = basic_header(args.user, args.password)
    try:
        method, path, body = _request(args)
        answer = call(args.url, method, path, headers, body)
    except (ControlError, ValueError) as error:
        print(f"hvsim: {error}", file=sys.stderr)
        return 2
    print(json.dumps(answer) if args.json else describe(answer))
    return 0


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.action != "advance" and args.amount is not None:
        raise ValueError(f"clock {args.action} takes no amount")
    if args.scale is not None and args.action != "run":
        raise ValueError("--scale goes with clock run")
    if args.action == "freeze":
        return "PUT", "/clock", {"mode": "frozen"}
    if args.action == "run":
        body: dict[str, Any] = {"mode": "scaled"}
        if args.scale is not None:
            body["scale"] = args.scale
        return "PUT", "/clock", body
    if args.action == "advance":
        if args.amount is None:
            raise ValueError("clock advance needs N (seconds), next-change or idle")
        if args.amount in ("next-change", "idle"):
            return "POST", "/clock/advance", {"to": args.amount}
        try:
            seconds = float(args.amount)
        except ValueError:
            raise ValueError(f"clock advance: {args.amount!r} is not a number of seconds, "
                             "next-change or idle") from None
        return "POST", "/clock/advance", {"seconds": seconds}
    return "GET", "/clock", None


def describe(answer: dict[str, Any]) -> str:
    text = (f"{answer['mode']} at {answer['now']}" if answer["mode"] == "frozen"
            else f"scaled x{answer['scale']:g}, now {answer['now']}")
    if "advanced_seconds" in answer:
        text += f" (advanced {answer['advanced_seconds']:g} s)"
    if answer.get("progression"):
        rules = ", ".join(f"{job}: {how}" for job, how in sorted(answer["progression"].items()))
        text += f"; jobs progress {rules}"
    return text
