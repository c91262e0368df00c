"""The county's existing registry (存量数据导入): import it once, in lots, keeping its codes; and the safety net that
keeps the registry from numbering a sub-district the old system numbered before.

A lot is read and its rules over the lot alone run outside any lock (``cadastre.qa.baseline``). Then one write
transaction takes the county's lock, compares the lot's codes with every code the registry has issued, and —
when no error remains, or with ``skip_invalid`` for the rows no error names — stores it as one accepted package of
stage ``baseline``: the original kept, parcels, boundary points and lines, buildings, floors and units as ordinary
current rows, every code issued (retired ones retired), the high-water marks raised past every serial, the
sub-districts it carried codes in marked covered, its findings (warnings on legacy geometry) kept, and the audit
log told. The same bytes imported again change nothing; a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from cadastre.allocate.baseline import high_water_marks
from cadastre.allocate.buildings import floor_rows
from cadastre.core import findings as fnd
from cadastre.core.auth import Principal
from cadastre.core.errors import InputError, NotFoundError
from cadastre.core.events import Event
from cadastre.core.files import single_file
from cadastre.qa.baseline import check_baseline_against_registry, check_baseline_alone, rows_in_error
from cadastre.qa.report import Report
from cadastre.read.baseline import code_states, read_baseline
from cadastre.read.structure import logical_building_names
from cadastre.registry.context import Context
from cadastre.registry.events import emit
from cadastre.registry.ingest import BUILDING_COLUMNS, PARCEL_COLUMNS, UNIT_COLUMNS, insert_points_and_lines
from cadastre.store.auth import record
from cadastre.store.baseline import (
    baseline_facts,
    baseline_lots,
    cover_subdistricts,
    covered_subdistricts,
    issue_baseline_codes,
    raise_marks,
)
from cadastre.store.engine import serialise, write_transaction
from cadastre.store.originals import keep_original
from cadastre.store.packages import accept_package, package_by_checksum, save_package
from cadastre.store.registry_rows import current_parcels, insert_rows
from cadastre.store.zoning import current_zoning

__all__ = ["BaselineResult", "import_baseline", "baseline_lots_of", "declare_empty", "BaselineProgress"]

#: callback(stage, fraction of the whole in 0…1, rows of the lot handled so far)
BaselineProgress = Callable[[str, float, int], None]

EXIT_IMPORTED, EXIT_ERRORS, EXIT_REFUSED = 0, 1, 2
_LEGACY_DATES = ("DJSJ", "JGRQ")


@dataclass
class BaselineResult:
    """What importing one lot did (or, with ``dry_run``, would do)."""

    status: str  # imported | unchanged | rejected | refused | checked (a dry run)
    report: Report
    dry_run: bool = False
    lot_id: int | None = None
    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("parcels", "buildings", "units", "issued_codes"), 0))
    skipped: list[dict[str, Any]] = field(default_factory=list)
    subdistricts: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if self.status == "refused":
            return EXIT_REFUSED
        return EXIT_ERRORS if len(self.report.errors) else EXIT_IMPORTED

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "status": self.status, "lot": self.lot_id, "imported": self.imported,
                "skipped": self.skipped, "subdistricts": self.subdistricts, "findings": self.report.findings_list(),
                "counts": self.report.counts(), "not_run": self.report.not_run, "seconds": self.seconds}


def _progress(progress: BaselineProgress | None) -> BaselineProgress:
    def report(stage: str, fraction: float, rows: int) -> None:
        if progress is not None:
            try:
                progress(stage, min(max(fraction, 0.0), 1.0), rows)
            except Exception:  # a display never fails the work it displays
                pass
    return report


def import_baseline(ctx: Context, path: str | os.PathLike, *, dry_run: bool = False, skip_invalid: bool = False,
                    actor: Principal | None = None, progress: BaselineProgress | None = None,
                    name: str | None = None) -> BaselineResult:
    """Import one lot of the county's existing registry (a zip, folder, GeoPackage or File Geodatabase with ZDJBXX,
    ZRZ, H, optional JZD/JZX/C/LJZ and DYDM, codes filled in).

    Errors (BSL rules, missing key fields) block the lot: nothing is stored (status ``rejected``). With
    ``skip_invalid`` the rows no error names are imported and the others listed in ``skipped`` (a parcel's
    buildings and units go with it). ``dry_run`` reads and checks against the registry and writes nothing.
    ``progress`` hears (stage, fraction, rows)."""
    tell = _progress(progress)
    path = Path(path)
    name = name or path.name + ("/" if path.is_dir() else "")
    clock: dict[str, float] = {}
    started = time.perf_counter()
    tell("reading", 0.0, 0)
    try:
        package = read_baseline(path, county=ctx.county, storage_epsg=ctx.srid, name=name)
    except InputError as e:
        return BaselineResult("refused", Report.refusal(name, e, stage="baseline"), dry_run)
    rows = sum(len(frame) for frame in package.layers.values())
    clock["read"] = time.perf_counter() - started
    tell("checking", 0.3, rows)
    alone = check_baseline_alone(package)
    clock["check"] = time.perf_counter() - started - clock["read"]
    if dry_run:
        with ctx.engine.connect() as connection:
            report = check_baseline_against_registry(alone, baseline_facts(connection, ctx.srid, package))
        keep, skipped = _kept(package, report, skip_invalid=skip_invalid)
        codes = None if keep is None else _codes_to_issue(package, keep)
        result = BaselineResult("checked", report, True, imported=_counts(keep, codes), skipped=skipped,
                                subdistricts=_subdistricts(codes))
        result.seconds = _rounded(clock, started)
        return result
    tell("storing", 0.5, rows)
    with write_transaction(ctx.engine) as connection:
        serialise(connection, f"county:{package.county.code}", f"package:{package.sha256}")
        existing = package_by_checksum(connection, package.sha256)
        if existing is not None and existing.status == "accepted":
            report = Report.from_package(package, fnd.concat([]))
            return BaselineResult("unchanged", report, lot_id=existing.id, seconds=_rounded(clock, started))
        lap = time.perf_counter()
        facts = baseline_facts(connection, ctx.srid, package)
        report = check_baseline_against_registry(alone, facts)
        keep, skipped = _kept(package, report, skip_invalid=skip_invalid)
        clock["against_registry"] = time.perf_counter() - lap
        if keep is None:
            record(connection, actor, "baseline.rejected", name, {"errors": int(len(report.errors))})
            return BaselineResult("rejected", report, skipped=skipped, seconds=_rounded(clock, started))
        now = datetime.now(UTC)
        with single_file(path) as upload:
            original = keep_original(connection, upload, name)
        lot_id = save_package(connection, original, report, "accepted", actor.name if actor else None)
        codes = _codes_to_issue(package, keep)  # once: the codes to issue name the sub-districts covered too
        imported = _write_lot(connection, ctx.srid, package, keep, codes, lot_id, now, tell, rows, clock,
                              known=set(facts.issued["code"]))
        subdistricts = _subdistricts(codes)
        cover_subdistricts(connection, subdistricts, "imported", now, package_id=lot_id)
        document = report.to_dict()
        document.update(accepted=True, imported=imported, skipped=skipped, subdistricts=subdistricts)
        accept_package(connection, lot_id, now, document)
        record(connection, actor, "baseline.import", lot_id, {**imported, "skipped": len(skipped),
                                                              "file": name, "sha256": package.sha256}, now)
        emit(connection, [Event("baseline.imported", {"lot_id": lot_id, "filename": name, "imported": imported,
                                                      "skipped": len(skipped), "subdistricts": subdistricts},
                                now)])
    tell("done", 1.0, rows)
    return BaselineResult("imported", report, lot_id=lot_id, imported=imported, skipped=skipped,
                          subdistricts=subdistricts, seconds=_rounded(clock, started))


def _rounded(clock: dict[str, float], started: float) -> dict[str, float]:
    return {**{k: round(v, 3) for k, v in clock.items()}, "total": round(time.perf_counter() - started, 3)}


def _kept(package, report: Report, *, skip_invalid: bool) -> tuple[dict[str, np.ndarray] | None, list[dict]]:
    """Per layer, the rows to import, and what is left out; None when errors block the whole lot."""
    errors = report.errors
    if not len(errors):
        return {layer: np.ones(len(frame), bool) for layer, frame in package.layers.items()}, []
    found = rows_in_error(package, report.findings)
    skipped = []
    for layer, rows in found.rows.items():
        frame = package.layers[layer]
        code = "ZDDM" if layer in ("ZDJBXX", "ZRZ") else "BDCDYH"
        values = frame[code].astype("str").to_numpy(object) if code in frame else np.full(len(frame), None, object)
        skipped += [{"layer": layer, "feature": f, "code": c if isinstance(c, str) else None}
                    for f, c in zip(frame["feature"].to_numpy(object)[rows], values[rows], strict=True)]
    if not skip_invalid or len(found.whole_lot):
        return None, skipped
    return {layer: ~rows for layer, rows in found.rows.items()}, skipped


def _counts(keep: dict[str, np.ndarray] | None, codes: pd.DataFrame | None) -> dict[str, int]:
    """What the lot would store: its kept rows per table and ``codes`` (:func:`_codes_to_issue`, None with
    ``keep``)."""
    if keep is None:
        return dict.fromkeys(("parcels", "buildings", "units", "issued_codes"), 0)
    n = {layer: int(mask.sum()) for layer, mask in keep.items()}
    return {"parcels": n.get("ZDJBXX", 0), "buildings": n.get("ZRZ", 0), "units": n.get("H", 0),
            "issued_codes": len(codes)}


def _subdistricts(codes: pd.DataFrame | None) -> list[str]:
    """The 地籍子区 the lot's codes lie in (their first 12 characters)."""
    if codes is None:
        return []
    return sorted(set(codes["code"].str.slice(0, 12)))


def _codes_to_issue(package, keep: dict[str, np.ndarray]) -> pd.DataFrame:
    """Every code of the kept rows (code, kind, retired): parcels' 宗地代码 and land codes, units' codes, and the DYDM
    table's codes (its state wins only for codes no current row carries)."""
    parts = []

    def add(layer: str, column: str, kind: str) -> None:
        frame = package.layers.get(layer)
        if frame is not None and column in frame:
            values = frame[column].astype("str").str.strip()[keep[layer]].dropna()
            parts.append(pd.DataFrame({"code": values.to_numpy(object), "kind": kind, "retired": False}))

    add("ZDJBXX", "ZDDM", "parcel")
    add("ZDJBXX", "BDCDYH", "unit")
    add("H", "BDCDYH", "unit")
    table = package.layers.get("DYDM")
    if table is not None and "ZT" in table:
        kept = keep["DYDM"]
        code = table["BDCDYH"].astype("str").str.strip().to_numpy(object)[kept]
        states = code_states(table["ZT"])[kept]
        known = pd.notna(code) & pd.notna(states)
        parts.append(pd.DataFrame({"code": code[known], "kind": np.where(
            pd.Series(code[known], dtype="str").str.len().to_numpy() == 19, "parcel", "unit"),
            "retired": states[known] == "retired"}))
    if not parts:
        return pd.DataFrame({"code": pd.Series(dtype="str"), "kind": pd.Series(dtype=object),
                             "retired": pd.Series(dtype=bool)})
    return pd.concat(parts, ignore_index=True).drop_duplicates("code", keep="first").reset_index(drop=True)


#: the unit columns stored as surveyed (实际层 comes from the floors the unit spans)
_UNIT_COLUMNS = [c for c in UNIT_COLUMNS if c != "SJC"]


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(object) if name in frame else np.full(len(frame), None, dtype=object)


def _attributes(frame: pd.DataFrame) -> np.ndarray:
    """The old system's dates, kept as attributes where given."""
    present = [c for c in _LEGACY_DATES if c in frame]
    if not present:
        return np.full(len(frame), None, dtype=object)
    values = {c: frame[c].astype("str").to_numpy(object) for c in present}
    return np.array([{c: values[c][i] for c in present if isinstance(values[c][i], str)} or None
                     for i in range(len(frame))], dtype=object)


def _polygons(frame: pd.DataFrame) -> np.ndarray:
    """Geometries to store: polygons as they are (an invalid legacy outline is kept, and warned), others dropped."""
    geoms = np.asarray(frame.geometry.values, dtype=object).copy()
    kind = shapely.get_type_id(geoms)
    geoms[~np.isin(kind, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])] = None
    return geoms


def _write_lot(connection, srid: int, package, keep: dict[str, np.ndarray], codes: pd.DataFrame, lot_id: int,
               now: datetime, tell: BaselineProgress, rows: int, clock: dict[str, float],
               known: set[str]) -> dict[str, int]:
    """Store the kept rows of the lot and issue its ``codes`` (:func:`_codes_to_issue`); ``known``: its codes the
    registry issued before (read under this lock: the same DYDM rows of an earlier lot, issued once); ``clock``
    gets the seconds of each table's part."""
    structure = package.structure
    lap = time.perf_counter()
    parcels = package.layers.get("ZDJBXX")
    ids_of_parcel: dict[str, int] = {}
    n_parcels = n_buildings = n_units = 0
    if parcels is not None and keep["ZDJBXX"].any():
        kept = parcels[keep["ZDJBXX"]].reset_index(drop=True)
        zddm = kept["ZDDM"].astype("str").str.strip().to_numpy(object)
        columns = {c.lower(): _column(kept, c) for c in PARCEL_COLUMNS}
        columns.update(zddm=zddm, bdcdyh=_column(kept, "BDCDYH"),
                       zdtzm=np.array([z[12:14] for z in zddm], dtype=object), attributes=_attributes(kept))
        ids = insert_rows(connection, "parcel", columns, _polygons(kept), srid, package_id=lot_id, now=now)
        ids_of_parcel.update(zip(zddm, ids, strict=True))
        n_parcels = len(kept)
        dropped = set(parcels["ZDDM"].astype("str")[~keep["ZDJBXX"]].dropna())
        insert_points_and_lines(connection, package, srid, lot_id, now, leave_out=dropped)
    clock["store_parcels"] = time.perf_counter() - lap
    lap = time.perf_counter()
    tell("storing", 0.6, n_parcels)
    buildings = package.layers.get("ZRZ")
    if buildings is not None and keep["ZRZ"].any():
        rows_kept = np.flatnonzero(keep["ZRZ"])
        kept = buildings.iloc[rows_kept].reset_index(drop=True)
        zddm = kept["ZDDM"].astype("str").str.strip().to_numpy(object)
        elsewhere = sorted(set(zddm) - set(ids_of_parcel))  # parcels of an earlier lot
        if elsewhere:
            registered = current_parcels(connection, elsewhere, srid)
            ids_of_parcel.update(zip(registered["zddm"], registered["id"].astype(int), strict=True))
        zrzh = kept["ZRZH"].astype("str").to_numpy(object)
        keys = np.array([f"{z}F{n}" for z, n in zip(zddm, zrzh, strict=True)], dtype=object)
        units = package.layers.get("H")
        unit_rows = np.flatnonzero(keep["H"]) if units is not None else np.empty(0, int)
        unit_building = structure.unit_building[unit_rows] if len(unit_rows) else np.empty(0, int)
        # a building is as-built when it or one of its units carries 实测 areas
        surveyed = np.zeros(len(buildings), bool)
        if "SCJZMJ" in buildings:
            surveyed |= pd.notna(buildings["SCJZMJ"].to_numpy(object))
        if units is not None and "SCJZMJ" in units and len(unit_rows):
            has = pd.notna(units["SCJZMJ"].to_numpy(object)[unit_rows]) & (unit_building >= 0)
            surveyed[unit_building[has]] = True
        stage = np.where(surveyed[rows_kept], "asbuilt", "presale").astype(object)
        columns = {c.lower(): _column(kept, c) for c in BUILDING_COLUMNS}
        columns.update(zddm=zddm, zrzh=zrzh, zrzh_label=np.full(len(kept), None, object), stage=stage,
                       parcel_id=np.array([ids_of_parcel[z] for z in zddm]), attributes=_attributes(kept))
        building_ids = insert_rows(connection, "building", columns, _polygons(kept), srid, package_id=lot_id,
                                   now=now)
        n_buildings = len(kept)
        id_of = dict(zip(keys, building_ids, strict=True))
        stage_of = dict(zip(keys, stage, strict=True))
        key_of_row = dict(zip(rows_kept, keys, strict=True))
        renumber = dict(zip(structure.building_keys[rows_kept], keys, strict=True))
        tell("storing", 0.7, n_parcels + n_buildings)
        if units is not None and len(unit_rows):
            chosen = units.iloc[unit_rows].reset_index(drop=True)
            building = np.array([key_of_row[b] for b in unit_building], dtype=object)
            low, high = structure.unit_low[unit_rows], structure.unit_high[unit_rows]
            chosen = chosen.assign(building=building, low=low, high=high)
            columns = {c.lower(): _column(chosen, c) for c in _UNIT_COLUMNS}
            columns.update(
                sjc=np.where(np.isfinite(low), low, chosen["SJC"].to_numpy(float)).astype(int),
                zzc=np.where(np.isfinite(high) & (high > low), high, np.nan),
                ljzh=_column(chosen, "LJZH"), ljzmc=logical_building_names(package.layers.get("LJZ"), chosen),
                bdcdyh=chosen["BDCDYH"].astype("str").str.strip().to_numpy(object), fwyt=_column(chosen, "FWYT1"),
                stage=np.array([stage_of[b] for b in building], dtype=object),
                building_id=np.array([id_of[b] for b in building]), attributes=_attributes(chosen))
            insert_rows(connection, "unit", columns, _polygons(chosen), srid, package_id=lot_id, now=now)
            n_units = len(chosen)
            floors = package.layers.get("C")
            floor_keys = np.empty(0, object)
            if floors is not None:
                floor_subset = np.flatnonzero(keep["C"] & np.isin(structure.floor_building, rows_kept))
                floors = floors.iloc[floor_subset]
                floor_keys = structure.floor_building_keys[floor_subset]
            floor_columns, floor_geometry = floor_rows(floors, floor_keys, chosen, renumber, id_of)
            insert_rows(connection, "floor", floor_columns, floor_geometry, srid, package_id=lot_id, now=now)
    clock["store_buildings_units_floors"] = time.perf_counter() - lap
    lap = time.perf_counter()
    tell("storing", 0.85, n_parcels + n_buildings + n_units)
    fresh = codes[~codes["code"].isin(known)]
    issue_baseline_codes(connection, fresh, lot_id, now)
    raise_marks(connection, high_water_marks(codes["code"]))
    clock["store_codes_and_marks"] = time.perf_counter() - lap
    tell("storing", 0.95, rows)
    return {"parcels": n_parcels, "buildings": n_buildings, "units": n_units, "issued_codes": len(fresh)}


def baseline_lots_of(ctx: Context) -> pd.DataFrame:
    """Every baseline lot imported (or refused at the lock): id, file, checksum, status, times, what it imported."""
    with ctx.engine.connect() as connection:
        return baseline_lots(connection)


def declare_empty(ctx: Context, djzqdm: str, *, reason: str | None = None, actor: Principal | None = None) -> None:
    """Declare that 地籍子区 ``djzqdm`` had no codes before this service, so the registry may number in it under a
    county's ``require_baseline`` setting. Audited; the sub-district must be in the registry's zoning."""
    with write_transaction(ctx.engine) as connection:
        zones = current_zoning(connection, ctx.srid, [c.code for c in ctx.counties]).subdistricts
        if djzqdm not in set(zones["djzqdm"]):
            raise NotFoundError(f"登记库的地籍区划中没有地籍子区 {djzqdm}", f"no sub-district {djzqdm} in the zoning")
        serialise(connection, f"county:{djzqdm[:6]}")
        if djzqdm in covered_subdistricts(connection, [djzqdm]):
            return
        now = datetime.now(UTC)
        cover_subdistricts(connection, [djzqdm], "declared_empty", now,
                           declared_by=actor.name if actor else None, reason=reason)
        record(connection, actor, "baseline.declare_empty", djzqdm, {"reason": reason}, now)

