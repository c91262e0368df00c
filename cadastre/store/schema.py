"""Create, migrate and describe a registry database (Alembic migrations in ``store/migrations``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from cadastre.core import settings
from cadastre.core.errors import ConfigError, DatabaseError
from cadastre.store.engine import redact
from cadastre.store.models import RegistrySetup

__all__ = ["RegistryInfo", "init_schema", "describe", "head_revision"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class RegistryInfo:
    """What a database is the registry of."""

    url: str
    dialect: str
    counties: tuple[str, ...]
    storage_srid: int
    revision: str | None
    created_at: datetime | None

    @property
    def up_to_date(self) -> bool:
        return self.revision == head_revision()


def _alembic_config(connection: Connection, storage_srid: int | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["storage_srid"] = storage_srid
    return cfg


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _storage_srid(codes: Sequence[str]) -> int:
    srids = {settings.county(code).storage_epsg for code in codes}
    if len(srids) > 1:
        listed = "、".join(f"{c}（EPSG:{settings.county(c).storage_epsg}）" for c in codes)
        raise ConfigError(f"同一登记库的县必须使用同一存储坐标系：{listed}",
                          f"counties of one registry must share a storage CRS: {listed}")
    return srids.pop()


def _read_setup(connection: Connection) -> sa.Row | None:
    if not sa.inspect(connection).has_table("registry"):
        return None
    return connection.execute(sa.select(RegistrySetup.counties, RegistrySetup.storage_srid,
                                        RegistrySetup.created_at)).first()


def init_schema(connection: Connection, counties: Sequence[str] = ()) -> None:
    """Create the registry for ``counties`` or migrate an existing one to the newest schema, inside the caller's
    write transaction.

    A new database needs at least one county (its zone fixes the storage CRS). Naming counties for an existing
    registry adds those not yet in it, when they share its storage CRS. Running it again changes nothing.
    """
    counties = tuple(dict.fromkeys(counties))
    for code in counties:
        settings.county(code)  # unknown codes fail before anything is written
    row = _read_setup(connection)
    if row is None:
        if not counties:
            raise ConfigError("新建登记库需要指定县：cadastre init --county 代码", "a new registry needs --county CODE")
        srid = _storage_srid(counties)
        command.upgrade(_alembic_config(connection, srid), "head")
        connection.execute(sa.insert(RegistrySetup).values(
            id=1, storage_srid=srid, counties=list(counties), created_at=datetime.now(UTC)))
        return
    existing = list(row.counties)
    srid = int(row.storage_srid)
    added = [c for c in counties if c not in existing]
    if added and _storage_srid([*existing, *added]) != srid:
        raise ConfigError("新增县的存储坐标系与登记库不同", "added counties use another storage CRS")
    command.upgrade(_alembic_config(connection, srid), "head")
    if added:
        connection.execute(sa.update(RegistrySetup).values(counties=existing + added))


def describe(connection: Connection) -> RegistryInfo:
    """The registry's counties, storage SRID and schema revision; :class:`DatabaseError` when not initialised."""
    url = redact(connection.engine.url.render_as_string(hide_password=False))
    row = _read_setup(connection)
    revision = MigrationContext.configure(connection).get_current_revision()
    if row is None:
        raise DatabaseError(f"数据库 {url} 尚未初始化，请先运行 cadastre init --county 代码",
                            f"database {url} is not initialised: run cadastre init --county CODE")
    return RegistryInfo(url, connection.dialect.name, tuple(row.counties), int(row.storage_srid), revision,
                        row.created_at)
