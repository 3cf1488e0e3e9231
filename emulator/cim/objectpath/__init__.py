"""WMI / CIM object paths in the textual forms Hyper-V clients send.

Clients spell the same instance in many ways (reference §0.4, §15.4):

* WMI full form: ``\\\\HOST\\root\\virtualization\\v2:Class.Key="v",Key2="w"``
* PyMI moniker form: ``//HOST/root/virtualization/v2:Class.Key="v"``
* namespace only: ``root/virtualization/v2:Class.Key="v"``; relative: ``Class.Key="v"``
* wbemcli: ``host:port/root/virtualization/v2:Class.k="v"``
* WBEM URI: ``http://host:port/root/virtualization/v2:Class.k="v"``
* singleton: ``Class=@``; class path: ``Class`` (any prefix allowed)

Everything here turns into pywbem ``CIMInstanceName`` / ``CIMClassName`` objects so the rest
of the emulator only ever deals with one representation.

The package splits that work into ``parser``, ``formatter`` and ``identity`` over the shared
``syntax``; import from the package, not the modules.
"""

from __future__ import annotations

from emulator.cim.objectpath.formatter import format_wmi_path
from emulator.cim.objectpath.identity import canonical_path_key, paths_equal
from emulator.cim.objectpath.parser import parse_object_path
from emulator.cim.objectpath.syntax import KeyValue, ObjectPathError, unescape_pair

__all__ = [
    "KeyValue",
    "ObjectPathError",
    "canonical_path_key",
    "format_wmi_path",
    "parse_object_path",
    "paths_equal",
    "unescape_pair",
]
