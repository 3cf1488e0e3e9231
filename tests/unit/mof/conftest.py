"""One compiled MOF repository for every module of this package (compiling takes a second)."""

from __future__ import annotations

import pytest

from tests.support.mof_schema import Compiled, compile_namespaces


@pytest.fixture(scope="package")
def compiled() -> Compiled:
    return compile_namespaces()
