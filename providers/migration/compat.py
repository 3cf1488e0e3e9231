"""Processor compatibility: vectors (§7) and the opaque blob of Get/CheckSystemCompatibilityInfo
(§2.8).

The blob is private to hvsim: a magic, a format version, a JSON body and an HMAC over both,
keyed by the cluster, so any host of the cluster can verify it and garbage or tampering is
told apart from an honest incompatibility.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

MAGIC = b"HVSC"
FORMAT_VERSION = 1
_MAC_BYTES = 32
# VectorIds (1-3 as Microsoft's sample uses them; 4 carries the vendor so that Intel and AMD
# never compare equal even when their masked feature sets do).
PROCESSOR_FEATURES, PROCESSOR_XSAVE, CACHE_LINE_FLUSH_SIZE, PROCESSOR_VENDOR = 1, 2, 3, 4
# CompareOperation (§7)
EQUAL, SUPERSET, SUBSET, DISJOINT = 0, 1, 2, 3
GREATER, GREATER_OR_EQUAL, LESS, LESS_OR_EQUAL, MULTIPLE, DIVISIBLE = 4, 5, 6, 7, 8, 9
VENDOR_CODES = {"GenuineIntel": 1, "AuthenticAMD": 2}


class BadBlob(ValueError):
    """Not a compatibility blob of this cluster (garbage, truncated or altered)."""


@dataclass(frozen=True)
class Vector:
    vector_id: int
    operation: int
    value: int


def processor_vectors(vendor: str, features: int, xsave: int, cache_line: int) -> list[Vector]:
    return [
        Vector(PROCESSOR_FEATURES, SUBSET, features),
        Vector(PROCESSOR_XSAVE, SUBSET, xsave),
        Vector(CACHE_LINE_FLUSH_SIZE, EQUAL, cache_line),
        Vector(PROCESSOR_VENDOR, EQUAL, VENDOR_CODES.get(vendor, 0)),
    ]


def compatible(operation: int, vm: int, host: int) -> bool:
    """Whether a VM vector fits the host vector of the same VectorId (§7's table)."""
    rules = {
        EQUAL: lambda: vm == host,
        SUPERSET: lambda: (vm & host) == host,
        SUBSET: lambda: (vm & host) == vm,
        DISJOINT: lambda: (vm & host) == 0,
        GREATER: lambda: vm > host,
        GREATER_OR_EQUAL: lambda: vm >= host,
        LESS: lambda: vm < host,
        LESS_OR_EQUAL: lambda: vm <= host,
        MULTIPLE: lambda: host != 0 and vm % host == 0,
        DIVISIBLE: lambda: vm != 0 and host % vm == 0,
    }
    rule = rules.get(operation)
    return bool(rule and rule())


def mismatched(vm_vectors: list[Vector], host_vectors: list[Vector]) -> list[Vector]:
    """VM vectors the host cannot satisfy; a VM vector without a host vector fails."""
    by_id = {v.vector_id: v for v in host_vectors}
    return [v for v in vm_vectors
            if v.vector_id not in by_id or not compatible(v.operation, v.value,
                                                          by_id[v.vector_id].value)]


def encode_blob(body: dict[str, Any], key: bytes) -> bytes:
    payload = MAGIC + bytes([FORMAT_VERSION]) + json.dumps(
        body, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return payload + hmac.new(key, payload, hashlib.sha256).digest()


def decode_blob(blob: bytes, key: bytes) -> dict[str, Any]:
    if len(blob) < len(MAGIC) + 1 + _MAC_BYTES or not blob.startswith(MAGIC):
        raise BadBlob("not a compatibility information blob")
    payload, mac = blob[:-_MAC_BYTES], blob[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        raise BadBlob("the compatibility information is damaged or comes from another cluster")
    if payload[len(MAGIC)] != FORMAT_VERSION:
        raise BadBlob(f"compatibility information format {payload[len(MAGIC)]} is not "
                      f"supported (expected {FORMAT_VERSION})")
    try:
        body = json.loads(payload[len(MAGIC) + 1:].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadBlob("the compatibility information body is not readable") from None
    if not isinstance(body, dict):
        raise BadBlob("the compatibility information body is not an object")
    return body


def cluster_key(cluster_name: str, seed: int) -> bytes:
    return hashlib.sha256(f"hvsim-compat/{cluster_name.lower()}/{seed}".encode()).digest()
