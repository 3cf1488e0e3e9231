"""The migration service's compatibility methods: GetSystemCompatibilityInfo,
CheckSystemCompatibilityInfo and GetSystemCompatibilityVectors (reference §2.8-§2.10)."""

from __future__ import annotations

from typing import Any

from pywbem import CIMInstanceName, Uint8

from providers import world
from providers.base import Embedded, MethodCall, MethodResult, ProviderContext, Refused, key_value
from providers.migration import checks, compat
from providers.migration.errors import MigrationError, error_instance
from providers.return_codes import ReturnCode
from storage.models import Host, VirtualMachine

VECTOR_CLASS = "Msvm_CompatibilityVector"


def _system(ctx: ProviderContext, call: MethodCall, host: Host) -> Host | VirtualMachine:
    path = call.param("ComputerSystem")
    if not isinstance(path, CIMInstanceName) or \
            path.classname.lower() != "msvm_computersystem":
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      "ComputerSystem must reference an Msvm_ComputerSystem")
    name = str(key_value(path.keybindings, "Name") or "")
    if name.lower() == host.name.lower():
        return host
    vm = ctx.uow.vms.on_host(host.id, name, planned=False)
    if vm is None:
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"{name!r} is neither {host.name} nor one of its virtual machines")
    return vm

def get_compatibility_info(ctx: ProviderContext, call: MethodCall, host: Host
                            ) -> MethodResult:
    system = _system(ctx, call, host)
    if isinstance(system, Host):
        body: dict[str, Any] = {"kind": "host", "host": host.name,
                                "vectors": _vector_list(checks.host_vectors(host)),
                                "versions": list(host.supported_versions)}
    else:
        body = {"kind": "vm", "host": host.name, "name": system.element_name,
                "guid": system.guid, "state": system.enabled_state,
                "version": system.config_version,
                "vectors": _vector_list(checks.vm_vectors(system))}
    blob = compat.encode_blob(body, _cluster_key(ctx))
    return MethodResult(ReturnCode.COMPLETED, {"CompatibilityInfo": [Uint8(b) for b in blob]})

def check_compatibility_info(ctx: ProviderContext, call: MethodCall, host: Host
                              ) -> MethodResult:
    raw = call.param("CompatibilityInfo")
    if not raw:
        raise Refused(ReturnCode.INVALID_PARAMETER, "CompatibilityInfo is required")
    try:
        body = compat.decode_blob(bytes(int(b) for b in raw), _cluster_key(ctx))
        vectors = [compat.Vector(int(v[0]), int(v[1]), int(v[2])) for v in body["vectors"]]
        kind = body["kind"]
    except (compat.BadBlob, KeyError, TypeError, ValueError, IndexError) as error:
        raise Refused(ReturnCode.INVALID_PARAMETER,
                      f"CompatibilityInfo is not valid: {error}") \
            from None
    reasons: list[MigrationError] = []
    if kind == "vm":
        if body.get("version") not in host.supported_versions:
            reasons.append(MigrationError(
                MessageID="21024",
                Message=f"The virtual machine '{body.get('name')}' uses configuration "
                        f"version {body.get('version')}, which '{host.name}' does not "
                        "support.", ErrorType=4, ProbableCause=58,
                ProbableCauseDescription="Version Mismatch"))
        if body.get("state") in (2, 6, 9):
            reasons += _vector_reasons(vectors, host, str(body.get("name")))
    else:
        reasons += _vector_reasons(vectors, host, f"host {body.get('host')}")
    if not reasons:
        return MethodResult(ReturnCode.COMPLETED, {"Reasons": None})
    return MethodResult(ReturnCode.NOT_COMPATIBLE, {"Reasons": [error_instance(r.as_dict())
                                                     for r in reasons]})

def get_compatibility_vectors(ctx: ProviderContext, call: MethodCall, host: Host
                               ) -> MethodResult:
    system = _system(ctx, call, host)
    vectors = checks.host_vectors(system) if isinstance(system, Host) \
        else checks.vm_vectors(system)
    return MethodResult(ReturnCode.COMPLETED,
                        {"CompatibilityVectors": [vector_instance(v) for v in vectors]})


def _vector_list(vectors: list[compat.Vector]) -> list[list[int]]:
    return [[v.vector_id, v.operation, v.value] for v in vectors]


def _vector_reasons(vectors: list[compat.Vector], host: Host, subject: str
                    ) -> list[MigrationError]:
    bad = compat.mismatched(vectors, checks.host_vectors(host))
    return [MigrationError(
        MessageID="21024",
        Message=f"{subject} is using processor-specific features not supported on physical "
                f"computer '{host.name}' (vector {v.vector_id}).",
        ErrorType=5, ProbableCause=38,
        ProbableCauseDescription="Processor Problem (Internal Machine Error)") for v in bad]


def _cluster_key(ctx: ProviderContext) -> bytes:
    cluster = world.cluster(ctx)
    return compat.cluster_key(cluster.name, cluster.seed)


def vector_instance(vector: compat.Vector) -> Embedded:
    return Embedded(VECTOR_CLASS, {"VectorId": vector.vector_id,
                                   "CompareOperation": vector.operation,
                                   "CompatibilityInfo": vector.value})
