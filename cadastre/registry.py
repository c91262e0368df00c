"""The registry handle: the library's entry point for everything the CLI and the HTTP API do.

Example::

    import cadastre
    reg = cadastre.init("sqlite:///var/example.sqlite", counties=["141031"])
    reg.import_zoning("var/samples/141031-zoning.zip")
    reg.summary()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cadastre import settings
from cadastre.errors import ZoningError
from cadastre.findings import blocking, records
from cadastre.io.files import single_file
from cadastre.settings import County
from cadastre.store.engine import create_engine, write_transaction
from cadastre.store.originals import keep_original
from cadastre.store.schema import RegistryInfo, init_database, registry_info
from cadastre.store.zoning import ZoningImportResult, current_zoning, save_zoning
from cadastre.zoning import Zoning, read_zoning, validate_zoning

__all__ = ["Registry", "Summary", "open_registry", "init_registry"]


@dataclass(frozen=True)
class Summary:
    """Counts of what the registry holds now."""

    counties: tuple[str, ...]
    storage_srid: int
    dialect: str
    districts: int
    subdistricts: int
    zoned_area_km2: float
    parcels: int
    buildings: int
    units: int
    packages: int
    issued_codes: int

    def to_dict(self) -> dict:
        return asdict(self)


class Registry:
    """A registry database: its counties, zoning, packages, parcels, buildings, units and codes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.info: RegistryInfo = registry_info(engine)

    @property
    def counties(self) -> list[County]:
        return [settings.county(code) for code in self.info.counties]

    @property
    def storage_srid(self) -> int:
        return self.info.storage_srid

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------------- zoning
    def zoning(self, counties: Sequence[str] | None = None) -> Zoning:
        """The current 地籍区 and 地籍子区 as GeoDataFrames in the storage CRS."""
        with self.engine.connect() as connection:
            return current_zoning(connection, self.storage_srid, list(counties) if counties else None)

    def import_zoning(self, path: str | os.PathLike, *, imported_by: str | None = None) -> ZoningImportResult:
        """Load 地籍区/地籍子区 from a zip, folder or GeoPackage, replacing the current zoning of its counties.

        The original file is kept; zoning with any error finding is refused with :class:`ZoningError` (its
        ``findings`` name the codes) and changes nothing. Importing identical zoning again records the import as
        ``unchanged``.
        """
        path = Path(path)
        zoning = read_zoning(path, self.counties[0], self.storage_srid)
        findings = validate_zoning(zoning, self.counties)
        errors = blocking(findings)
        if len(errors):
            raise ZoningError(f"地籍区划 {path.name} 有 {len(errors)} 处错误，未导入",
                              f"zoning {path.name} has {len(errors)} errors; nothing imported",
                              records(errors))
        with single_file(path) as upload, write_transaction(self.engine) as connection:
            original = keep_original(connection, upload, path.name + ("/" if path.is_dir() else ""))
            return save_zoning(connection, zoning, original, self.storage_srid, imported_by)

    # ---------------------------------------------------------------------------------------- findings, waivers
    def findings(self, package_id: int):
        """The findings of a stored package, with the waivers given."""
        from cadastre.store.packages import package_findings

        with self.engine.connect() as connection:
            return package_findings(connection, package_id)

    def waive(self, package_id: int, rule: str, feature: str | None, *, by: str, reason: str):
        """Waive one finding of a stored package (staff decision, kept as history)."""
        from cadastre.store.packages import add_waiver

        with write_transaction(self.engine) as connection:
            return add_waiver(connection, package_id, rule, feature, by, reason)

    # ------------------------------------------------------------------------------------------------- permits
    def record_permit(self, permit, *, by: str | None = None):
        """Record a planning permit (a :class:`~cadastre.permit.Permit` or a permit.json path). A new version of a
        permit already recorded ends the current one (kept in history); the same content again changes nothing.
        Its red line, when given, is in the registry's storage CRS."""
        from cadastre.permit import Permit, load_permit
        from cadastre.store.permits import record_permit

        if not isinstance(permit, Permit):
            permit = load_permit(permit)
        with write_transaction(self.engine) as connection:
            return record_permit(connection, permit, self.storage_srid, recorded_by=by)

    def permit(self, number: str):
        """Every recorded version of a permit, oldest first (the last is current unless ended)."""
        from cadastre.store.permits import permit_history

        with self.engine.connect() as connection:
            return permit_history(connection, number)

    def check(self, path: str | os.PathLike, *, permit=None):
        """Check a package against this registry (nothing stored)."""
        from cadastre.check import check_package

        county = self.info.counties[0] if len(self.info.counties) == 1 else None
        return check_package(path, county=county, permit=permit, registry=self)

    def ingest(self, path: str | os.PathLike, *, submitted_by: str | None = None):
        """Check, store and (when no unwaived error remains) accept a survey package; see ``cadastre.ingest``."""
        from cadastre.ingest import ingest_package

        return ingest_package(self, path, submitted_by=submitted_by)

    def building_table(self, building_code: str):
        """The 楼盘表 of a current building (24-character code: 宗地代码 + F + 幢号)."""
        from cadastre.buildingtable import building_table
        from cadastre.store.queries import building_rows

        with self.engine.connect() as connection:
            return building_table(building_rows(connection, building_code))

    def parcel(self, zddm: str) -> dict:
        """A parcel: its current version, buildings, history (versions and code lineage) and readiness."""
        from cadastre.store.queries import parcel_rows

        with self.engine.connect() as connection:
            rows = parcel_rows(connection, zddm)
        versions = rows["versions"]
        current = versions[versions["valid_to"].isna()]
        land = rows["land_code"]
        open_errors = int(rows["open_errors"]["n"].iat[0]) if len(rows["open_errors"]) else 0
        reasons = []
        if current.empty:
            reasons.append("宗地已不是现势宗地")
        elif current["package_status"].iat[0] != "accepted":
            reasons.append("权籍调查成果包未受理")
        if open_errors:
            reasons.append(f"尚有 {open_errors} 处未豁免的错误")
        if land.empty:
            reasons.append("未发放土地不动产单元代码")
        record = current.iloc[0].to_dict() if len(current) else {}
        return {
            "zddm": zddm, "current": {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()},
            "land_code": None if land.empty else land.iloc[0].to_dict(),
            "buildings": rows["buildings"].to_dict("records"),
            "history": versions[["valid_from", "valid_to", "end_reason", "package_id"]].to_dict("records"),
            "lineage": rows["lineage"].to_dict("records"),
            "ready_for_first_registration": not reasons, "not_ready_because": reasons,
        }

    # ------------------------------------------------------------------------------------------------- summary
    def summary(self) -> Summary:
        counts = {}
        with self.engine.connect() as c:
            for key, table in (("districts", "cadastral_district"), ("subdistricts", "cadastral_subdistrict"),
                               ("parcels", "parcel"), ("buildings", "building"), ("units", "unit")):
                counts[key] = c.execute(sa.text(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL")).scalar_one()
            counts["packages"] = c.execute(sa.text("SELECT count(*) FROM package")).scalar_one()
            counts["issued_codes"] = c.execute(sa.text("SELECT count(*) FROM issued_code")).scalar_one()
            area = c.execute(sa.text("SELECT sum(ST_Area(geom)) FROM cadastral_subdistrict "
                                     "WHERE valid_to IS NULL")).scalar_one()
        return Summary(self.info.counties, self.storage_srid, self.info.dialect,
                       zoned_area_km2=round((area or 0.0) / 1e6, 3), **counts)


def open_registry(url: str | None = None) -> Registry:
    """Open an initialised registry (URL: argument, ``CADASTRE_DB``, or the default SpatiaLite file)."""
    return Registry(create_engine(url, must_exist=True))


def init_registry(url: str | None = None, counties: Sequence[str] = ()) -> Registry:
    """Create the registry for ``counties`` (or migrate an existing one) and open it."""
    engine = create_engine(url)
    init_database(engine, counties)
    return Registry(engine)
