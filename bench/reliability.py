"""Reliability benchmark: memory under large requests, bystander latency, and a soak.

Three subcommands, each printing a short table and one JSON line of figures:

  memory     `hvsim serve` (demo cluster) receives 60 distinct valid 8 MB CIM-XML requests
             (alternately an ExecQuery with an 8 MB WQL string literal and a GetInstance with an
             8 MB MESSAGE ID, so half the replies are 8 MB too), then, on a fresh server, distinct
             valid WS-Management Enumerates of exactly MaxEnvelopeSizekb (500 KB) carrying a WQL
             filter with a long literal (as many bytes in all as the CIM-XML stream by default).
             Reports the server's RSS (process tree) before, at the peak, after, and after 10 s
             idle, and the `--cache-mb` budget when `hvsim serve` has that flag.
  bystander  a client reading one instance in a loop over a keep-alive connection (raw HTTP,
             one request every few ms) measures its latency alone, then while the same process
             receives (a) one request with a 15 MB attribute, (b) four of them in parallel,
             (c) one with 300,000 attributes; for CIM-XML, then for WS-Management with its largest
             allowed envelope (500 KB: one 500 KB attribute, four in parallel, ~50,000
             attributes). Extra delay = the bystander's worst latency during a case minus its
             median alone; goal <= 50 ms.
  soak       two `hvsim serve` processes on one private PostgreSQL cluster (started as the test
             suite starts it), 16 client threads mixing reads, enumerations, WQL queries,
             associators, compatibility checks and live migrations back and forth (see
             soakload.py); errors and operations by kind, both processes' RSS each minute, RSS
             growth from minute 5 to the end (goal < 10 %) and a final consistency check.

    python bench/reliability.py memory
    python bench/reliability.py bystander --repeat 3
    python bench/reliability.py soak --minutes 30

Each subcommand lives in a module of its own: reliability_memory.py, reliability_bystander.py,
soakload.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from figures import print_table
from reliability_bystander import run_bystander
from reliability_memory import run_memory


def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    from soakload import soak  # PostgreSQL and the test-support helpers only for this one

    result = soak(args)
    columns = [("minute", "minute"), ("ops", "ops"), ("errors", "errors"),
               ("migrations", "migrations"), ("RSS A MB", "rss_a_mb"), ("RSS B MB", "rss_b_mb")]
    print_table(columns, result["minutes"])
    for key in ("operations", "errors", "refusals", "error_samples", "consistency"):
        print(f"{key}: {json.dumps(result[key])}")
    growth = result["rss_growth"]
    print(f"RSS growth minute {growth['from_minute']} -> end: A {growth['a_percent']:+.1f} %, "
          f"B {growth['b_percent']:+.1f} % (goal < 10 %); errors {result['error_total']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    commands = parser.add_subparsers(dest="command", required=True)
    memory = commands.add_parser("memory", help="RSS under distinct large valid requests")
    memory.add_argument("--requests", type=int, default=60, help="CIM-XML requests")
    memory.add_argument("--request-mb", type=int, default=8)
    memory.add_argument("--wsman-requests", type=int, default=0,
                        help="WS-Man requests (default: as many bytes as the CIM-XML stream)")
    memory.add_argument("--idle", type=float, default=10.0, help="seconds idle before the last "
                                                                 "RSS reading")
    memory.add_argument("--cache-mb", type=int, default=0,
                        help="pass --cache-mb to the server (when it has that flag)")
    bystander = commands.add_parser("bystander", help="latency of a small client meanwhile")
    bystander.add_argument("--attribute-mb", type=int, default=15)
    bystander.add_argument("--attributes", type=int, default=300_000)
    bystander.add_argument("--repeat", type=int, default=3, help="rounds of each case")
    bystander.add_argument("--baseline", type=float, default=5.0, help="seconds alone")
    bystander.add_argument("--gap", type=float, default=1.0, help="seconds between rounds")
    bystander.add_argument("--interval-ms", type=float, default=5.0,
                           help="pause between the bystander's requests")
    soak = commands.add_parser("soak", help="16 threads of mixed load on two processes")
    soak.add_argument("--minutes", type=float, default=30.0)
    soak.add_argument("--threads", type=int, default=16)
    soak.add_argument("--hosts", type=int, default=4)
    soak.add_argument("--vms-per-host", type=int, default=25)
    soak.add_argument("--time-scale", type=float, default=30.0)
    soak.add_argument("--growth-from", type=float, default=5.0,
                      help="minute RSS growth is measured from (at most half the run)")
    soak.add_argument("--wsman-share", type=float, default=0.4,
                      help="share of reads, enumerations and checks sent over WS-Man")
    soak.add_argument("--think-ms", type=float, default=0.0,
                      help="pause of each client thread between operations")
    soak.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    run = {"memory": run_memory, "bystander": run_bystander, "soak": run_soak}[args.command]
    figures = run(args)
    line = json.dumps(figures)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")
    if args.command == "soak":
        return 0 if figures["error_total"] == 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
