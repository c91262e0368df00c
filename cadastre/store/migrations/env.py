"""Alembic environment: always run through ``cadastre.store.schema`` with a live connection.

The connection comes in ``config.attributes["connection"]``; the storage SRID of a new registry in
``config.attributes["storage_srid"]`` (migrations read it through ``cadastre.store.ddl.storage_srid``).
"""

from alembic import context

from cadastre.store.models import Base

config = context.config
connection = config.attributes["connection"]


def include_object(obj, name, type_, reflected, compare_to):
    # Geometry columns, spatial indexes and SpatiaLite's own tables are managed by cadastre.store.ddl.
    if type_ == "column" and name == "geom":
        return False
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
