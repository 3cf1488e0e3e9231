"""The composition root: class model, store, providers, dispatcher and front ends."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

import providers
from emulator.caching.cache_budget import DEFAULT_BUDGET, CacheBudget
from emulator.cimxml.app import CimXmlEndpoint
from emulator.clock import SystemClock
from emulator.control.app import MOUNT_PATH, create_control_app
from emulator.control.context import ControlContext
from emulator.core.catalog import Catalog, load_catalog
from emulator.core.dispatch import Dispatcher
from emulator.setup.scenario import Scenario, demo_scenario
from emulator.setup.seeding import prepare_store
from emulator.setup.world_control import WorldControl
from emulator.transport.auth import Authenticator, load_users
from emulator.transport.endpoints import EndpointMap
from emulator.transport.request_log import RequestRecorder
from emulator.transport.request_log_file import JsonLinesLog
from emulator.world_admin import WorldAdminAdapter
from emulator.wsman.app import WsmanEndpoint
from emulator.wsman.security import DEFAULT_NTLM_PASSWORD
from providers.base import Clock
from providers.migration.job_settling import JobSettling
from providers.migration.job_timeline import JobTimeline
from storage.db import Store, Timeouts
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
    world: WorldControl


def open_world(settings: Settings, catalog: Catalog | None = None, *, clock: Clock | None = None,
               rng: random.Random | None = None) -> Runtime:
    """Raises storage.errors.StoreUnavailable when the database cannot be used now.

    `clock` is what every answer reads the time from and what seeding stamps the world
    with (the system clock unless given); `rng` draws the identities seeding gives the world
    (GUIDs, MAC addresses; the scenario's seed unless given).
    """
    catalog = catalog or load_catalog()
    clock = clock or SystemClock()
    scenario = settings.scenario or demo_scenario()
    # What seeding draws from, kept for a reset to draw the same identities again.
    seed_rng = random.Random(scenario.seed)
    if rng is not None:
        seed_rng.setstate(rng.getstate())
    store = Store(settings.database_url, settings.db_timeouts)
    try:
        seeded = prepare_store(store, scenario, clock.now(), reset=settings.reset, rng=rng)
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
    timeline = JobTimeline(settings.time_scale)
    dispatcher = Dispatcher(catalog, store, clock,
                            [cls() for cls in providers.INSTANCE_PROVIDERS],
                            providers.method_providers(timeline), [JobSettling(timeline)],
                            unsupported=providers.method_fallback())
    world = WorldControl(store, scenario, clock, seed_rng=seed_rng,
                         write_turn=dispatcher.transactions.write_turn,
                         settle=dispatcher.settle_due)
    return Runtime(catalog, store, dispatcher, host_names, world)


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
    recorder = RequestRecorder(request_log)
    cimxml = CimXmlEndpoint(runtime.dispatcher, endpoints, authenticator, settings.cache_budget,
                            recorder=recorder)
    wsman = WsmanEndpoint(runtime.dispatcher, endpoints, authenticator, settings.ntlm_password,
                          allow_unencrypted=settings.allow_unencrypted,
                          budget=settings.cache_budget, recorder=recorder)
    world = WorldAdminAdapter(runtime.world, settings.endpoint_urls)
    control = create_control_app(ControlContext(runtime.catalog, authenticator, world,
                                                request_log))
    fallback.mount(MOUNT_PATH, control)
    return ProtocolRouter({"/cimom": cimxml, "/wsman": wsman}, fallback, request_log)
