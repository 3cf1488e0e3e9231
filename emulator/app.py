"""The composition root: class model, store, providers, dispatcher and front ends."""

from __future__ import annotations

import logging
import platform
import random
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, disable_created_metrics
from starlette.types import ASGIApp, Receive, Scope, Send

import providers
from emulator.caching.cache_budget import DEFAULT_BUDGET, CacheBudget
from emulator.cimxml.app import CimXmlEndpoint
from emulator.control.app import MOUNT_PATH, create_control_app
from emulator.control.context import ControlContext
from emulator.core.catalog import Catalog, load_catalog
from emulator.core.clock_control import ClockControl
from emulator.core.cluster_view import ClusterView
from emulator.core.dispatch import Dispatcher
from emulator.core.fault_spec import FaultRuleError, parse_rule
from emulator.core.faults import SCENARIO
from emulator.core.world_clock import WorldClock
from emulator.setup.scenario import Scenario, ScenarioError, demo_scenario
from emulator.setup.seeding import prepare_store, seeding_rng
from emulator.setup.world_control import WorldControl
from emulator.transport.auth import Authenticator, load_users
from emulator.transport.endpoints import EndpointMap
from emulator.transport.request_log import RequestRecorder
from emulator.transport.request_log_file import JsonLinesLog
from emulator.transport.request_metrics import RequestMetrics
from emulator.world_admin import WorldAdminAdapter
from emulator.wsman.app import WsmanEndpoint
from emulator.wsman.call import MAX_ENVELOPE_KB
from emulator.wsman.security import DEFAULT_NTLM_PASSWORD
from providers.base import Clock
from providers.jobs import JOB_CLASSES
from providers.migration.fault_errors import FAULT_ERRORS
from providers.migration.job_settling import JobSettling
from providers.migration.job_timeline import JobTimeline
from storage.db import Store, Timeouts, describe_url
from storage.errors import classify

log = logging.getLogger("hvsim")


@dataclass
class Settings:
    database_url: str = "sqlite:///hvsim.db"
    scenario: Scenario | None = None
    reset: bool = False
    users_file: Path | None = None
    port_hosts: dict[int, str] = field(default_factory=dict)
    time_scale: float = 1.0
    ntlm_password: str = DEFAULT_NTLM_PASSWORD
    allow_unencrypted: bool = False
    max_envelope_kb: int = MAX_ENVELOPE_KB  # WinRM's MaxEnvelopeSizekb
    cache_budget: CacheBudget = DEFAULT_BUDGET
    db_timeouts: Timeouts = field(default_factory=Timeouts)
    request_log: Path | None = None  # the JSON-lines request log; None: off
    # host -> base URL once `hvsim serve` has bound its ports (GET /_hvsim/health shows them)
    endpoint_urls: dict[str, str] = field(default_factory=dict)


@dataclass
class Runtime:
    """What `open_world` opened and every endpoint of one process shares: the class model,
    the store holding the world, the dispatcher serving it, and the whole-world actions of
    the control API (reset, state, snapshots)."""

    catalog: Catalog
    store: Store
    dispatcher: Dispatcher
    host_names: list[str]
    clock_control: ClockControl
    world: WorldControl


def open_world(settings: Settings, catalog: Catalog | None = None, *, clock: Clock | None = None,
               rng: random.Random | None = None) -> Runtime:
    """Raises storage.errors.StoreUnavailable when the database cannot be used now.

    `clock` is what every answer reads the time from and what seeding stamps the world
    with (unless given, the world clock stored with the world: simulated time, scaled by
    `settings.time_scale` or frozen through the control API); `rng` draws the identities
    seeding gives the world (GUIDs, MAC addresses; the scenario's seed unless given).
    """
    catalog = catalog or load_catalog()
    scenario = settings.scenario or demo_scenario()
    for index, rule in enumerate(scenario.faults):
        try:
            parse_rule(rule, FAULT_ERRORS, f"faults[{index}]")
        except FaultRuleError as error:
            raise ScenarioError(str(error)) from None
    # What seeding draws from, kept for a reset to draw the same identities again.
    seed_rng = seeding_rng(scenario)
    if rng is not None:
        seed_rng.setstate(rng.getstate())
    store = Store(settings.database_url, settings.db_timeouts)
    # The world clock computes simulated time from the store; an injected clock replaces it.
    world_clock = WorldClock(store)
    clock = clock or world_clock
    timeline = JobTimeline()
    dispatcher = Dispatcher(catalog, store, clock,
                            [cls() for cls in providers.INSTANCE_PROVIDERS],
                            providers.method_providers(timeline), [JobSettling(timeline)],
                            unsupported=providers.method_fallback(),
                            fault_errors=FAULT_ERRORS)
    clock_control = ClockControl(dispatcher.transactions, world_clock, JOB_CLASSES,
                                 default_scale=settings.time_scale)
    try:
        stamp = clock.now()
        seeded = prepare_store(store, scenario, stamp, reset=settings.reset, rng=rng)
        clock_control.start(seeded=stamp if seeded else None)
        store.world_version()  # reads the clock it runs on
        with store.unit_of_work() as uow:
            host_names = uow.world.host_names()
    except Exception as error:
        store.dispose()
        failure = classify(error)
        if failure is None:
            raise
        raise failure from error
    if not seeded:
        log.info("store already holds a world; the scenario was not applied (use --reset)")
    if seeded:
        # The scenario's rules come with the world it seeds; a world already stored keeps
        # the rules it has.
        _install_faults(dispatcher, scenario)
    world = WorldControl(store, scenario, clock, seed_rng=seed_rng,
                         write_turn=dispatcher.transactions.write_turn,
                         settle=dispatcher.settle_due,
                         reseeded=lambda seeded_from: _install_faults(dispatcher, seeded_from))
    return Runtime(catalog, store, dispatcher, host_names, clock_control, world)


def _install_faults(dispatcher: Dispatcher, scenario: Scenario) -> None:
    """A freshly seeded world starts with its scenario's fault rules (a wipe removed any)."""
    if scenario.faults:
        dispatcher.faults.add(scenario.faults, origin=SCENARIO, where="faults")


class ProtocolRouter:
    """The server's ASGI entry: protocol endpoints by exact path, everything else to FastAPI.

    The protocol endpoints are plain ASGI applications reached without FastAPI's middleware
    stack: at a few hundred microseconds of CPU per request, that stack is a large share.
    """

    def __init__(self, endpoints: dict[str, ASGIApp], fallback: FastAPI,
                 request_log: JsonLinesLog | None = None) -> None:
        self.endpoints = endpoints
        self.fallback = fallback
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope.get("path", "")) if scope["type"] == "http" else None
        await (endpoint or self.fallback)(scope, receive, send)

    def close(self) -> None:
        """Release what the endpoints hold besides memory (worker processes), and write the
        request log's last records."""
        for endpoint in self.endpoints.values():
            close = getattr(endpoint, "close", None)
            if close is not None:
                close()
        if self.request_log is not None:
            self.request_log.close()


def create_app(settings: Settings, runtime: Runtime | None = None) -> ProtocolRouter:
    runtime = runtime or open_world(settings)
    users = load_users(settings.users_file) if settings.users_file else None
    endpoints = EndpointMap(settings.port_hosts, runtime.host_names[0])
    fallback = FastAPI(title="hvsim", docs_url=None, redoc_url=None, openapi_url=None)
    fallback.state.runtime = runtime
    authenticator = Authenticator(users)
    request_log = JsonLinesLog(settings.request_log) if settings.request_log else None
    # The *_created series only repeat the process's start time, once per label set.
    disable_created_metrics()
    registry = CollectorRegistry()
    recorder = RequestRecorder(request_log, observers=[RequestMetrics(registry).observe])
    cimxml = CimXmlEndpoint(runtime.dispatcher, endpoints, authenticator, settings.cache_budget,
                            recorder=recorder)
    wsman = WsmanEndpoint(runtime.dispatcher, endpoints, authenticator, settings.ntlm_password,
                          allow_unencrypted=settings.allow_unencrypted,
                          budget=settings.cache_budget, recorder=recorder,
                          max_envelope_kb=settings.max_envelope_kb)
    world = WorldAdminAdapter(runtime.world, settings.endpoint_urls)
    control = create_control_app(ControlContext(
        runtime.catalog, authenticator, world, request_log,
        cluster=ClusterView(runtime.dispatcher, runtime.host_names), metrics=registry,
        server_info=server_info(settings, runtime), faults=runtime.dispatcher.faults,
        clock=runtime.clock_control))
    fallback.mount(MOUNT_PATH, control)
    return ProtocolRouter({"/cimom": cimxml, "/wsman": wsman}, fallback, request_log)


def server_info(settings: Settings, runtime: Runtime) -> dict[str, Any]:
    """The version and flags a bug report needs, without secrets: the database URL without
    its password, the users file's path (not its lines), no NTLM password."""
    try:
        version = metadata.version("hvsim")
    except metadata.PackageNotFoundError:
        version = "unknown"
    scenario = settings.scenario or demo_scenario()
    return {
        "hvsim": version, "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "database": describe_url(settings.database_url),
        "cluster": scenario.cluster_name, "seed": scenario.seed,
        "hosts": runtime.host_names,
        "ports": {str(port): host for port, host in sorted(settings.port_hosts.items())},
        "time_scale": settings.time_scale,
        "strict_users_file": str(settings.users_file) if settings.users_file else None,
        "allow_unencrypted": settings.allow_unencrypted,
        "max_envelope_kb": settings.max_envelope_kb,
        "cache_mb": settings.cache_budget.total_bytes // (1024 * 1024),
        "db_timeouts": {"connect": settings.db_timeouts.connect,
                        "lock": settings.db_timeouts.lock,
                        "statement": settings.db_timeouts.statement},
        "request_log": str(settings.request_log) if settings.request_log else "off",
    }
