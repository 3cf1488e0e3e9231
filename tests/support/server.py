"""A live ``python -m emulator serve`` process for end-to-end tests.

The server is asked for ``--port 0`` and an ``--endpoints-file``; it writes that file (JSON,
host name -> base URL) only once every listener accepts connections, so its appearance is the
readiness signal. CIM-XML is served at ``<base>/cimom``. Starting, waiting and stopping are the
shipped harness's (emulator/testing/process.py); this adds the test suite's defaults.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from emulator.testing.process import ServerProcess, StartError

if TYPE_CHECKING:
    import pywbem
    from pypsrp.wsman import WSMan

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVE_COMMAND: tuple[str, ...] = (sys.executable, "-m", "emulator", "serve")
DEMO_SCENARIO = PROJECT_ROOT / "emulator" / "setup" / "scenarios" / "demo.toml"
TEST_USER = "testuser"
TEST_PASSWORD = "Passw0rd"
INTEROP_NAMESPACE = "root/interop"
VIRTUALIZATION_NAMESPACE = "root/virtualization/v2"


# The server exited or did not become ready in time; the message carries its log.
ServerStartError = StartError


def cli_arguments(options: Mapping[str, object]) -> list[str]:
    """Keyword-style options to CLI arguments: ``vms_per_host=3`` -> ``--vms-per-host 3``.

    True is a bare flag (``reset=True`` -> ``--reset``); None and False leave the option out, so
    a caller can cancel one of HvsimServer's defaults.
    """
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        else:
            args.extend([flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)])
    return args


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class HvsimServer:
    """One ``emulator serve`` process, from ``start()``/``with`` to ``stop()``.

    Defaults that keep tests hermetic, each overridable through ``cli_options``: ``port=0``,
    ``bind=127.0.0.1``, an endpoints file in the work directory, and a fresh SQLite database
    there too, and its request log (pass ``database=None`` or ``request_log=None`` to get the
    server's own default instead).
    """

    def __init__(
        self,
        cli_options: Mapping[str, object] | None = None,
        *,
        workdir: Path | None = None,
        command: Sequence[str] = SERVE_COMMAND,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="hvsim-server-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        options = dict(cli_options or {})
        options.setdefault("port", 0)
        options.setdefault("bind", "127.0.0.1")
        options.setdefault("endpoints_file", self.workdir / "endpoints.json")
        options.setdefault("database", sqlite_url(self.workdir / "hvsim.db"))
        # Beside a SQLite file it would be there anyway; on PostgreSQL it would land in the
        # checkout.
        options.setdefault("request_log", self.workdir / "requests.jsonl")
        self.options = options
        endpoints_file = options["endpoints_file"]
        assert isinstance(endpoints_file, str | os.PathLike)
        self.endpoints_file = Path(endpoints_file)
        self.argv = [*command, *cli_arguments(options)]
        self.log_path = self.workdir / "server.log"
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._env = dict(os.environ if env is None else env)
        # Without this, a crash's last words can sit in a buffer when we read the log.
        self._env["PYTHONUNBUFFERED"] = "1"
        self._process: ServerProcess | None = None
        self._final_log: str | None = None
        self.endpoints: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> HvsimServer:
        if self._process is not None:
            return self
        self._process = ServerProcess(
            self.argv, cwd=PROJECT_ROOT, endpoints_file=self.endpoints_file,
            log_path=self.log_path, env=self._env, startup_timeout=self.startup_timeout,
            stop_timeout=self.stop_timeout)
        try:
            self.endpoints = self._process.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM, up to ``stop_timeout`` seconds' grace, then SIGKILL. Idempotent."""
        if self._process is not None:
            self._process.stop()
        if self._own_workdir and self._final_log is None and self.workdir.exists():
            self._final_log = self.log_text()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> HvsimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what tests use --------------------------------------------------------------------

    @property
    def pid(self) -> int:
        if self._process is None or self._process.pid is None:
            raise RuntimeError("hvsim server not started")
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """None while running; negative signal number if killed by a signal."""
        return None if self._process is None else self._process.returncode

    @property
    def hosts(self) -> list[str]:
        return sorted(self.endpoints)

    def url(self, host: str) -> str:
        """Base URL of one emulated host (CIM-XML is at ``<url>/cimom``)."""
        try:
            return self.endpoints[host]
        except KeyError:
            raise KeyError(f"no host {host!r}; this server has {self.hosts}") from None

    def log_text(self) -> str:
        if self._final_log is not None:
            return self._final_log
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def wbem_connection(
    url: str,
    namespace: str = VIRTUALIZATION_NAMESPACE,
    *,
    user: str = TEST_USER,
    password: str = TEST_PASSWORD,
    timeout: int = 30,
) -> pywbem.WBEMConnection:
    """A pywbem client for one host's base URL (pywbem itself posts to ``/cimom``)."""
    import pywbem

    return pywbem.WBEMConnection(
        url,
        creds=(user, password),
        default_namespace=namespace,
        no_verification=True,
        timeout=timeout,
    )


# -- WS-Management ---------------------------------------------------------------------------

# The password NTLM/Negotiate accept for any user in sandbox mode (hvsim serve --ntlm-password).
NTLM_PASSWORD = "Hvsim-NTLM-1"
WMI_V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"


def wsman_url(url: str) -> str:
    """The WS-Management endpoint of one host's base URL."""
    return url.rstrip("/") + "/wsman"


def wsman_client(
    url: str,
    *,
    auth: str = "basic",
    encryption: str | None = None,
    user: str = TEST_USER,
    password: str | None = None,
    **kwargs: object,
) -> WSMan:
    """A pypsrp ``WSMan`` for one host's base URL (http or https).

    Basic over http needs ``encryption='never'`` in pypsrp; NTLM and Negotiate default to
    ``auto`` (sealed messages over http), as a client with default settings does.
    """
    from pypsrp.wsman import WSMan

    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    if encryption is None:
        encryption = "never" if auth == "basic" and not ssl else "auto"
    if password is None:
        password = TEST_PASSWORD if auth == "basic" else NTLM_PASSWORD
    options: dict[str, Any] = {"cert_validation": False} if ssl else {}
    options.update(kwargs)
    return WSMan(parts.hostname or "127.0.0.1", port=parts.port, ssl=ssl, auth=auth,
                 encryption=encryption, username=user, password=password, **options)
