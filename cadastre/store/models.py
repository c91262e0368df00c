"""The registry's tables, as SQLAlchemy 2 declarative models with GeoAlchemy2 geometry columns.

Conventions
-----------
- Field names follow the 不动产登记数据库 standard's codes in lower case (``zddm``, ``bdcdyh``, ``zrzh``, ``sjc``,
  ``shbw`` …) so a column means the same as the surveyor's field of that name.
- Geometry columns are named ``geom`` and hold the registry's storage CRS (the county's projected CGCS2000 zone,
  recorded in :class:`Registry`). The SRID is fixed per database when it is created, so the models declare
  ``srid=-1`` and the migration creates the typed column with the registry's SRID; every write passes geometries
  with their SRID (see ``store.geometry``).
- Nothing is deleted. Rows that describe the registry's current state carry ``valid_from`` / ``valid_to``
  (``valid_to IS NULL`` means current) and ``end_reason``; a change ends the old row and inserts a new one.
  Partial unique indexes keep at most one current row per natural key.
- Code high-water marks live in :class:`CodeCounter`, apart from the rows that use the codes, so retiring
  everything still leaves the next number right; :class:`IssuedCode` holds every code ever issued (primary key:
  no code is issued twice) and :class:`CodeLineage` links retired codes to their successors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CURRENT = text("valid_to IS NULL")
ENDED = text("valid_to IS NOT NULL")


def geometry(kind: str) -> Geometry:
    """A geometry column type; the migration gives it the registry's SRID and a spatial index."""
    return Geometry(geometry_type=kind, srid=-1, spatial_index=False)


def current_unique(name: str, *columns: str) -> Index:
    """At most one current row per key (partial unique index on both engines)."""
    return Index(name, *columns, unique=True, sqlite_where=CURRENT, postgresql_where=CURRENT)


def ended_index(name: str, *columns: str) -> Index:
    """The ended (history) rows by key: with :func:`current_unique` every version of a key is found through an
    index, while a bulk insert of new (current) rows maintains only the one index (``versions_where``)."""
    return Index(name, *columns, sqlite_where=ENDED, postgresql_where=ENDED)


def versions_where(table: str, column: str, param: str) -> str:
    """SQL for the ids of every version of ``table`` whose ``column`` is ``:param``, through both partial indexes
    (a predicate without ``valid_to`` could use neither)."""
    return (f"SELECT id FROM {table} WHERE {column} = :{param} AND valid_to IS NULL UNION ALL "
            f"SELECT id FROM {table} WHERE {column} = :{param} AND valid_to IS NOT NULL")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Versioned:
    """Validity interval of a record: current while ``valid_to`` is NULL."""

    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------------------------------- registry set-up


class RegistrySetup(Base):
    """One row: what this database is the registry of."""

    __tablename__ = "registry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    storage_srid: Mapped[int]
    counties: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Original(Base):
    """An uploaded file kept byte for byte, addressed by its SHA-256 (the bytes live in the originals store)."""

    __tablename__ = "original"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text, doc="path of the bytes, relative to the originals store")
    received_at: Mapped[datetime]
    purged_at: Mapped[datetime | None] = mapped_column(doc="when the bytes of a refused upload were deleted")
    purge_reason: Mapped[str | None] = mapped_column(Text)


# ------------------------------------------------------------------------------------------------------------ zoning


class ZoningImport(Base):
    """One load of a county's 地籍区/地籍子区 reference data."""

    __tablename__ = "zoning_import"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("original.sha256"))
    imported_at: Mapped[datetime]
    imported_by: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), doc="applied | unchanged")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class CadastralDistrict(Versioned, Base):
    """地籍区."""

    __tablename__ = "cadastral_district"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    djqdm: Mapped[str] = mapped_column(String(9), doc="地籍区代码: county (6) + 地籍区 (3)")
    county: Mapped[str] = mapped_column(String(6))
    djqmc: Mapped[str | None] = mapped_column(Text, doc="名称")
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    zoning_import_id: Mapped[int] = mapped_column(ForeignKey("zoning_import.id"))
    __table_args__ = (current_unique("uq_cadastral_district_current", "djqdm"),)


class CadastralSubdistrict(Versioned, Base):
    """地籍子区."""

    __tablename__ = "cadastral_subdistrict"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    djzqdm: Mapped[str] = mapped_column(String(12), doc="地籍子区代码: county (6) + 地籍区 (3) + 子区 (3)")
    djqdm: Mapped[str] = mapped_column(String(9))
    county: Mapped[str] = mapped_column(String(6))
    djzqmc: Mapped[str | None] = mapped_column(Text, doc="名称")
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    zoning_import_id: Mapped[int] = mapped_column(ForeignKey("zoning_import.id"))
    __table_args__ = (current_unique("uq_cadastral_subdistrict_current", "djzqdm"),)


# ---------------------------------------------------------------------------------------------- packages & findings


class Package(Base):
    """A survey package (成果包) as received: immutable; its status moves forward only."""

    __tablename__ = "package"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("original.sha256"), index=True)
    county: Mapped[str | None] = mapped_column(String(6))
    stage: Mapped[str | None] = mapped_column(String(16), doc="cadastral | presale | asbuilt")
    status: Mapped[str] = mapped_column(String(16), doc="received | accepted | rejected | refused | superseded")
    filename: Mapped[str | None] = mapped_column(Text, doc="name of the uploaded file")
    project_name: Mapped[str | None] = mapped_column(Text)
    surveyor: Mapped[str | None] = mapped_column(Text)
    survey_date: Mapped[str | None] = mapped_column(String(10))
    permit_number: Mapped[str | None] = mapped_column(Text)
    parcel_code: Mapped[str | None] = mapped_column(String(19))
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_by: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("package.id"))


class PackageProgress(Base):
    """Where the processing of a received package stands: operational state a browser polls, updated in place
    (the package row itself only ever moves its status forward). The worker that takes the package writes itself
    into ``claimed_by`` and refreshes ``heartbeat_at`` while it works, so two server processes never process the
    same one and a claim dies with its process (``cadastre.core.workers``)."""

    __tablename__ = "package_progress"
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16),
                                       doc="received | reading | checking | storing | done | waiting | failed")
    percent: Mapped[float] = mapped_column(Float)
    claimed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text, doc="why processing failed (Chinese)")
    claimed_by: Mapped[str | None] = mapped_column(Text, doc="host:pid:start of the worker process holding it")
    heartbeat_at: Mapped[datetime | None] = mapped_column(doc="when its worker last said it is still at it")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", doc="failed attempts so far")
    retry_at: Mapped[datetime | None] = mapped_column(doc="when a failed package is tried again (NULL: not)")


class Finding(Base):
    """One finding of a check, as data (qa-and-planning.md "Findings")."""

    __tablename__ = "finding"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)
    rule: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8), doc="error | warning | info")
    layer: Mapped[str] = mapped_column(String(32))
    feature: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    measured: Mapped[float | None] = mapped_column(Float)
    limit: Mapped[float | None] = mapped_column(Float)
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Waiver(Base):
    """A staff decision to accept a finding as an exception. History: never edited, never deleted."""

    __tablename__ = "waiver"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"), index=True)
    waived_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Permit(Versioned, Base):
    """A 建设工程规划许可 with its indicators (``content`` as in permit.json)."""

    __tablename__ = "permit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(Text)
    county: Mapped[str | None] = mapped_column(String(6))
    parcel_code: Mapped[str | None] = mapped_column(String(19))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), doc="recorded | package")
    package_id: Mapped[int | None] = mapped_column(ForeignKey("package.id"))
    recorded_by: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=True)  # red line (GHHX), optional
    __table_args__ = (current_unique("uq_permit_current", "number"),)


# ------------------------------------------------------------------------------------------- parcels and buildings


class Parcel(Versioned, Base):
    """宗地 (ZDJBXX)."""

    __tablename__ = "parcel"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zddm: Mapped[str] = mapped_column(String(19), doc="宗地代码")
    bdcdyh: Mapped[str | None] = mapped_column(String(28), doc="land-only 不动产单元代码 (…W00000000)")
    bsm: Mapped[str | None] = mapped_column(Text, doc="标识码 in the package")
    zdtzm: Mapped[str] = mapped_column(String(2), doc="宗地特征码")
    zl: Mapped[str | None] = mapped_column(Text, doc="坐落")
    zdmj: Mapped[float | None] = mapped_column(Float, doc="declared 宗地面积 m²")
    yt: Mapped[str | None] = mapped_column(String(8), doc="用途 (land-use code)")
    yt_classification: Mapped[str | None] = mapped_column(String(16), doc="classification YT is coded in")
    qllx: Mapped[str | None] = mapped_column(String(4))
    qlxz: Mapped[str | None] = mapped_column(String(4))
    qlsdfs: Mapped[str | None] = mapped_column(String(1))
    rjl: Mapped[float | None] = mapped_column(Float)
    jzmd: Mapped[float | None] = mapped_column(Float)
    jzxg: Mapped[float | None] = mapped_column(Float)
    qlr: Mapped[str | None] = mapped_column(Text, doc="权利人 (owner data: masked for roles that may not see it)")
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="other fields of the package, kept")
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)
    __table_args__ = (current_unique("uq_parcel_current", "zddm"), ended_index("ix_parcel_zddm_ended", "zddm"))


class BoundaryPoint(Versioned, Base):
    """界址点 (JZD)."""

    __tablename__ = "boundary_point"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jzdh: Mapped[str | None] = mapped_column(Text, doc="界址点号")
    zddm: Mapped[str | None] = mapped_column(String(19))
    jblx: Mapped[str | None] = mapped_column(String(4))
    jzdlx: Mapped[str | None] = mapped_column(String(4))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    geom = mapped_column(geometry("POINT"), nullable=False)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)


class BoundaryLine(Versioned, Base):
    """界址线 (JZX)."""

    __tablename__ = "boundary_line"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zddm: Mapped[str | None] = mapped_column(String(19))
    jzxlb: Mapped[str | None] = mapped_column(String(4))
    jzxwz: Mapped[str | None] = mapped_column(String(4))
    jxxz: Mapped[str | None] = mapped_column(String(8))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    geom = mapped_column(geometry("MULTILINESTRING"), nullable=False)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)


class Building(Versioned, Base):
    """自然幢 (ZRZ): one physical building on one parcel."""

    __tablename__ = "building"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"), index=True)
    zddm: Mapped[str] = mapped_column(String(19))
    zrzh: Mapped[str] = mapped_column(String(4), doc="自然幢号 (4-digit 幢号 within the parcel)")
    zrzh_label: Mapped[str | None] = mapped_column(Text, doc="自然幢号 as surveyed when not a number (A座)")
    stage: Mapped[str] = mapped_column(String(16), doc="presale | asbuilt")
    bsm: Mapped[str | None] = mapped_column(Text)
    jzwmc: Mapped[str | None] = mapped_column(Text, doc="建筑物名称")
    zcs: Mapped[int | None] = mapped_column(Integer)
    dscs: Mapped[int | None] = mapped_column(Integer)
    dxcs: Mapped[int | None] = mapped_column(Integer)
    zzdmj: Mapped[float | None] = mapped_column(Float)
    ycjzmj: Mapped[float | None] = mapped_column(Float)
    scjzmj: Mapped[float | None] = mapped_column(Float)
    ghyt: Mapped[str | None] = mapped_column(String(4))
    fwjg: Mapped[str | None] = mapped_column(String(2))
    jzwgd: Mapped[float | None] = mapped_column(Float)
    zts: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=False)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)
    __table_args__ = (current_unique("uq_building_current", "zddm", "zrzh"),)


class Floor(Versioned, Base):
    """层 (C) of a building: 实际层 (physical order, negative below ground) and 名义层 (label)."""

    __tablename__ = "floor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    sjc: Mapped[int] = mapped_column(Integer, doc="实际层")
    myc: Mapped[str | None] = mapped_column(Text, doc="名义层")
    cg: Mapped[float | None] = mapped_column(Float, doc="层高 m")
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)


class Unit(Versioned, Base):
    """户 (H): a registrable flat, shop, office or parking space, with its 不动产单元代码."""

    __tablename__ = "unit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bdcdyh: Mapped[str] = mapped_column(String(28), doc="不动产单元代码")
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16), doc="presale | asbuilt")
    bsm: Mapped[str | None] = mapped_column(Text)
    sjc: Mapped[int] = mapped_column(Integer, doc="实际层 (the lowest, for a unit over several floors)")
    zzc: Mapped[int | None] = mapped_column(Integer, doc="终止层: the highest floor of a 跃层 / 复式 unit")
    myc: Mapped[str | None] = mapped_column(Text, doc="名义层")
    ljzh: Mapped[str | None] = mapped_column(Text, doc="逻辑幢号")
    ljzmc: Mapped[str | None] = mapped_column(Text, doc="逻辑幢名称 (else its 门牌号)")
    dyh: Mapped[str | None] = mapped_column(Text, doc="单元号")
    hh: Mapped[int | None] = mapped_column(Integer, doc="户号 as surveyed: order on the floor")
    shbw: Mapped[str] = mapped_column(Text, doc="室号部位")
    fwyt: Mapped[str | None] = mapped_column(String(4), doc="房屋用途 (FWYT1)")
    fwlx: Mapped[str | None] = mapped_column(String(2))
    fwxz: Mapped[str | None] = mapped_column(String(2))
    ycjzmj: Mapped[float | None] = mapped_column(Float)
    yctnjzmj: Mapped[float | None] = mapped_column(Float)
    ycftjzmj: Mapped[float | None] = mapped_column(Float)
    ycftxs: Mapped[float | None] = mapped_column(Float)
    scjzmj: Mapped[float | None] = mapped_column(Float)
    sctnjzmj: Mapped[float | None] = mapped_column(Float)
    scftjzmj: Mapped[float | None] = mapped_column(Float)
    scftxs: Mapped[float | None] = mapped_column(Float)
    jsrkz: Mapped[int | None] = mapped_column(Integer, doc="计入容积率 1/0")
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    geom = mapped_column(geometry("MULTIPOLYGON"), nullable=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)
    __table_args__ = (current_unique("uq_unit_current", "bdcdyh"), ended_index("ix_unit_bdcdyh_ended", "bdcdyh"),
                      Index("ix_unit_shbw_current", "shbw", sqlite_where=CURRENT, postgresql_where=CURRENT))


# ------------------------------------------------------------------------------------------------------------- codes


class CodeCounter(Base):
    """High-water mark of one numbering scope; the scope *is* the code prefix it numbers within.

    - 14 characters (地籍子区 + 宗地特征码): 宗地顺序号;
    - 19 characters + ``F`` (parcel code + fixture): 幢号; + ``L`` / ``Q``: the 8-digit serial;
    - 24 characters (parcel code + ``F`` + 幢号): 户号.
    """

    __tablename__ = "code_counter"
    prefix: Mapped[str] = mapped_column(String(24), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class IssuedCode(Base):
    """Every 宗地代码 and 不动产单元代码 ever issued; the primary key makes reuse impossible."""

    __tablename__ = "issued_code"
    code: Mapped[str] = mapped_column(String(28), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), doc="parcel | unit")
    issued_at: Mapped[datetime]
    package_id: Mapped[int | None] = mapped_column(ForeignKey("package.id"))
    retired_at: Mapped[datetime | None]
    retired_reason: Mapped[str | None] = mapped_column(Text)


class CodeLineage(Base):
    """A retired code and what replaced it (one row per successor; ``new_code`` NULL when nothing did)."""

    __tablename__ = "code_lineage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    old_code: Mapped[str] = mapped_column(String(28), index=True)
    new_code: Mapped[str | None] = mapped_column(String(28), index=True)
    reason: Mapped[str] = mapped_column(Text)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("package.id"))
    created_at: Mapped[datetime]


class BaselineCoverage(Base):
    """A 地籍子区 whose earlier codes the registry knows: a baseline lot carried codes in it (``how`` = ``imported``),
    or an administrator declared it had none before this service (``declared_empty``). Under a county's
    ``require_baseline`` setting the registry numbers parcels only in covered sub-districts."""

    __tablename__ = "baseline_coverage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    djzqdm: Mapped[str] = mapped_column(String(12), index=True)
    how: Mapped[str] = mapped_column(String(16), doc="imported | declared_empty")
    package_id: Mapped[int | None] = mapped_column(ForeignKey("package.id"), doc="the baseline lot")
    declared_by: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


#: every table with a geometry column: (table, geometry type, nullable)
GEOMETRY_COLUMNS: dict[str, tuple[str, bool]] = {
    table.name: (table.c.geom.type.geometry_type, table.c.geom.nullable)
    for table in Base.metadata.sorted_tables
    if "geom" in table.c
}


# ------------------------------------------------------------------------------------------ accounts and audit


class Account(Base):
    """A person or system allowed to use the service (``cadastre user add``). Never deleted: disabled."""

    __tablename__ = "account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(String(16), doc="surveyor | registrar | planner | analyst | admin")
    password_hash: Mapped[str | None] = mapped_column(Text, doc="Argon2id; NULL: tokens only (a system)")
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    upload_quota_bytes: Mapped[int | None] = mapped_column(BigInteger, doc="bytes per day; NULL: the default")


class AccessToken(Base):
    """A bearer token: from the password login (``session``, short-lived) or made for a system (``api``). Only
    the token's SHA-256 is kept. Never deleted: revoked."""

    __tablename__ = "access_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8), doc="session | api")
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only: every write and every read of owners' names, with who, when, what and from where. Triggers
    refuse UPDATE and DELETE on both engines (migration 0005)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_action_target_at", "action", "target", "at"),
                      Index("ix_audit_event_action_source_at", "action", "source", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(Text, index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), doc="e.g. package.upload, finding.waive, owners.read")
    target: Mapped[str | None] = mapped_column(Text, doc="what it touched: a package id, a code, an account")
    source: Mapped[str | None] = mapped_column(Text, doc="client address, or cli / local")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxEvent(Base):
    """An event for other offices (issue 25), written in the transaction of the change it describes; ids are in
    commit order (writers serialise on the events lock: ``store.events.append_events``). Never updated."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_type_id", "type", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Subscription(Base):
    """A webhook an administrator registered: where, which event types, the signing secret, and the delivery
    state — the last event handled (``cursor``: events go out in order), the tries of the next one, a worker's
    claim. Disabled, never deleted while it has dead letters (``delete`` removes both)."""

    __tablename__ = "subscription"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    types: Mapped[list[str] | None] = mapped_column(JSON, doc="event types; NULL: all")
    secret: Mapped[str] = mapped_column(Text, doc="whsec_…: shown once when made")
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    cursor: Mapped[int] = mapped_column(Integer, default=0, doc="the last event id delivered or given up")
    attempts: Mapped[int] = mapped_column(Integer, default=0, doc="failed tries of the next event")
    failing_since: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None]


class DeadLetter(Base):
    """An event a subscription gave up on after its retries: an administrator sees it and replays it."""

    __tablename__ = "dead_letter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscription.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
    attempts: Mapped[int] = mapped_column(Integer)
    failing_since: Mapped[datetime | None]
    dead_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    replayed_at: Mapped[datetime | None]
