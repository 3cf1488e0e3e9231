"""root/cimv2: the host's own identity as Windows shows it to tools that connect before they
touch Hyper-V (Win32_ComputerSystem, Win32_ComputerSystemProduct, Win32_OperatingSystem,
Win32_Processor with Win32_ComputerSystemProcessor, and CIM_DataFile for vmms.exe).

Every value follows the host row its Msvm_ComputerSystem is built from (name, FQDN, persona,
processors, memory); values hvsim does not model are NULL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from providers import world
from providers.base import (
    CIMV2,
    AssociationProvider,
    InstanceProvider,
    ProviderContext,
    Record,
    Scope,
    key_value,
    ref,
)
from providers.vm_states import MEMORY_HOLDING_STATES, WORKER_STATES
from providers.world import HostRow

COMPUTER_SYSTEM = "Win32_ComputerSystem"
PRODUCT = "Win32_ComputerSystemProduct"
OPERATING_SYSTEM = "Win32_OperatingSystem"
PROCESSOR = "Win32_Processor"
SYSTEM_PROCESSOR = "Win32_ComputerSystemProcessor"
DATA_FILE = "CIM_DataFile"

# hvsim emulates the host, not a server model: the hardware identity says so plainly.
MANUFACTURER = "hvsim"
MODEL = "Emulated Hyper-V Host"
PRODUCT_VERSION = "1.0"
VMMS_PATH = "c:\\windows\\system32\\vmms.exe"
# Memory the root partition keeps for itself, never offered to VMs (MB).
ROOT_RESERVE_MB = 2048
# Processes of an idle Windows Server host with Hyper-V, plus one worker per VM that is on.
BASE_PROCESSES = 64
LOCAL_TIME_BUCKET_SECONDS = 1
# Win32_ComputerSystemProduct.UUID is the SMBIOS system UUID; derived like the VMs' BIOS GUIDs
# so that it is stable per host and per world, and unique.
_SYSTEM_UUID_NAMESPACE = uuid.UUID("1f0f3a57-7f55-4c39-9d0b-4a6f2d1c8e21")
# Processor identity per vendor: (caption family text, WMI Family, ProcessorId prefix).
_VENDOR_IDENTITY = {
    "GenuineIntel": ("Intel64 Family 6 Model 85 Stepping 7", 179, "BFEBFBFF00050657"),
    "AuthenticAMD": ("AMD64 Family 23 Model 49 Stepping 0", 107, "178BFBFF00830F10"),
}
_CLOCK_RE = re.compile(r"@\s*([0-9.]+)\s*GHz", re.IGNORECASE)
DEFAULT_CLOCK_MHZ = 2000


def system_uuid(host_name: str, seed: int) -> str:
    """Upper case without braces, as Win32_ComputerSystemProduct shows it."""
    return str(uuid.uuid5(_SYSTEM_UUID_NAMESPACE, f"{seed}:{host_name.upper()}")).upper()


def serial_number(host_name: str, seed: int) -> str:
    return "HVSIM-" + system_uuid(host_name, seed).replace("-", "")[:10]


def computer_system_keys(host: HostRow) -> dict[str, Any]:
    return {"Name": host.name}


def computer_system_path(host: HostRow) -> Any:
    return ref(COMPUTER_SYSTEM, **computer_system_keys(host))


def sockets(host: HostRow) -> int:
    """One socket per NUMA node, the usual layout of a two-socket Hyper-V server."""
    return max(1, int(host.numa_nodes))


def logical_per_socket(host: HostRow) -> int:
    return max(1, int(host.logical_processors) // sockets(host))


def cores_per_socket(host: HostRow) -> int:
    """Hyper-threading on: two logical processors per core when the count allows it."""
    logical = logical_per_socket(host)
    return logical // 2 if logical % 2 == 0 else logical


def clock_mhz(host: HostRow) -> int:
    found = _CLOCK_RE.search(host.processor_model or "")
    return round(float(found.group(1)) * 1000) if found else DEFAULT_CLOCK_MHZ


def os_caption(host: HostRow) -> str:
    return f"Microsoft {host.os_name} Datacenter"


def build_number(host: HostRow) -> str:
    return str(host.os_build).rsplit(".", 1)[-1]


def dns_host_name(host: HostRow) -> str:
    return str(host.fqdn).split(".", 1)[0]


def _own_host(ctx: ProviderContext, scope: Scope) -> HostRow | None:
    hosts = world.scope_hosts(ctx, scope)
    return hosts[0] if hosts else None


def computer_system_record(ctx: ProviderContext, host: HostRow) -> Record:
    keys = computer_system_keys(host)
    domain = world.cluster(ctx).domain

    def values() -> dict[str, Any]:
        return {
            **keys,
            "Caption": host.name, "Description": "AT/AT COMPATIBLE", "Status": "OK",
            "CreationClassName": COMPUTER_SYSTEM, "NameFormat": None, "InstallDate": None,
            "PrimaryOwnerName": "Windows User", "PrimaryOwnerContact": None,
            "Roles": ["LM_Workstation", "LM_Server", "NT", "Server_NT"],
            "InitialLoadInfo": None, "LastLoadInfo": None,
            "PowerManagementCapabilities": None, "PowerManagementSupported": None,
            "PowerState": 0, "ResetCapability": 1,
            "AdminPasswordStatus": 3, "AutomaticManagedPagefile": False,
            "AutomaticResetBootOption": True, "AutomaticResetCapability": True,
            "BootOptionOnLimit": None, "BootOptionOnWatchDog": None, "BootROMSupported": True,
            "BootStatus": [0] * 10, "BootupState": "Normal boot", "ChassisBootupState": 3,
            "ChassisSKUNumber": None, "CurrentTimeZone": 0, "DaylightInEffect": False,
            "DNSHostName": dns_host_name(host), "Domain": domain, "DomainRole": 3,
            "EnableDaylightSavingsTime": True, "FrontPanelResetStatus": 3,
            "HypervisorPresent": True, "InfraredSupported": False,
            "KeyboardPasswordStatus": 3, "Manufacturer": MANUFACTURER, "Model": MODEL,
            "NetworkServerModeEnabled": True,
            "NumberOfLogicalProcessors": int(host.logical_processors),
            "NumberOfProcessors": sockets(host),
            "OEMLogoBitmap": None, "OEMStringArray": None, "PartOfDomain": True,
            "PauseAfterReset": -1, "PCSystemType": 4, "PCSystemTypeEx": 4,
            "PowerOnPasswordStatus": 3, "PowerSupplyState": 3, "ResetCount": -1,
            "ResetLimit": -1, "SupportContactDescription": None, "SystemFamily": None,
            "SystemSKUNumber": None, "SystemStartupDelay": None, "SystemStartupOptions": None,
            "SystemStartupSetting": None, "SystemType": "x64-based PC", "ThermalState": 3,
            "TotalPhysicalMemory": int(host.memory_mb) * 1024 * 1024,
            "UserName": None, "WakeUpType": 6, "Workgroup": None,
        }
    return Record(COMPUTER_SYSTEM, keys, f"w32cs{host.id}.{host.version_id}", values)


def product_record(ctx: ProviderContext, host: HostRow) -> Record:
    seed = int(world.cluster(ctx).seed)
    keys = {"IdentifyingNumber": serial_number(host.name, seed), "Name": MODEL,
            "Version": PRODUCT_VERSION}

    def values() -> dict[str, Any]:
        return {**keys, "Caption": "Computer System Product",
                "Description": "Computer System Product", "SKUNumber": None,
                "Vendor": MANUFACTURER, "UUID": system_uuid(host.name, seed)}
    return Record(PRODUCT, keys, f"w32prod{host.id}", values)


def operating_system_record(ctx: ProviderContext, scope: Scope, host: HostRow) -> Record:
    now = ctx.now()
    bucket = int(now.timestamp()) // LOCAL_TIME_BUCKET_SECONDS
    total_kb = int(host.memory_mb) * 1024
    vms = world.vms_in_scope(ctx, scope, planned=False)
    held_mb = sum(int(vm.memory_mb) for vm in vms if vm.enabled_state in MEMORY_HOLDING_STATES)
    free_kb = max(0, total_kb - (ROOT_RESERVE_MB + held_mb) * 1024)
    workers = sum(1 for vm in vms if vm.enabled_state in WORKER_STATES)
    local_time = datetime.fromtimestamp(bucket * LOCAL_TIME_BUCKET_SECONDS, now.tzinfo)
    caption = os_caption(host)
    seed = int(world.cluster(ctx).seed)
    product_id = int(system_uuid(host.name, seed)[:8], 16)

    def values() -> dict[str, Any]:
        return {
            "Caption": caption, "Description": "", "InstallDate": host.installed_at,
            "Name": f"{caption}|C:\\Windows|\\Device\\Harddisk0\\Partition2",
            "Status": "OK", "CreationClassName": OPERATING_SYSTEM,
            "CSCreationClassName": COMPUTER_SYSTEM, "CSName": host.name, "CurrentTimeZone": 0,
            "Distributed": False, "FreePhysicalMemory": free_kb,
            # No paging file: virtual memory is physical memory.
            "FreeSpaceInPagingFiles": 0, "FreeVirtualMemory": free_kb,
            # The host came up when its world was made; hvsim does not reboot hosts.
            "LastBootUpTime": host.installed_at, "LocalDateTime": local_time,
            "MaxNumberOfProcesses": 4294967295, "MaxProcessMemorySize": 137438953344,
            "NumberOfLicensedUsers": None, "NumberOfProcesses": BASE_PROCESSES + workers,
            "NumberOfUsers": None, "OSType": 18, "OtherTypeDescription": None,
            "SizeStoredInPagingFiles": 0, "TotalSwapSpaceSize": None,
            "TotalVirtualMemorySize": total_kb, "TotalVisibleMemorySize": total_kb,
            "Version": str(host.os_build),
            "BootDevice": "\\Device\\HarddiskVolume1", "BuildNumber": build_number(host),
            "BuildType": "Multiprocessor Free", "CodeSet": "1252", "CountryCode": "1",
            "CSDVersion": None, "DataExecutionPrevention_32BitApplications": True,
            "DataExecutionPrevention_Available": True, "DataExecutionPrevention_Drivers": True,
            "DataExecutionPrevention_SupportPolicy": 3, "Debug": False, "EncryptionLevel": 256,
            "ForegroundApplicationBoost": 2, "LargeSystemCache": None, "Locale": "0409",
            "Manufacturer": "Microsoft Corporation", "MUILanguages": ["en-US"],
            "OperatingSystemSKU": 8, "Organization": "", "OSArchitecture": "64-bit",
            "OSLanguage": 1033, "OSProductSuite": 400, "PAEEnabled": None,
            "PlusProductID": None, "PlusVersionNumber": None, "PortableOperatingSystem": False,
            "Primary": True, "ProductType": 3, "RegisteredUser": "Windows User",
            "SerialNumber": f"00430-{product_id % 100000:05d}-{product_id // 100000 % 100000:05d}"
                            "-AA000",
            "ServicePackMajorVersion": 0, "ServicePackMinorVersion": 0, "SuiteMask": 400,
            "SystemDevice": "\\Device\\HarddiskVolume2", "SystemDirectory":
            "C:\\Windows\\system32", "SystemDrive": "C:", "WindowsDirectory": "C:\\Windows",
        }
    etag = f"w32os{host.id}.{host.version_id}.{free_kb}.{workers}.{bucket}"
    return Record(OPERATING_SYSTEM, {}, etag, values,
                  float((bucket + 1) * LOCAL_TIME_BUCKET_SECONDS))


def processor_keys(index: int) -> dict[str, Any]:
    return {"DeviceID": f"CPU{index}"}


def processor_record(host: HostRow, index: int) -> Record:
    keys = processor_keys(index)
    caption, family, processor_id = _VENDOR_IDENTITY.get(
        host.processor_vendor, _VENDOR_IDENTITY["GenuineIntel"])
    logical, cores, mhz = logical_per_socket(host), cores_per_socket(host), clock_mhz(host)

    def values() -> dict[str, Any]:
        return {
            **keys,
            "Caption": caption, "Description": caption, "InstallDate": None,
            "Name": host.processor_model, "Status": "OK", "Availability": 3,
            "ConfigManagerErrorCode": None, "ConfigManagerUserConfig": None,
            "CreationClassName": PROCESSOR, "ErrorCleared": None, "ErrorDescription": None,
            "LastErrorCode": None, "PNPDeviceID": None, "PowerManagementCapabilities": None,
            "PowerManagementSupported": False, "StatusInfo": 3,
            "SystemCreationClassName": COMPUTER_SYSTEM, "SystemName": host.name,
            "AddressWidth": 64, "CurrentClockSpeed": mhz, "DataWidth": 64, "Family": family,
            "LoadPercentage": None, "MaxClockSpeed": mhz, "OtherFamilyDescription": None,
            "Role": "CPU", "Stepping": None, "UniqueId": None, "UpgradeMethod": 1,
            "Architecture": 9, "AssetTag": None, "Characteristics": 252, "CpuStatus": 1,
            "CurrentVoltage": None, "ExtClock": 100, "L2CacheSize": None, "L2CacheSpeed": None,
            "L3CacheSize": None, "L3CacheSpeed": 0, "Level": 6,
            "Manufacturer": host.processor_vendor, "NumberOfCores": cores,
            "NumberOfEnabledCore": cores, "NumberOfLogicalProcessors": logical,
            "PartNumber": None, "ProcessorId": processor_id, "ProcessorType": 3,
            "Revision": None, "SecondLevelAddressTranslationExtensions": False,
            "SerialNumber": None, "SocketDesignation": f"CPU{index + 1}",
            "ThreadCount": logical, "Version": None,
            # With the hypervisor running, Windows reports these as off (it owns VT-x/AMD-V).
            "VirtualizationFirmwareEnabled": False, "VMMonitorModeExtensions": False,
            "VoltageCaps": None,
        }
    return Record(PROCESSOR, keys, f"w32cpu{host.id}.{host.version_id}", values)


def system_processor_record(host: HostRow, index: int) -> Record:
    keys = {"GroupComponent": computer_system_path(host),
            "PartComponent": ref(PROCESSOR, **processor_keys(index))}
    return Record(SYSTEM_PROCESSOR, keys, f"w32csp{host.id}", lambda: dict(keys))


def data_file_record(host: HostRow) -> Record:
    keys = {"Name": VMMS_PATH}

    def values() -> dict[str, Any]:
        return {
            **keys,
            "Caption": VMMS_PATH, "Description": VMMS_PATH, "InstallDate": host.installed_at,
            "Status": "OK", "AccessMask": None, "Archive": True, "Compressed": False,
            "CompressionMethod": None, "CreationClassName": "CIM_LogicalFile",
            "CreationDate": host.installed_at, "CSCreationClassName": COMPUTER_SYSTEM,
            "CSName": host.name, "Drive": "c:", "EightDotThreeFileName": VMMS_PATH,
            "Encrypted": False, "EncryptionMethod": None, "Extension": "exe",
            "FileName": "vmms", "FileSize": None, "FileType": "Application",
            "FSCreationClassName": "Win32_FileSystem", "FSName": "NTFS", "Hidden": False,
            "InUseCount": None, "LastAccessed": host.installed_at,
            "LastModified": host.installed_at, "Path": "\\windows\\system32\\",
            "Readable": True, "System": False, "Writeable": True,
            "Manufacturer": "Microsoft Corporation",
            # The file version of the build's vmms.exe: major.minor.build.revision.
            "Version": f"{host.os_build}.1",
        }
    return Record(DATA_FILE, keys, f"vmms{host.id}.{host.version_id}", values)


class HostComputerSystemProvider(InstanceProvider):
    classnames = (COMPUTER_SYSTEM,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is not None:
            yield computer_system_record(ctx, host)


class HostProductProvider(InstanceProvider):
    classnames = (PRODUCT,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is not None:
            yield product_record(ctx, host)


class HostOperatingSystemProvider(InstanceProvider):
    classnames = (OPERATING_SYSTEM,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is not None:
            yield operating_system_record(ctx, scope, host)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        # A singleton: its one instance answers a path without keys ("=@").
        return None if keys else next(self.enumerate(ctx, scope, classname), None)


class HostProcessorProvider(InstanceProvider):
    classnames = (PROCESSOR,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is not None:
            for index in range(sockets(host)):
                yield processor_record(host, index)


class HostProcessorAssociationProvider(AssociationProvider):
    classnames = (SYSTEM_PROCESSOR,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is not None:
            for index in range(sockets(host)):
                yield system_processor_record(host, index)


class HostDataFileProvider(InstanceProvider):
    classnames = (DATA_FILE,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is not None:
            yield data_file_record(host)

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        # File names compare without regard to case, as NTFS and WMI compare them.
        name = str(key_value(keys, "Name") or "")
        host = _own_host(ctx, scope)
        if host is None or name.lower() != VMMS_PATH:
            return None
        return data_file_record(host)
