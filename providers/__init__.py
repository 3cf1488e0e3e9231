"""Providers: Hyper-V behaviour over the simulated world. They never see HTTP or XML."""

from providers.associations import (
    ClusterConformsToProfileProvider,
    ElementAllocatedFromPoolProvider,
    ElementCapabilitiesProvider,
    ElementSettingDataProvider,
    HostedDependencyProvider,
    HostedServiceProvider,
    MigrationSettingsComponentProvider,
    ResourceDependencyProvider,
    ServiceAffectsElementProvider,
    SettingDataComponentProvider,
    SettingsDefineCapabilitiesProvider,
    SettingsDefineStateProvider,
    SystemDeviceProvider,
    VideoHeadOnControllerProvider,
)
from providers.base import InstanceProvider, MethodProvider
from providers.capabilities import AllocationCapabilitiesProvider, SettingsWithDefinitionsProvider
from providers.computer_system import (
    ComputerSystemProvider,
    PlannedComputerSystemProvider,
    VirtualSwitchProvider,
)
from providers.host_counters import LiveMigrationCounterProvider, VirtualProcessorCounterProvider
from providers.host_identity import (
    HostComputerSystemProvider,
    HostDataFileProvider,
    HostOperatingSystemProvider,
    HostProcessorAssociationProvider,
    HostProcessorProvider,
    HostProductProvider,
)
from providers.interop import (
    HostConformsToProfileProvider,
    NamespaceProvider,
    ObjectManagerProvider,
    ProfileConformanceProvider,
    ReferencedProfileProvider,
    RegisteredProfileProvider,
)
from providers.jobs import (
    AffectedJobElementProvider,
    JobMethods,
    JobProvider,
    OwningJobElementProvider,
)
from providers.keyboard import KeyboardMethods
from providers.management_service import (
    ManagementCapabilitiesProvider,
    ManagementServiceMethods,
    ManagementServiceProvider,
    ManagementServiceSettingsProvider,
)
from providers.migration.job_timeline import JobTimeline
from providers.migration.migration_service import (
    MigrationCapabilitiesProvider,
    MigrationNetworkProvider,
    MigrationServiceMethods,
    MigrationServiceProvider,
    MigrationServiceSettingsProvider,
    MigrationTemplateProvider,
)
from providers.resource_pools import ResourcePoolProvider
from providers.switch_service import SwitchManagementServiceProvider
from providers.unsupported import UnsupportedMethods
from providers.vm_lifecycle import ComputerSystemMethods, ShutdownComponentMethods, StateChanges
from providers.vm_settings import LogicalDeviceProvider, VirtualSystemSettingsProvider

INSTANCE_PROVIDERS: tuple[type[InstanceProvider], ...] = (
    ComputerSystemProvider, PlannedComputerSystemProvider, VirtualSwitchProvider,
    ManagementServiceProvider, ManagementServiceSettingsProvider, ManagementCapabilitiesProvider,
    MigrationServiceProvider, MigrationServiceSettingsProvider, MigrationNetworkProvider,
    MigrationCapabilitiesProvider, MigrationTemplateProvider, ResourcePoolProvider,
    VirtualSystemSettingsProvider, SettingsWithDefinitionsProvider, LogicalDeviceProvider,
    AllocationCapabilitiesProvider, SwitchManagementServiceProvider,
    HostedServiceProvider, HostedDependencyProvider, ServiceAffectsElementProvider,
    SettingsDefineStateProvider, SystemDeviceProvider, VideoHeadOnControllerProvider,
    SettingDataComponentProvider,
    ResourceDependencyProvider, ElementAllocatedFromPoolProvider, ElementSettingDataProvider,
    ElementCapabilitiesProvider, SettingsDefineCapabilitiesProvider,
    MigrationSettingsComponentProvider, ClusterConformsToProfileProvider,
    NamespaceProvider, ObjectManagerProvider, RegisteredProfileProvider,
    ProfileConformanceProvider, ReferencedProfileProvider, HostConformsToProfileProvider,
    JobProvider, AffectedJobElementProvider,
    OwningJobElementProvider,
    HostComputerSystemProvider, HostProductProvider, HostOperatingSystemProvider,
    HostProcessorProvider, HostProcessorAssociationProvider, HostDataFileProvider,
    VirtualProcessorCounterProvider, LiveMigrationCounterProvider,
)


def method_providers(timeline: JobTimeline) -> list[MethodProvider]:
    """The extrinsic methods hvsim implements, sharing one job timeline."""
    state_changes = StateChanges(timeline)
    return [MigrationServiceMethods(timeline), ManagementServiceMethods(timeline),
            JobMethods(timeline), KeyboardMethods(), ComputerSystemMethods(state_changes),
            ShutdownComponentMethods(state_changes)]


def method_fallback() -> MethodProvider:
    """Answers every declared method no provider handles, with the method's "Not Supported"."""
    return UnsupportedMethods()
