"""Msvm_VirtualSystemMigrationService's fifteen methods (reference §2.3-§2.13): one table, whose
handlers live by responsibility in moves.py, compatibility.py and host_settings.py.

Two return-code families (§0.3): methods Msvm_ declares answer with Hyper-V codes (32773
invalid parameter, 32775 invalid state, ...); the three it inherits from
CIM_VirtualSystemMigrationService answer with DMTF codes (4, 5, ...).
"""

from __future__ import annotations

from providers.base import CLUSTER, V2
from providers.method_table import HostServiceMethods
from providers.migration import compatibility
from providers.migration.host_settings import HostSettings
from providers.migration.job_timeline import JobTimeline
from providers.migration.moves import MigrationMoves, log
from providers.services import MIGRATION_SERVICE


class MigrationServiceMethods(HostServiceMethods):
    classnames = (MIGRATION_SERVICE,)
    namespaces = (V2, CLUSTER)
    log = log

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline
        moves, settings = MigrationMoves(timeline), HostSettings(timeline)
        super().__init__({
            "migratevirtualsystemtohost": moves.migrate_to_host,
            "migratevirtualsystemtosystem": moves.migrate_to_system,
            "checkvirtualsystemismigratable": moves.check_migratable,
            "checkvirtualsystemismigratabletohost": moves.check_to_host,
            "checkvirtualsystemismigratabletosystem": moves.check_to_system,
            "getsystemcompatibilityinfo": compatibility.get_compatibility_info,
            "checksystemcompatibilityinfo": compatibility.check_compatibility_info,
            "getsystemcompatibilityvectors": compatibility.get_compatibility_vectors,
            "addnetworksettings": settings.add_networks,
            "modifynetworksettings": settings.modify_networks,
            "removenetworksettings": settings.remove_networks,
            "modifyservicesettings": settings.modify_service_settings,
            "requeststatechange": settings.request_state_change,
            "startservice": settings.start_service,
            "stopservice": settings.stop_service,
        })
