"""Run Alembic migrations programmatically (``audiotext migrate`` and ``serve``)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from audiotext.config import sync_database_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", sync_database_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def is_current(database_url: str) -> bool | None:
    """Whether the schema is at this version's head; None when the database cannot be asked
    (it is away: the gateway starts anyway and answers 503 until it is back)."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    url = sync_database_url(database_url)
    engine = sa.create_engine(
        url, connect_args={} if url.startswith("sqlite") else {"connect_timeout": 5}
    )
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision() == head
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
