"""The reply cache serves a reply only for the world version and time it is valid for."""

from __future__ import annotations

import time

from emulator.cimxml.app import ReplyCache


def test_reply_is_reused_for_the_same_version() -> None:
    cache = ReplyCache()
    cache.put("k", 7, time.time() + 60, b"reply")
    assert cache.get("k", 7) == b"reply"


def test_another_version_invalidates() -> None:
    cache = ReplyCache()
    cache.put("k", 7, time.time() + 60, b"reply")
    assert cache.get("k", 8) is None
    assert cache.get("k", 7) is None  # dropped, not kept for a version that may come back


def test_expired_reply_is_not_served() -> None:
    cache = ReplyCache()
    cache.put("k", 7, time.time() - 0.001, b"reply")
    assert cache.get("k", 7) is None


def test_capacity_evicts_least_recently_used() -> None:
    cache = ReplyCache(capacity_bytes=40)
    for key in "abcd":
        cache.put(key, 1, time.time() + 60, b"x" * 10)
    cache.get("a", 1)
    cache.put("e", 1, time.time() + 60, b"x" * 10)
    assert cache.get("b", 1) is None and cache.get("a", 1) == b"x" * 10


def test_oversized_replies_are_not_cached() -> None:
    cache = ReplyCache(capacity_bytes=40)
    cache.put("big", 1, time.time() + 60, b"x" * 11)
    assert cache.get("big", 1) is None
