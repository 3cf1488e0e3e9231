"""`hvsim serve`: one process serving every emulated host, each on its own port."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from emulator.app import Settings, create_app, open_world
from emulator.caching.cache_budget import DEFAULT_CACHE_MB, MIN_CACHE_MB, CacheBudget
from emulator.control import clock_command, fault_commands, world_commands
from emulator.control import commands as log_commands
from emulator.control.client import ControlError
from emulator.core.catalog import CatalogError
from emulator.setup.scenario import Scenario, ScenarioError, generated_scenario, load_scenario
from emulator.setup.seeding import ScenarioMismatch
from emulator.transport import http_connection
from emulator.transport.auth import UsersFileError, load_users
from emulator.transport.bind_address import sandbox_exposure_warning
from emulator.transport.connection_drop import DROP_KEY, ConnectionDropper
from emulator.transport.request_log import CONNECTION_TAG_KEY, ConnectionTag
from emulator.wsman.call import MAX_ENVELOPE_KB
from emulator.wsman.connection import CONNECTION_KEY, ConnectionState
from emulator.wsman.security import DEFAULT_NTLM_PASSWORD
from storage.db import Timeouts, describe_url, normalise_url
from storage.errors import StoreUnavailable

log = logging.getLogger("hvsim")
DEFAULT_PORT = 5988
# http.sys's idle connection timeout on a Windows host. Clients such as pywbem do not resend a
# POST whose kept-alive connection the server closed as they reused it: the longer a
# connection may idle, the rarer that race.
KEEP_ALIVE_SECONDS = 120


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hvsim", description=(
        "Emulator of the Hyper-V virtual system migration service (CIM-XML and "
        "WS-Management)."))
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the emulated cluster")
    world = serve.add_argument_group("world")
    world.add_argument("--scenario", type=Path, help="scenario file (TOML); default: demo cluster")
    world.add_argument("--hosts", type=int, help="generate a cluster of N hosts")
    world.add_argument("--vms-per-host", type=int, default=5,
                       help="VMs per generated host (default 5)")
    world.add_argument("--seed", type=int, default=1, help="seed of the generated cluster")
    world.add_argument("--database", default=os.environ.get("HVSIM_DATABASE_URL",
                                                            "sqlite:///hvsim.db"),
                       help="SQLAlchemy URL: sqlite:///FILE (default hvsim.db), "
                            "sqlite:///:memory:, or postgresql://user:pw@host/db")
    world.add_argument("--reset", action="store_true",
                       help="discard the world already in the database and seed anew")
    world.add_argument("--time-scale", type=float, default=1.0,
                       help="simulated seconds per real second for long operations")
    _add_db_timeout_flags(world)
    net = serve.add_argument_group("network")
    net.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    net.add_argument("--port", type=int, default=DEFAULT_PORT,
                     help="port of the first host; host i listens on PORT+i-1 (0: free ports)")
    net.add_argument("--endpoints-file", type=Path,
                     help="write {host: base URL} as JSON once every endpoint accepts")
    net.add_argument("--users", type=Path,
                     help="file of user:password lines; without it any credentials work "
                          "(Basic), and any user name with the NTLM password (NTLM/Negotiate)")
    net.add_argument("--ntlm-password", default=DEFAULT_NTLM_PASSWORD,
                     help="without --users: the password NTLM/Negotiate accept for any user "
                          f"(default {DEFAULT_NTLM_PASSWORD})")
    net.add_argument("--allow-unencrypted", action="store_true",
                     help="serve unsealed messages on connections that logged in with "
                          "NTLM/Negotiate over http (WinRM's AllowUnencrypted; default: "
                          "refused with 401)")
    net.add_argument("--max-envelope-kb", type=_envelope_kb, default=MAX_ENVELOPE_KB,
                     metavar="KB",
                     help="WinRM's MaxEnvelopeSizekb: the largest WS-Man message, and the reply "
                          f"limit when a request names none (default {MAX_ENVELOPE_KB}, as "
                          "Windows; 32-65536)")
    net.add_argument("--https", action="store_true",
                     help="serve HTTPS on every endpoint (a self-signed certificate unless "
                          "--cert/--key are given)")
    net.add_argument("--cert", type=Path, help="PEM certificate (chain) for --https")
    net.add_argument("--key", type=Path, help="PEM private key for --https")
    net.add_argument("--header-timeout", type=_seconds, metavar="SECONDS",
                     default=http_connection.DEFAULT_HEADER_TIMEOUT,
                     help="close a connection whose request headers are not complete this long "
                          "after it opened or the request began, with 408 (default "
                          f"{http_connection.DEFAULT_HEADER_TIMEOUT:g}; 0: no limit)")
    net.add_argument("--body-timeout", type=_seconds, metavar="SECONDS",
                     default=http_connection.DEFAULT_BODY_TIMEOUT,
                     help="close a connection, with 408, whose request body brings fewer than "
                          "--body-min-rate bytes per second over any such window (default "
                          f"{http_connection.DEFAULT_BODY_TIMEOUT:g}; 0: no limit)")
    net.add_argument("--body-min-rate", type=_count, metavar="BYTES",
                     default=http_connection.DEFAULT_BODY_MIN_RATE,
                     help="bytes per second a request body must keep up (default "
                          f"{http_connection.DEFAULT_BODY_MIN_RATE}; 0: any progress)")
    net.add_argument("--max-connections", type=_count, metavar="N",
                     default=http_connection.DEFAULT_MAX_CONNECTIONS,
                     help="open connections per process, all ports together; beyond them a "
                          "connection gets 503 (default "
                          f"{http_connection.DEFAULT_MAX_CONNECTIONS}; 0: no limit)")
    serve.add_argument("--cache-mb", type=int, default=DEFAULT_CACHE_MB,
                       help="memory for cached requests and replies, in MB, keys included "
                            f"(default {DEFAULT_CACHE_MB}, at least {MIN_CACHE_MB})")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--request-log", metavar="PATH|off",
                       help="JSON-lines log of every request, kept under 2 x 16 MB by rotation "
                            "(default: <database file>.requests.jsonl beside a SQLite file, "
                            "else hvsim.requests.jsonl here; off: no log)")
    log_commands.add_commands(commands)
    fault_commands.add_commands(commands)
    clock_command.add_command(commands)
    world_commands.add_commands(commands)
    return parser


def request_log_path(option: str | None, database_url: str) -> Path | None:
    """Where `hvsim serve` logs requests: the option, or beside the SQLite database file."""
    if option is not None:
        return None if option.lower() == "off" else Path(option)
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        database = Path(database_url[len(prefix):].split("?", 1)[0])
        return database.with_name(database.stem + ".requests.jsonl")
    return log_commands.DEFAULT_LOG_FILE


def _add_db_timeout_flags(group: argparse._ArgumentGroup) -> None:
    defaults = Timeouts()
    for name, default, meaning in (
            ("connect", defaults.connect, "opening a database connection (PostgreSQL)"),
            ("lock", defaults.lock, "a wait for a database lock or a free connection"),
            ("statement", defaults.statement, "one database statement (PostgreSQL)")):
        group.add_argument(f"--db-{name}-timeout", type=_seconds, default=default,
                           metavar="SECONDS",
                           help=f"bound on {meaning}; past it the request fails with a "
                                f"retryable error (default {default:g}, 0: no bound)")


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def _envelope_kb(text: str) -> int:
    value = int(text)
    if not 32 <= value <= 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 32 and 65536 (KB)")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is below 0")
    return value


def _scenario(args: argparse.Namespace) -> Scenario | None:
    if args.scenario and args.hosts:
        raise ScenarioError("give either --scenario or --hosts, not both")
    if args.scenario:
        return load_scenario(args.scenario)
    if args.hosts:
        return generated_scenario(args.hosts, args.vms_per_host, args.seed)
    return None


def _cache_budget(megabytes: int) -> CacheBudget:
    try:
        return CacheBudget.megabytes(megabytes)
    except ValueError as error:
        raise ScenarioError(f"--cache-mb: {error}") from None


def _bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: a reply written as header + body must not wait for
    # the client's delayed ACK (40 ms per request on a reused connection otherwise).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((address, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url(address: str, port: int, scheme: str = "http") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{port}"


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Schema upgrades are routine; alembic's step-by-step INFO lines are noise at start-up.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        scenario = _scenario(args)
        if args.users:
            load_users(args.users)
        if (args.cert is None) != (args.key is None) or (args.cert and not args.https):
            raise ScenarioError("--cert and --key go together, and only with --https")
        settings = Settings(database_url=normalise_url(args.database), scenario=scenario,
                            reset=args.reset, users_file=args.users, time_scale=args.time_scale,
                            ntlm_password=args.ntlm_password,
                            allow_unencrypted=args.allow_unencrypted,
                            max_envelope_kb=args.max_envelope_kb,
                            cache_budget=_cache_budget(args.cache_mb),
                            db_timeouts=Timeouts(args.db_connect_timeout, args.db_lock_timeout,
                                                 args.db_statement_timeout),
                            request_log=request_log_path(args.request_log,
                                                         normalise_url(args.database)))
        runtime = open_world(settings)
    except (ScenarioError, ScenarioMismatch, UsersFileError, CatalogError) as error:
        print(f"hvsim: {error}", file=sys.stderr)
        return 2
    except StoreUnavailable as error:
        print(f"hvsim: cannot use the database {describe_url(args.database)}: {error.reason}",
              file=sys.stderr)
        return 2
    print(f"hvsim: database {runtime.store.where()}, schema revision "
          f"{runtime.store.schema_revision()}, reachable", flush=True)
    scheme = "https" if args.https else "http"
    sockets: list[socket.socket] = []
    endpoints: dict[str, str] = {}
    try:
        for index, host in enumerate(runtime.host_names):
            sock = _bind(args.bind, 0 if args.port == 0 else args.port + index)
            sockets.append(sock)
            port = sock.getsockname()[1]
            settings.port_hosts[port] = host
            endpoints[host] = _url(args.bind, port, scheme)
    except OSError as error:
        print(f"hvsim: cannot listen on {args.bind}: {error.strerror}", file=sys.stderr)
        return 2
    settings.endpoint_urls.update(endpoints)
    exposure = sandbox_exposure_warning(args.bind, strict=args.users is not None)
    if exposure:
        print(f"hvsim: WARNING: {exposure}", file=sys.stderr, flush=True)
        log.warning(exposure)
    app = create_app(settings, runtime)
    tls: dict[str, Any] = {}
    if args.https:
        cert, key = args.cert, args.key
        if cert is None:
            from emulator.wsman.tls import self_signed
            cert, key = self_signed(Path(tempfile.mkdtemp(prefix="hvsim-tls-")),
                                    runtime.host_names, args.bind)
            print(f"hvsim: self-signed certificate {cert}", flush=True)
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    # Per-connection state lets NTLM/Negotiate authenticate a connection; no WebSockets, so
    # every connection stays on that protocol and under its deadlines.
    limits = http_connection.ConnectionLimits(
        header_timeout=args.header_timeout, body_timeout=args.body_timeout,
        body_min_rate=args.body_min_rate, max_connections=args.max_connections)
    protocol = http_connection.protocol_class(limits, {CONNECTION_KEY: ConnectionState,
                                                       CONNECTION_TAG_KEY: ConnectionTag,
                                                       DROP_KEY: ConnectionDropper})
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False,
                            timeout_keep_alive=KEEP_ALIVE_SECONDS, lifespan="off",
                            proxy_headers=False, server_header=False, http=protocol, ws="none",
                            **tls)
    server = uvicorn.Server(config)
    auth = ("users from " + str(args.users) if args.users else
            f"Basic: any user and password; NTLM/Negotiate: any user with password "
            f"{args.ntlm_password}")
    threading.Thread(target=_announce, args=(server, endpoints, args.endpoints_file, auth,
                                   settings.request_log),
                     daemon=True).start()
    # Server.run sets up the event loop uvicorn chose (uvloop when installed).
    server.run(sockets=sockets)
    app.close()
    runtime.store.dispose()
    return 0


def _announce(server: uvicorn.Server, endpoints: dict[str, str], path: Path | None,
              auth: str, request_log: Path | None) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    for host, url in endpoints.items():
        print(f"hvsim: {host} serves CIM-XML at {url}/cimom and WS-Management at {url}/wsman",
              flush=True)
    print(f"hvsim: credentials: {auth}", flush=True)
    print(f"hvsim: request log: {request_log or 'off'}; control API at "
          f"{next(iter(endpoints.values()))}/_hvsim/", flush=True)
    if path is not None:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(endpoints, indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command in log_commands.COMMANDS:
        return log_commands.run(args)
    if args.command == "fault":
        try:
            return fault_commands.run(args)
        except ControlError as error:
            print(f"hvsim: {error}", file=sys.stderr)
            return 2
    if args.command == clock_command.COMMAND:
        return clock_command.run(args)
    if args.command in world_commands.COMMANDS:
        return world_commands.run(args)
    return 2
