"""Helpers shared by the test suites: a real PostgreSQL server and a live hvsim server."""

from tests.support.postgres import (
    ENV_URL,
    PostgresCluster,
    PostgresUnavailable,
    fresh_database,
    postgres_session,
)
from tests.support.server import (
    DEMO_SCENARIO,
    INTEROP_NAMESPACE,
    PROJECT_ROOT,
    TEST_PASSWORD,
    TEST_USER,
    VIRTUALIZATION_NAMESPACE,
    HvsimServer,
    ServerStartError,
    sqlite_url,
    wbem_connection,
)

__all__ = [
    "DEMO_SCENARIO",
    "ENV_URL",
    "INTEROP_NAMESPACE",
    "PROJECT_ROOT",
    "TEST_PASSWORD",
    "TEST_USER",
    "VIRTUALIZATION_NAMESPACE",
    "HvsimServer",
    "PostgresCluster",
    "PostgresUnavailable",
    "ServerStartError",
    "fresh_database",
    "postgres_session",
    "sqlite_url",
    "wbem_connection",
]
