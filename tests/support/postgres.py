"""A real PostgreSQL server for the test session.

Either the one named by ``HVSIM_TEST_POSTGRES_URL`` or a private throwaway cluster that lives
in a temporary directory, listens on 127.0.0.1 only and is deleted when the session ends.
Tests that need an empty world get their own database on that server via ``fresh_database``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

ENV_URL = "HVSIM_TEST_POSTGRES_URL"
SUPERUSER = "hvsim"
TEST_DATABASE = "hvsim_test"
# initdb and pg_ctl refuse to run as root, so as root they run as this account instead.
SYSTEM_USER = "postgres"
PACKAGED_BINDIRS = "/usr/lib/postgresql/*/bin"
# Durability is pointless for a cluster that is deleted at the end of the session, and turning
# it off makes schema creation and CREATE DATABASE several times faster.
SERVER_SETTINGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)
_START_ATTEMPTS = 3


class PostgresUnavailable(Exception):
    """No PostgreSQL server could be found or started here."""


def ci_mode() -> bool:
    """True on CI, where a missing database is an error rather than a reason to skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for lack of PostgreSQL, except on CI, which must test both databases."""
    if ci_mode():
        pytest.fail(f"PostgreSQL is required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


def _version_key(bindir: Path) -> tuple[int, ...]:
    # The version is the directory above bin/ ("15", "9.6"); compare numerically so 10 > 9.6.
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: PATH first, else the newest packaged."""
    on_path = shutil.which("initdb")
    if on_path:
        # PATH often holds symlinks (Debian's /usr/local/bin shims); pg_ctl must come from the
        # same installation as initdb, so look beside the real file.
        real = Path(on_path).resolve().parent
        if (real / "pg_ctl").exists():
            return real
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl and Path(pg_ctl).resolve().parent == real:
            return real
    candidates = [
        d
        for d in Path("/").glob(PACKAGED_BINDIRS.lstrip("/"))
        if (d / "initdb").exists() and (d / "pg_ctl").exists()
    ]
    if not candidates:
        return None
    return max(candidates, key=_version_key)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


class PostgresCluster:
    """A private PostgreSQL cluster in a temporary directory; ``stop()`` deletes it."""

    def __init__(self, bindir: Path, root: Path, port: int, account: pwd.struct_passwd | None):
        self.bindir = bindir
        self.root = root
        self.port = port
        self._account = account
        self.data_dir = root / "data"
        self.socket_dir = root / "sock"
        self.log_path = root / "postgres.log"
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{TEST_DATABASE}"
        self._stopped = False

    @classmethod
    def start(cls, bindir: Path | None = None) -> PostgresCluster:
        """initdb + pg_ctl start + CREATE DATABASE hvsim_test; raises PostgresUnavailable."""
        bindir = bindir or find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                f"initdb/pg_ctl not on PATH nor in {PACKAGED_BINDIRS} "
                "(on Debian: apt-get install postgresql)"
            )
        account = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root, and there is no {SYSTEM_USER!r} user to run initdb as"
                ) from None
        base = Path(tempfile.gettempdir())
        if account is not None and not _traversable_by_others(base):
            # The postgres account must reach its data directory; TMPDIR may sit under /root.
            base = Path("/tmp")
        root = Path(tempfile.mkdtemp(prefix="hvsim-pg-", dir=base))
        cluster = cls(bindir, root, 0, account)
        atexit.register(cluster.stop)
        try:
            cluster._init_and_start()
        except BaseException:
            # Also on KeyboardInterrupt: never leave a half-started server behind.
            cluster.stop()
            raise
        return cluster

    def _init_and_start(self) -> None:
        self.socket_dir.mkdir()
        if self._account is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        # C locale: deterministic collation, and no dependence on which locales are generated.
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        for attempt in range(1, _START_ATTEMPTS + 1):
            # free_port() is racy (the port is released before postgres binds it): retry.
            self.port = free_port()
            # The retry test below reads the log, which must not hold an earlier attempt's error.
            self.log_path.unlink(missing_ok=True)
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    self._server_options(),
                    "start",
                )
                break
            except PostgresUnavailable:
                log = self.log_text()
                if attempt == _START_ATTEMPTS or "could not bind" not in log:
                    raise
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{TEST_DATABASE}"
        with _admin_connection(with_database(self.url, "postgres")) as conn:
            conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')

    def _server_options(self) -> str:
        return (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
                f"{SERVER_SETTINGS}")

    # Fault injection: the server goes away and comes back on the same port and data.

    def restart_server(self) -> None:
        """pg_ctl restart -m fast: every session is terminated, then the server starts again."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-m", "fast",
                  "-w", "-t", "60", "-o", self._server_options(), "restart")

    def stop_server(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")

    def start_server(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t",
                  "60", "-o", self._server_options(), "start")

    def _run(self, program: str, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        kwargs: dict[str, Any] = {}
        if self._account is not None:
            env.update(HOME=self._account.pw_dir, USER=SYSTEM_USER, LOGNAME=SYSTEM_USER)
            kwargs.update(user=self._account.pw_uid, group=self._account.pw_gid, extra_groups=[])
        try:
            result = subprocess.run(
                [str(self.bindir / program), *args],
                # The postgres account may not be able to enter the caller's working directory.
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                **kwargs,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailable(f"{program} failed: {error}") from error
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{program} exited with {result.returncode}\n{result.stdout}{result.stderr}"
                f"\n--- server log ---\n{self.log_text()}"
            )

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and delete everything; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            if (self.data_dir / "postmaster.pid").exists():
                # immediate: nothing in this cluster is worth a clean shutdown checkpoint.
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except PostgresUnavailable:
            self._kill_postmaster()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)


def _admin_connection(url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)


def with_database(url: str, database: str) -> str:
    """The same server, user and driver as ``url``, but another database."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _server_key(url: str) -> str:
    return with_database(url, "")


_fresh_lock = threading.Lock()
_fresh_databases: dict[str, list[str]] = {}


def fresh_database(base_url: str) -> str:
    """Create a new, empty, uniquely named database on the server of ``base_url``; its URL.

    The session teardown removes it (with the whole cluster, or one by one on a server given by
    HVSIM_TEST_POSTGRES_URL).
    """
    name = f"hvsim_t_{uuid.uuid4().hex[:16]}"
    with _admin_connection(base_url) as conn:
        # template0: nobody is ever connected to it, so concurrent creations cannot collide on
        # "source database is being accessed by other users" as they can with template1.
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    with _fresh_lock:
        _fresh_databases.setdefault(_server_key(base_url), []).append(name)
    return with_database(base_url, name)


def forget_fresh_databases(base_url: str) -> list[str]:
    """Stop tracking the fresh databases of one server (e.g. because it is being deleted)."""
    with _fresh_lock:
        return _fresh_databases.pop(_server_key(base_url), [])


def drop_fresh_databases(base_url: str) -> None:
    """Drop every database that fresh_database created on the server of ``base_url``."""
    names = forget_fresh_databases(base_url)
    if not names:
        return
    with _admin_connection(base_url) as conn:
        # FORCE (PostgreSQL 13+) disconnects servers a test left running against the database.
        force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')


def check_connection(url: str) -> None:
    with _admin_connection(url) as conn:
        conn.execute("SELECT 1")


@contextlib.contextmanager
def postgres_session() -> Iterator[str]:
    """The base URL of a PostgreSQL server for the whole session, cleaned up afterwards.

    Skips (fails on CI) when there is none; an unusable HVSIM_TEST_POSTGRES_URL is always an
    error, since someone asked for that server explicitly.
    """
    external = os.environ.get(ENV_URL, "").strip()
    if external:
        try:
            check_connection(external)
        except Exception as error:
            pytest.fail(f"{ENV_URL}={external!r} is not usable: {error}", pytrace=False)
        try:
            yield external
        finally:
            drop_fresh_databases(external)
        return

    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as error:
        unavailable(str(error))
    except Exception as error:
        # e.g. psycopg failing to connect to the cluster it just started.
        unavailable(f"{type(error).__name__}: {error}")
    try:
        yield cluster.url
    finally:
        # The whole cluster goes, so the fresh databases need no dropping one by one.
        forget_fresh_databases(cluster.url)
        cluster.stop()
