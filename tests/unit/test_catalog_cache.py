"""The compiled class model is cached on disk; a copy the running code cannot read is rebuilt."""

from __future__ import annotations

import pickle
from pathlib import Path

from emulator.core import catalog
from emulator.core.catalog import load_catalog


def test_a_cache_naming_a_module_that_no_longer_exists_is_rebuilt(tmp_path: Path) -> None:
    cache_file = tmp_path / f"catalog-{catalog._mof_digest()}.pickle"
    # What an older layout of the code left behind: a pickle of a class from a moved module.
    # (protocol 0: GLOBAL "module\nname\n", then STOP)
    cache_file.write_bytes(b"cemulator.catalog\nNamespaceModel\n.")
    rebuilt = load_catalog(tmp_path)
    assert rebuilt.has_class("root/virtualization/v2", "Msvm_ComputerSystem")
    with cache_file.open("rb") as handle:
        assert isinstance(pickle.load(handle), dict)


def test_the_cache_key_names_the_code_that_wrote_it() -> None:
    digest = catalog._mof_digest()
    original = catalog.NamespaceModel.__module__
    try:
        catalog.NamespaceModel.__module__ = "emulator.catalog"
        assert catalog._mof_digest() != digest
    finally:
        catalog.NamespaceModel.__module__ = original
