"""Msvm_ConcreteJob, Msvm_MigrationJob and Msvm_Error."""

from __future__ import annotations

import pytest

from tests.support.mof_schema import (
    CLUSTER,
    FAMILY_B_JOB,
    V2,
    Compiled,
    describe_params,
    get_class,
    keys_of,
    qval,
)


@pytest.mark.parametrize("name", ["Msvm_ConcreteJob", "Msvm_MigrationJob"])
def test_job_methods(compiled: Compiled, name: str) -> None:
    for ns in (V2, CLUSTER):
        cls = get_class(compiled, ns, name)
        assert {"GetError", "GetErrorEx", "RequestStateChange", "KillJob"} <= set(cls.methods)
        assert describe_params(cls.methods["GetError"]) == [
            ("Error", "string", "Msvm_Error", False, "out")
        ]
        assert describe_params(cls.methods["GetErrorEx"]) == [
            ("Errors", "string", "Msvm_Error", True, "out")
        ]
        assert describe_params(cls.methods["RequestStateChange"]) == [
            ("RequestedState", "uint16", None, False, "in"),
            ("TimeoutPeriod", "datetime", None, False, "in"),
        ]
        assert describe_params(cls.methods["KillJob"]) == [
            ("DeleteOnKill", "boolean", None, False, "in")
        ]
        assert qval(cls.methods["GetErrorEx"], "ValueMap") == FAMILY_B_JOB


def test_job_return_families(compiled: Compiled) -> None:
    mig = get_class(compiled, V2, "Msvm_MigrationJob").methods
    conc = get_class(compiled, V2, "Msvm_ConcreteJob").methods
    assert qval(mig["RequestStateChange"], "ValueMap") == FAMILY_B_JOB
    # Msvm_ConcreteJob.RequestStateChange keeps the Family A (RSC) codes of the v2 doc.
    assert "4097" in qval(conc["RequestStateChange"], "ValueMap")
    assert qval(mig["KillJob"], "ValueMap") == qval(conc["KillJob"], "ValueMap")
    assert "7" in qval(mig["KillJob"], "ValueMap")


def test_job_properties(compiled: Compiled) -> None:
    mig = get_class(compiled, V2, "Msvm_MigrationJob").properties
    conc = get_class(compiled, V2, "Msvm_ConcreteJob").properties
    for name in (
        "MigrationType",
        "VirtualSystemName",
        "DestinationHost",
        "NewSystemSettingData",
        "NewResourceSettingData",
    ):
        assert name in mig and name not in conc, name
    assert mig["NewResourceSettingData"].is_array
    for props in (mig, conc):
        for name in (
            "Cancellable",
            "ErrorSummaryDescription",
            "JobType",
            "JobState",
            "ErrorCode",
            "ErrorDescription",
            "PercentComplete",
            "Name",
        ):
            assert name in props, name
        for name in (
            "DeleteOnCompletion",
            "TimeBeforeRemoval",
            "Priority",
            "JobRunTimes",
            "RunMonth",
            "RunDay",
            "RunDayOfWeek",
            "RunStartInterval",
            "LocalOrUtcTime",
            "UntilTime",
            "Notify",
            "ScheduledStartTime",
        ):
            assert qval(props[name], "Write") is True, name
        for name in ("JobState", "ErrorCode", "PercentComplete", "StartTime", "Cancellable"):
            assert not qval(props[name], "Write", False), name
        assert str(props["TimeBeforeRemoval"].value) == "00000000000500.000000:000"
        assert qval(props["Name"], "Required") is True
        assert props["PercentComplete"].type == "uint16"
        assert props["RunDay"].type == "sint8"


def test_error_class(compiled: Compiled) -> None:
    for ns in (V2, CLUSTER):
        cls = get_class(compiled, ns, "Msvm_Error")
        assert keys_of(cls) == set()
        assert qval(cls.properties["MessageID"], "Required") is True
        assert cls.properties["MessageArguments"].is_array
        assert cls.properties["CIMStatusCode"].type == "uint32"
        assert cls.properties["ErrorSource"].type == "string"
