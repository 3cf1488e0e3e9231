"""Caches are bounded in bytes, keys included, and serve a reply only for the world version
and time it is valid for."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.caching.cache_budget import SHARES, CacheBudget
from emulator.caching.versioned_cache import ENTRY_OVERHEAD, BoundedLRU, payload_size
from emulator.cimxml.app import ReplyCache, RequestCache, request_key

ENTRY = ENTRY_OVERHEAD + payload_size("k") + 10  # a one-letter key and a 10-byte value


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
    cache = ReplyCache(capacity_bytes=4 * ENTRY)
    for key in "abcd":
        cache.put(key, 1, time.time() + 60, b"x" * 10)
    cache.get("a", 1)
    cache.put("e", 1, time.time() + 60, b"x" * 10)
    assert cache.get("b", 1) is None and cache.get("a", 1) == b"x" * 10


def test_oversized_replies_are_not_cached() -> None:
    cache = ReplyCache(capacity_bytes=4 * ENTRY)
    cache.put("k", 1, time.time() + 60, b"x" * 11)
    assert cache.get("k", 1) is None


def test_keys_count_against_the_budget() -> None:
    cache: BoundedLRU[bytes] = BoundedLRU(100_000, largest_share=1)
    cache.put(b"k" * 60_000, b"")
    assert cache.used_bytes > 60_000
    cache.put(b"j" * 60_000, b"")
    assert len(cache) == 1 and cache.used_bytes <= 100_000


def test_a_stored_value_replaced_by_an_oversized_one_is_gone() -> None:
    cache: BoundedLRU[bytes] = BoundedLRU(10_000, largest_share=2)
    cache.put("k", b"small")
    cache.put("k", b"x" * 9_000)
    assert cache.get("k") is None and cache.used_bytes == 0


def test_resize_evicts_down_to_the_new_capacity() -> None:
    cache: BoundedLRU[bytes] = BoundedLRU(100 * ENTRY, largest_share=4)
    for index in range(50):
        cache.put(str(index), b"x" * 10)
    cache.resize(10 * ENTRY)
    assert cache.used_bytes <= 10 * ENTRY and cache.get("49") == b"x" * 10


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=3000), st.binary(max_size=3000)), max_size=60))
def test_used_bytes_never_exceed_capacity(puts: list[tuple[bytes, bytes]]) -> None:
    cache: BoundedLRU[bytes] = BoundedLRU(20_000, largest_share=3)
    for key, value in puts:
        cache.put(key, value)
        assert cache.used_bytes <= cache.capacity_bytes
    assert cache.used_bytes == sum(len(value) + payload_size(key) + ENTRY_OVERHEAD
                                   for key, (value, _cost, _used) in cache._entries.items())


def test_entries_unread_for_the_idle_time_leave() -> None:
    now = [0.0]
    cache: BoundedLRU[bytes] = BoundedLRU(1_000_000, largest_share=4, idle_seconds=120,
                                          clock=lambda: now[0])
    for index in range(5):
        cache.put(f"old{index}", b"x" * 100)
    now[0] = 100.0
    assert cache.get("old0") == b"x" * 100  # read: stays
    now[0] = 130.0
    cache.put("new", b"y")
    assert len(cache) == 2 and cache.get("old0") is not None and cache.get("old1") is None
    assert cache.used_bytes == sum(cost for _value, cost, _used in cache._entries.values())


def test_request_keys_do_not_hold_the_body() -> None:
    body = b"<CIM>" + b"x" * 10_000
    key = request_key(body, "MethodCall", "root/virtualization/v2")
    assert payload_size(key) < 300 and key != request_key(body + b" ", "MethodCall",
                                                            "root/virtualization/v2")


def get_class_body(message_id: int, padding: int) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0">'
            f'<MESSAGE ID="{message_id}" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
            '<IMETHODCALL NAME="GetClass"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/>'
            '<NAMESPACE NAME="interop"/></LOCALNAMESPACEPATH>'
            f'<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="CIM_{"x" * padding}"/>'
            "</IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>").encode()


def test_decoded_requests_stay_within_their_share() -> None:
    cache = RequestCache(capacity_bytes=2_000_000)
    for message_id in range(300):
        body = get_class_body(message_id, padding=message_id * 7)
        key = request_key(body, "GetClass", "root/interop")
        assert cache.decode(key, body, "GetClass", "root/interop").message_id == str(
            message_id)
        assert cache._lru.used_bytes <= 2_000_000
    body = get_class_body(299, padding=299 * 7)
    assert cache._lru.get(request_key(body, "GetClass", "root/interop")) is not None


def test_budget_shares_add_up_and_refuse_tiny_budgets() -> None:
    budget = CacheBudget.megabytes(100)
    assert sum(budget.share(name) for name in SHARES) <= budget.total_bytes
    with pytest.raises(ValueError, match="at least"):
        CacheBudget.megabytes(1)
