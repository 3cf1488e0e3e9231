"""The start-up warning for a sandbox (any password accepted) listening beyond loopback."""

from __future__ import annotations

import argparse
import logging
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn

from emulator import cli
from emulator.transport.bind_address import is_loopback, sandbox_exposure_warning


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_addresses(address: str) -> None:
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.0.0.11", "192.168.1.5", "fe80::1",
                                     "2001:db8::1", "::ffff:10.0.0.1"])
def test_addresses_beyond_loopback(address: str) -> None:
    assert not is_loopback(address)


def _resolver(*addresses: str) -> Any:
    def getaddrinfo(host: str, *args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, 0)) for a in addresses]
    return getaddrinfo


def test_host_names_count_by_what_they_resolve_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver("127.0.0.1", "::1"))
    assert is_loopback("localhost")
    monkeypatch.setattr(socket, "getaddrinfo", _resolver("127.0.0.1", "10.0.0.11"))
    assert not is_loopback("hv-01.lab.test")


def test_a_name_that_does_not_resolve_is_not_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert not is_loopback("no-such-host.invalid")


def test_warning_only_for_a_sandbox_beyond_loopback() -> None:
    warning = sandbox_exposure_warning("0.0.0.0", strict=False)
    assert warning is not None
    assert "0.0.0.0" in warning and "sandbox" in warning and "--users" in warning
    assert sandbox_exposure_warning("0.0.0.0", strict=True) is None
    assert sandbox_exposure_warning("127.0.0.1", strict=False) is None


def _serve_without_listening(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> int:
    """`hvsim serve` down to the server's start, with the world, the app and listening faked:
    the listening socket is on loopback whatever --bind says."""
    store = SimpleNamespace(dispose=lambda: None, where=lambda: "sqlite at test.db",
                            schema_revision=lambda: "0003")
    monkeypatch.setattr(cli, "open_world", lambda settings: SimpleNamespace(
        host_names=["HV-01"], store=store))
    monkeypatch.setattr(cli, "create_app", lambda settings, world: FakeApp())
    bound: list[socket.socket] = []

    def bind_loopback(address: str, port: int) -> socket.socket:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        bound.append(sock)
        return sock

    def run(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        server.should_exit = True  # lets the announcing thread end

    monkeypatch.setattr(cli, "_bind", bind_loopback)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    try:
        return cli.main(argv)
    finally:
        for sock in bound:
            sock.close()


def test_serve_warns_on_stderr_and_in_the_log(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hvsim"):
        assert _serve_without_listening(monkeypatch, ["serve", "--bind", "0.0.0.0"]) == 0
    assert "hvsim: WARNING: listening on 0.0.0.0" in capsys.readouterr().err
    assert any("not a loopback address" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("extra", [["--bind", "127.0.0.1"], ["--bind", "0.0.0.0", "--users"]])
def test_serve_is_quiet_on_loopback_or_in_strict_mode(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path, extra: list[str]) -> None:
    if extra[-1] == "--users":
        users = tmp_path / "users"
        users.write_text("admin:Secret-1\n")
        extra = [*extra, str(users)]
    assert _serve_without_listening(monkeypatch, ["serve", *extra]) == 0
    assert "WARNING" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--header-timeout", "-1"], ["--body-timeout", "nan"],
                                  ["--body-min-rate", "-5"], ["--max-connections", "x"]])
def test_limit_flags_refuse_nonsense(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["serve", *argv])


def test_limit_flags_defaults_and_zero() -> None:
    args: argparse.Namespace = cli.build_parser().parse_args(["serve"])
    assert (args.header_timeout, args.body_timeout, args.body_min_rate,
            args.max_connections) == (30.0, 30.0, 1024, 300)
    args = cli.build_parser().parse_args(["serve", "--header-timeout", "0",
                                          "--max-connections", "0"])
    assert args.header_timeout == 0 and args.max_connections == 0


class FakeApp:
    def close(self) -> None:
        pass
