"""The client side of the control API, for `hvsim log`, `hvsim conformance --url`,
`hvsim clock`, `hvsim fault` and the world commands (`hvsim state`, `hvsim reset`,
`hvsim snapshot`)."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from emulator.transport.request_log import RequestRecord, from_json

CONTROL_PATH = "/_hvsim"


class ControlError(RuntimeError):
    """The control API could not be reached or refused the request."""


def basic_header(user: str | None, password: str | None) -> dict[str, str]:
    if user is None:
        return {}
    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def get(url: str, path: str, params: dict[str, Any], headers: dict[str, str],
        timeout: float = 60.0) -> tuple[str, bytes]:
    """(content type, body) of GET <url>/_hvsim<path>?params."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return send(url, "GET", path + (f"?{query}" if query else ""), headers, timeout=timeout)


def send(url: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None,
         content_type: str | None = None, timeout: float = 300.0) -> tuple[str, bytes]:
    """(content type, body) of `method` <url>/_hvsim<path>; a refusal as ControlError, with
    what the server said was wrong and where."""
    target = f"{url.rstrip('/')}{CONTROL_PATH}{path}"
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}
    request = urllib.request.Request(target, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.headers.get("content-type", ""), reply.read()
    except urllib.error.HTTPError as error:
        raise ControlError(f"{target}: HTTP {error.code}: "
                           f"{_refusal(error.read().decode('utf-8', 'replace'))}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ControlError(f"{target}: {getattr(error, 'reason', error)}") from None


def call(url: str, method: str, path: str, headers: dict[str, str],
         payload: Any = None, timeout: float = 60.0) -> Any:
    """The JSON answer of <method> <url>/_hvsim<path>, with a JSON body if `payload` is given."""
    target = f"{url.rstrip('/')}{CONTROL_PATH}{path}"
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(target, data=data, method=method, headers={
        **headers, **({"Content-Type": "application/json"} if data is not None else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = _refusal(error.read().decode("utf-8", "replace"))
        raise ControlError(f"{target}: HTTP {error.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ControlError(f"{target}: {getattr(error, 'reason', error)}") from None


def _refusal(text: str) -> str:
    """A refusal's JSON (`{"detail": ..., "where": ...}`) as one line."""
    try:
        answer = json.loads(text)
    except ValueError:
        return text
    if not isinstance(answer, dict):
        return text
    detail = answer.get("detail", text)
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    return f"{answer['where']}: {detail}" if answer.get("where") else detail


def fetch_records(url: str, headers: dict[str, str], *, client: str | None = None,
                  since: float | str | None = None, limit: int = 10_000) -> list[RequestRecord]:
    _, body = get(url, "/requests", {"client": client, "since": since, "limit": limit},
                  headers)
    return [from_json(item) for item in json.loads(body)["records"]]


def follow_records(url: str, headers: dict[str, str], *, client: str | None = None,
                   poll_seconds: float = 1.0,
                   stop: Callable[[], bool] = lambda: False) -> Iterator[RequestRecord]:
    """Records logged from now on, polled from the control API."""
    since = time.time()
    seen: set[str] = set()
    while not stop():
        records = fetch_records(url, headers, client=client, since=since)
        fresh = [r for r in records if r.id not in seen]
        yield from fresh
        if records:
            since = records[-1].time
            seen = {r.id for r in records if r.time >= since}
        time.sleep(poll_seconds)
