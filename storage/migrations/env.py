"""Alembic environment: hvsim passes its own connection; the CLI path uses HVSIM_DATABASE_URL."""

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from storage.db import normalise_url
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    url = normalise_url(os.environ.get("HVSIM_DATABASE_URL", "sqlite:///hvsim.db"))
    with create_engine(url).connect() as conn:
        run_with(conn)
