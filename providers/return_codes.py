"""The return values of Hyper-V's extrinsic methods, one enum per numbering scheme.

Which scheme a method answers with depends on the class that declares it (reference §0.3):
methods Msvm_ declares use Hyper-V's codes, the ones inherited from CIM_ the DMTF codes, and
RequestStateChange and KillJob on jobs their own DMTF lists. The same number means different
things in different schemes (4 is "Invalid Parameter" for a migration method, "Failed" for
RequestStateChange), hence one enum each rather than one table. Members are ints, so they go on
the wire exactly as the numbers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ReturnCode(IntEnum):
    """Hyper-V's codes: the methods Msvm_ classes declare (§0.3 Family B)."""

    COMPLETED = 0
    JOB_STARTED = 4096
    FAILED = 32768
    ACCESS_DENIED = 32769
    NOT_SUPPORTED = 32770
    STATUS_UNKNOWN = 32771
    TIMEOUT = 32772
    INVALID_PARAMETER = 32773
    SYSTEM_IN_USE = 32774
    INVALID_STATE = 32775
    INCORRECT_DATA_TYPE = 32776
    SYSTEM_NOT_AVAILABLE = 32777
    OUT_OF_MEMORY = 32778
    FILE_IN_USE = 32779
    NOT_COMPATIBLE = 32784  # CheckSystemCompatibilityInfo only


class DmtfReturnCode(IntEnum):
    """DMTF codes of the service methods inherited from CIM_ classes (§0.3 Family A)."""

    COMPLETED = 0
    NOT_SUPPORTED = 1
    FAILED = 2
    TIMEOUT = 3
    INVALID_PARAMETER = 4
    INVALID_STATE = 5
    INCOMPATIBLE_PARAMETERS = 6
    JOB_STARTED = 4096


class StateChangeCode(IntEnum):
    """DMTF codes of RequestStateChange on jobs; KillJob's list agrees on 0 to 4 (§8.5)."""

    COMPLETED = 0
    NOT_SUPPORTED = 1
    UNKNOWN = 2
    TIMEOUT = 3
    FAILED = 4
    INVALID_PARAMETER = 5
    IN_USE = 6
    TRANSITION_STARTED = 4096
    INVALID_STATE_TRANSITION = 4097
    TIMEOUT_PARAMETER_NOT_SUPPORTED = 4098
    BUSY = 4099


@dataclass(frozen=True, slots=True)
class Family:
    """The codes one method answers with for the failures every method can meet."""

    invalid_parameter: int
    invalid_state: int
    in_use: int
    failed: int
    not_supported: int


HYPER_V = Family(ReturnCode.INVALID_PARAMETER, ReturnCode.INVALID_STATE,
                 ReturnCode.SYSTEM_IN_USE, ReturnCode.FAILED, ReturnCode.NOT_SUPPORTED)
# The DMTF list has no "in use" for these methods; a busy system is an invalid state there.
DMTF = Family(DmtfReturnCode.INVALID_PARAMETER, DmtfReturnCode.INVALID_STATE,
              DmtfReturnCode.INVALID_STATE, DmtfReturnCode.FAILED, DmtfReturnCode.NOT_SUPPORTED)
