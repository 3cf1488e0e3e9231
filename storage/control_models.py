"""The control plane's tables (fault rules, snapshots, the world clock), and which tables make
up the world: what bumps the world version and what a wipe of the world keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import (
    Base,
    Cluster,
    Host,
    Job,
    MigrationNetwork,
    NetworkAdapter,
    UTCDateTime,
    VirtualDisk,
    VirtualMachine,
    WorldVersion,
)


class FaultRule(Base):
    """A fault rule of the control plane: what it matches and does (`spec`, JSON as validated
    by the core), and how often it matched and fired, shared by every process."""

    __tablename__ = "fault_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(16))  # "scenario" or "api"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    fired: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = {"sqlite_autoincrement": True}


class WorldSnapshot(Base):
    """A named copy of the whole world (the scenario TOML `GET /_hvsim/state` gives), kept in
    the database so that every process sharing it can list and restore it. Not part of the
    world: a reset or a restore leaves the snapshots as they are."""

    __tablename__ = "world_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hosts: Mapped[int] = mapped_column(Integer)
    vms: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)

    __table_args__ = {"sqlite_autoincrement": True}


class WorldClockRow(Base):
    """The world's one clock (storage.world_clock.ClockSetting): every process computes
    simulated time from this row, so they all agree.

    Simulated time is `base_us` while frozen; while scaled it is
    `base_us + (wall - anchor_us) * scale` (microseconds since the epoch, UTC).
    """

    __tablename__ = "world_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # "scaled" or "frozen"
    scale: Mapped[float] = mapped_column(Float)
    base_us: Mapped[int] = mapped_column(BigInteger)
    anchor_us: Mapped[int] = mapped_column(BigInteger)
    # Job class name (or "*") -> the progression new jobs of that class get.
    progression: Mapped[dict[str, Any]] = mapped_column(JSON)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version_id}


# The tables whose rows the CIM views are derived from; a change to any of them bumps the
# world version. Enumeration contexts are bookkeeping and do not. The clock is part of the
# world: moving it changes what every clock-derived answer says.
WORLD_MODELS: tuple[type[Base], ...] = (Cluster, Host, MigrationNetwork, VirtualMachine,
                                        VirtualDisk, NetworkAdapter, Job, WorldClockRow)
# What a wipe of the world (a reset, --reset, a state load) keeps: the version counter, the
# snapshots, and the clock (simulated time never goes back; a frozen clock stays frozen).
# Fault rules go: a reset starts from the scenario's rules again.
KEPT_ON_WIPE: tuple[type[Base], ...] = (WorldVersion, WorldSnapshot, WorldClockRow)
