"""`hvsim fault add|list|clear`: a running server's fault rules from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from emulator.control.client import ControlError, basic_header, call

DEFAULT_URL = "http://127.0.0.1:5988"


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fault = commands.add_parser("fault", help="fault rules of a running server")
    actions = fault.add_subparsers(dest="fault_action", required=True)
    add = actions.add_parser("add", help="add a rule: field=value ... or --json")
    add.add_argument("fields", nargs="*", metavar="FIELD=VALUE",
                     help="e.g. effect=fail-job vm=web-01 error=destination-out-of-memory "
                          "at_percent=40 (values are read as JSON when they parse, else text)")
    add.add_argument("--json", help="the rule (or a list of rules) as JSON")
    listing = actions.add_parser("list", help="show the rules and their counters")
    listing.add_argument("--json", action="store_true", help="the rules as JSON")
    clear = actions.add_parser("clear", help="remove one rule, or all of them")
    clear.add_argument("id", nargs="?", type=int, help="the rule's id (default: every rule)")
    for parser in (add, listing, clear):
        parser.add_argument("--url", default=DEFAULT_URL,
                            help=f"the server's base URL (default {DEFAULT_URL})")
        parser.add_argument("--user", help="user name for a server started with --users")
        parser.add_argument("--password", default="", help="that user's password")


def rule_from_fields(fields: list[str]) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    for item in fields:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ControlError(f"{item!r}: expected FIELD=VALUE")
        try:
            rule[name] = json.loads(text)
        except ValueError:
            rule[name] = text
    return rule


def run(args: argparse.Namespace) -> int:
    headers = basic_header(args.user, args.password)
    if args.fault_action == "add":
        if bool(args.json) == bool(args.fields):
            raise ControlError("give the rule either as FIELD=VALUE arguments or as --json")
        try:
            rule = json.loads(args.json) if args.json else rule_from_fields(args.fields)
        except ValueError as error:
            raise ControlError(f"--json: {error}") from None
        for added in call(args.url, "POST", "/faults", headers, rule)["rules"]:
            print(f"added rule {added['id']}: {_summary(added)}")
        return 0
    if args.fault_action == "list":
        rules = call(args.url, "GET", "/faults", headers)["rules"]
        if args.json:
            print(json.dumps(rules, indent=2))
        for rule in [] if args.json else rules:
            print(f"{rule['id']:>4}  matched {rule['matched']:>4}  fired {rule['fired']:>4}  "
                  f"{_summary(rule)}")
        return 0
    path = "/faults" if args.id is None else f"/faults/{args.id}"
    removed = call(args.url, "DELETE", path, headers)["removed"]
    print(f"removed {removed} rule{'s' if removed != 1 else ''}")
    return 0


_BOOKKEEPING = {"id", "origin", "created_at", "expires_at", "matched", "fired"}


def _summary(rule: dict[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                    for k, v in rule.items() if k not in _BOOKKEEPING)
