"""`Emulator`: a real `hvsim serve` process for one test session or one `with` block, driven
over its documented HTTP interfaces only (CIM-XML, WS-Management, the /_hvsim/ control API).

Each Emulator is isolated by default: free loopback ports (`--port 0`), its own directory with
its own SQLite database and request log, removed at stop. So parallel test workers (pytest-xdist
`-n`, several CI jobs on one machine) each get their own world and never see each other.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pywbem

from emulator.testing.control import (
    Clock,
    ClockMode,
    ControlClient,
    ControlError,
    Faults,
    snapshot_path,
)
from emulator.testing.process import ServerProcess, StartError, child_environment, serve_command

if TYPE_CHECKING:
    from pypsrp.wsman import WSMan

VIRTUALIZATION_NAMESPACE = "root/virtualization/v2"
# What `hvsim serve` accepts for NTLM/Negotiate from any user without --users (its
# --ntlm-password default); Basic takes any password in that mode.
SANDBOX_NTLM_PASSWORD = "Hvsim-NTLM-1"
SANDBOX_USER = "hvsim"
SANDBOX_PASSWORD = "hvsim"


class EmulatorStartError(StartError):
    """`hvsim serve` exited or did not get ready in time, or the world could not be set up as
    asked; the message carries the server's log."""


@dataclass(frozen=True)
class Credentials:
    """What a client logs in with: Basic (`user`, `password`) and NTLM/Negotiate (`user`,
    `ntlm_password`)."""

    user: str
    password: str
    ntlm_password: str

    @property
    def basic(self) -> tuple[str, str]:
        return self.user, self.password


class Emulator:
    """`with Emulator(scenario="cluster.toml", clock="frozen") as emu:` starts `hvsim serve`
    and stops it at the end of the block (or `start()` / `stop()`).

    - `scenario`: a scenario file (TOML); None: the built-in demo cluster (HV-01, HV-02).
    - `clock`: "scaled" (simulated time runs `time_scale` times as fast as real time) or
      "frozen" (it stands still until `emu.clock.advance(...)`).
    - `database`: a SQLAlchemy URL; default a fresh SQLite file in the work directory. A given
      database is reseeded (`--reset`) unless `reset_database=False`.
    - `users`: {user: password} for strict mode (`--users`); default sandbox mode, where any
      Basic password works and `credentials` holds one.
    - `serve_args`: further `hvsim serve` flags, e.g. `["--https"]`.
    - `workdir`: where the database, request log and server log go; default a new temporary
      directory, removed at `stop()` unless `keep_workdir`.
    """

    def __init__(self, scenario: str | os.PathLike[str] | None = None, *,
                 clock: ClockMode = "scaled", time_scale: float = 1.0,
                 database: str | None = None, reset_database: bool = True,
                 users: Mapping[str, str] | None = None, serve_args: Sequence[str] = (),
                 workdir: str | os.PathLike[str] | None = None, keep_workdir: bool = False,
                 startup_timeout: float = 60.0, command: Sequence[str] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        if clock not in ("scaled", "frozen"):
            raise ValueError(f"clock must be 'scaled' or 'frozen', not {clock!r}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be above 0, not {time_scale!r}")
        if users is not None and not users:
            raise ValueError("users must name at least one user:password")
        self.scenario = None if scenario is None else Path(scenario).resolve()
        self.clock_mode: ClockMode = clock
        self.time_scale = float(time_scale)
        self.database = database
        self.reset_database = reset_database
        self.users = None if users is None else dict(users)
        self.serve_args = list(serve_args)
        self._given_workdir = None if workdir is None else Path(workdir).resolve()
        self.keep_workdir = keep_workdir
        self.startup_timeout = startup_timeout
        self.command = list(command) if command is not None else serve_command()
        self.env = child_environment(env)
        if self.users is None:
            self.credentials = Credentials(SANDBOX_USER, SANDBOX_PASSWORD, SANDBOX_NTLM_PASSWORD)
        else:
            user, password = next(iter(self.users.items()))
            self.credentials = Credentials(user, password, password)
        self.endpoints: dict[str, str] = {}
        self.workdir: Path | None = None
        self._process: ServerProcess | None = None
        self._final_log = ""
        self._control: ControlClient | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start the server and wait until it serves every host with the clock as asked."""
        if self._process is not None:
            return self
        workdir = self._given_workdir or Path(tempfile.mkdtemp(prefix="hvsim-emulator-"))
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        process = ServerProcess(self._argv(workdir), cwd=workdir,
                                endpoints_file=workdir / "endpoints.json",
                                log_path=workdir / "server.log", env=self.env,
                                startup_timeout=self.startup_timeout)
        self._process = process
        try:
            self.endpoints = process.start()
            self._control = ControlClient(next(iter(self.endpoints.values())),
                                          *self.credentials.basic)
            self._settle_clock()
        except StartError as error:
            self.stop()
            raise EmulatorStartError(str(error)) from None
        except ControlError as error:
            failure = EmulatorStartError(str(process.start_error(
                f"hvsim serve started but its control API refused the set-up: {error}")))
            self.stop()
            raise failure from None
        except BaseException:
            self.stop()
            raise
        return self

    def _argv(self, workdir: Path) -> list[str]:
        database = self.database or f"sqlite:///{workdir / 'hvsim.db'}"
        argv = [*self.command, "--port", "0", "--bind", "127.0.0.1",
                "--endpoints-file", str(workdir / "endpoints.json"),
                "--database", database, "--request-log", str(workdir / "requests.jsonl"),
                "--time-scale", repr(self.time_scale)]
        if self.scenario is not None:
            argv += ["--scenario", str(self.scenario)]
        if self.database is not None and self.reset_database:
            argv.append("--reset")
        if self.users is not None:
            users_file = workdir / "users.txt"
            users_file.write_text("".join(f"{user}:{password}\n"
                                          for user, password in self.users.items()))
            argv += ["--users", str(users_file)]
        return [*argv, *self.serve_args]

    def _settle_clock(self) -> None:
        """The clock as configured; a database kept from before may hold another setting."""
        self.clock.set(mode=self.clock_mode, scale=self.time_scale, progression="clock")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove a temporary work directory.
        Idempotent; `log_text()` still answers afterwards."""
        process, self._process = self._process, None
        if process is not None:
            process.stop()
            self._final_log = process.log_text()
        self._control = None
        self.endpoints = {}
        if (self.workdir is not None and self._given_workdir is None and not self.keep_workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- where and how to connect ----------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        """The emulated hosts, in scenario order."""
        return list(self.endpoints)

    def url(self, host: str | None = None) -> str:
        """A host's base URL (CIM-XML at `<url>/cimom`, WS-Man at `<url>/wsman`, the control
        API at `<url>/_hvsim/`); default the first host."""
        if not self.endpoints:
            raise RuntimeError("the emulator is not running: use `with Emulator(...)` or start()")
        if host is None:
            return next(iter(self.endpoints.values()))
        for name, url in self.endpoints.items():
            if name.lower() == host.lower():
                return url
        raise KeyError(f"no host {host!r}; this emulator has {self.hosts}")

    def wbem(self, host: str | None = None, namespace: str = VIRTUALIZATION_NAMESPACE,
             **options: Any) -> pywbem.WBEMConnection:
        """A pywbem connection to a host, logged in with `credentials`; `options` go to
        `pywbem.WBEMConnection` (e.g. `timeout`)."""
        settings: dict[str, Any] = {"no_verification": True, "timeout": 30, **options}
        return pywbem.WBEMConnection(self.url(host), creds=self.credentials.basic,
                                     default_namespace=namespace, **settings)

    def wsman(self, host: str | None = None, *, auth: str = "basic",
              encryption: str | None = None, **options: Any) -> WSMan:
        """A pypsrp `WSMan` for a host (needs `pip install pypsrp`). Basic over http is sent
        unencrypted; NTLM/Negotiate seal their messages, as a WinRM client does by default."""
        try:
            from pypsrp.wsman import WSMan
        except ImportError as error:
            raise ImportError("Emulator.wsman needs pypsrp: pip install pypsrp") from error
        parts = urlsplit(self.url(host))
        https = parts.scheme == "https"
        if encryption is None:
            encryption = "never" if auth == "basic" and not https else "auto"
        password = (self.credentials.password if auth == "basic"
                    else self.credentials.ntlm_password)
        settings: dict[str, Any] = {"cert_validation": False} if https else {}
        settings.update(options)
        return WSMan(parts.hostname or "127.0.0.1", port=parts.port, ssl=https, auth=auth,
                     encryption=encryption, username=self.credentials.user,
                     password=password, **settings)

    # -- control API -----------------------------------------------------------------------

    @property
    def control(self) -> ControlClient:
        if self._control is None:
            raise RuntimeError("the emulator is not running: use `with Emulator(...)` or start()")
        return self._control

    @property
    def clock(self) -> Clock:
        return Clock(self.control)

    @property
    def faults(self) -> Faults:
        return Faults(self.control)

    def health(self) -> dict[str, Any]:
        return dict(self.control.json("GET", "/health"))

    def reset(self) -> dict[str, Any]:
        """Back to the scenario the server started with: its VMs, GUIDs and fault rules. Jobs in
        flight are discarded; the clock (frozen stays frozen) and the snapshots stay."""
        return dict(self.control.json("POST", "/reset")["world"])

    def snapshot(self, name: str) -> dict[str, Any]:
        """Keep the world as it is now under `name` (ControlError if the name is taken)."""
        return dict(self.control.json("POST", "/snapshots", {"name": name}))

    def restore(self, name: str) -> dict[str, Any]:
        """Replace the world by snapshot `name`'s."""
        return dict(self.control.json("POST", f"{snapshot_path(name)}/restore")["world"])

    def snapshots(self) -> list[dict[str, Any]]:
        return [dict(item) for item in self.control.json("GET", "/snapshots")["snapshots"]]

    def delete_snapshot(self, name: str) -> None:
        self.control.text("DELETE", snapshot_path(name))

    def export_state(self) -> str:
        """The whole world as a scenario file (TOML)."""
        return self.control.text("GET", "/state")

    def load_state(self, document: str) -> dict[str, Any]:
        """Replace the world by a scenario file's (TOML text)."""
        answer = self.control.text("PUT", "/state", document, "application/toml")
        return dict(json.loads(answer)["world"])

    # -- diagnostics -----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def log_text(self) -> str:
        """What the server printed (kept after stop)."""
        return self._process.log_text() if self._process is not None else self._final_log

    def __repr__(self) -> str:
        state = f"serving {self.endpoints}" if self._process is not None else "stopped"
        return f"<Emulator scenario={self.scenario or 'demo'} clock={self.clock_mode} {state}>"
