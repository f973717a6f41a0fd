"""Alembic environment: runs migrations on a blocking connection to the configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from audiotext.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "audiotext.db.migrate sets sqlalchemy.url"

connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
