"""Alembic environment of the catalog.

Migrations run only through ``Catalog.migrate()``, which hands over a connection already inside
the transaction (and holding the lock) that makes concurrent migrations safe, so this file never
builds an engine or reads an ini file of its own.
"""

from alembic import context
from sqlalchemy.engine import Connection

from gnomon.catalog.models import Base
from gnomon.errors import InternalError


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or not isinstance(connection, Connection):
        raise InternalError(
            "The catalog migrations were started without a database connection.",
            hint="Run them with gnomon.catalog.Catalog(url).migrate().",
        )
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
