"""``ingest``: check a package against the registry, store it, and — when no unwaived survey error remains —
accept it in one transaction: store parcels / buildings / floors / units, allocate codes, record lineage.

Flow (one direction): read → checks (with registry data) → allocation policy (``cadastre.allocate.policy``, pure) →
numbers reserved and rows written by the store. A package with errors is stored as rejected with its findings and
changes nothing else; once staff have waived every error, ingesting the same bytes again accepts it. A package
already accepted is recognised by its checksum and allocates nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from cadastre.allocate.policy import (
    AREA_DEVIATION_LIMIT,
    allocation_order,
    feature_codes,
    match_units,
    plan_scopes,
    unit_order,
)
from cadastre.core.errors import AllocationError, InputError
from cadastre.core.files import sha256_of, single_file
from cadastre.core.progress import Progress, safe
from cadastre.qa.pipeline import READ_SHARE, check_against_registry, check_package_alone
from cadastre.qa.report import Report
from cadastre.qa.rules.base import building_keys
from cadastre.read.package import read_package
from cadastre.store.auth import record
from cadastre.store.context import check_facts
from cadastre.store.counters import raise_to, reserve, scope_maximum
from cadastre.store.engine import serialise, write_transaction
from cadastre.store.models import Package
from cadastre.store.originals import keep_original
from cadastre.store.packages import add_findings, package_by_checksum, package_findings, save_package
from cadastre.store.registry_rows import (
    code_exists_with_prefix,
    current_buildings,
    current_parcels,
    current_units,
    end_rows,
    insert_rows,
    issue_codes,
    parcel_row,
    retire_codes,
)
from cadastre.store.zoning import current_zoning

__all__ = ["IngestResult", "ingest_package"]

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_REFUSED = 0, 1, 2


@dataclass
class IngestResult:
    package_id: int | None
    status: str  # accepted | rejected | refused
    report: dict[str, Any]  # check's JSON object with accepted and assigned
    duplicate: bool = False  # the same bytes were ingested before
    assigned: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"accepted": EXIT_ACCEPTED, "rejected": EXIT_REJECTED}.get(self.status, EXIT_REFUSED)


#: share of the whole ingest taken by reading and checking (storing and coding take the rest)
CHECK_SHARE = 0.8


def ingest_package(registry, path: str | os.PathLike, *, submitted_by: str | None = None,
                   package_id: int | None = None, progress: Progress | None = None, actor=None) -> IngestResult:
    """Check, store and (when clean) accept a survey package into ``registry``.

    The package is read and its rules over the package alone run first, outside any lock. Then one write
    transaction takes the lock of the package's county (``store.engine.serialise``), runs again everything that
    depends on the registry's current state — the registry phase of the check (TOP-002 against registered land,
    TOP-007 zoning, ATT-008 codes, the parcel the buildings stand on, planning against the recorded permit) — and
    accepts or rejects on that, so that of packages claiming the same land at the same moment exactly one is
    accepted and the others are rejected by TOP-002 naming the parcel that won.

    ``package_id`` names a package already *received* (``Registry.receive``) whose original is ``path``: its row
    gets the outcome, refused included. ``progress`` hears ``reading`` / ``checking`` / ``storing``. The outcome
    is written to the audit log in the same transaction, for ``actor`` (a :class:`cadastre.core.auth.Principal`)."""
    progress = safe(progress)
    path = Path(path)
    if package_id is None and path.exists():  # a quick answer for bytes accepted before (decided again below)
        with registry.engine.connect() as connection:
            existing = package_by_checksum(connection, sha256_of(path))
        if existing is not None and existing.status == "accepted":
            return IngestResult(existing.id, "accepted", existing.report, duplicate=True,
                                assigned=existing.report.get("assigned", {}))
    progress("reading", 0.0)
    county = registry.info.counties[0] if len(registry.info.counties) == 1 else None
    try:
        package = read_package(path, county=county, storage_epsg=registry.storage_srid)
    except InputError as e:
        return _refuse(registry, Report.refusal(path.name, e), package_id, actor)
    middle = CHECK_SHARE * READ_SHARE
    progress("checking", middle)
    alone = check_package_alone(package, progress=progress, span=(middle, CHECK_SHARE))
    progress("storing", CHECK_SHARE)
    with write_transaction(registry.engine) as connection:
        serialise(connection, f"county:{package.county.code}", f"package:{package.sha256}")
        data, permit = check_facts(connection, registry.storage_srid, package)
        report = check_against_registry(alone, registry=data, permit=permit)
        existing = package_by_checksum(connection, package.sha256) if package_id is None else None
        if existing is not None and existing.status == "accepted":
            return IngestResult(existing.id, "accepted", existing.report, duplicate=True,
                                assigned=existing.report.get("assigned", {}))
        if existing is not None:  # rejected before: accept only if staff have waived every error since
            package_id = existing.id
            unwaived = _unwaived_errors(connection, package_id, report)
            if len(unwaived):
                return IngestResult(package_id, "rejected", existing.report, duplicate=True)
        else:
            status = "rejected" if len(report.survey_errors) else "accepted"
            if package_id is None:
                with single_file(path) as upload:  # a folder is kept as a reproducible zip of its files
                    original = keep_original(connection, upload, path.name + ("/" if path.is_dir() else ""))
                package_id = save_package(connection, original, report, status, submitted_by)
            else:
                save_package(connection, None, report, status, package_id=package_id)
            if status == "rejected":
                record(connection, actor, "package.rejected", package_id, {"errors": len(report.survey_errors)})
                return IngestResult(package_id, "rejected", report.to_dict())
        now = datetime.now(UTC)
        assigned, comparison = _accept(connection, registry, report, package_id, now)
        report.accepted, report.assigned = True, assigned
        document = report.to_dict()
        if comparison is not None:
            document["comparison"] = comparison
        connection.execute(sa.update(Package).where(Package.id == package_id).values(
            status="accepted", decided_at=now, report=document))
        record(connection, actor, "package.accept", package_id,
               {kind: len(assigned.get(kind) or []) for kind in ("parcels", "units", "retired")}, now)
    return IngestResult(package_id, "accepted", document, duplicate=existing is not None, assigned=assigned)


def _refuse(registry, report: Report, package_id: int | None, actor) -> IngestResult:
    """A package that cannot be read as a whole: a received one records the refusal; nothing else is stored."""
    if package_id is not None:
        with write_transaction(registry.engine) as connection:
            save_package(connection, None, report, "refused", package_id=package_id)
            record(connection, actor, "package.refused", package_id,
                   {"reason": report.findings_list()[0]["message"] if report.findings_list() else None})
    return IngestResult(package_id, "refused", report.to_dict())


def _unwaived_errors(connection, package_id: int, report: Report) -> pd.DataFrame:
    """The survey errors of ``report`` (checked again now) that no waiver of the stored package covers; the ones
    the stored package did not have yet (the registry changed since) are added to its findings, so staff see
    why it still cannot be accepted."""
    stored = package_findings(connection, package_id)
    waived = set(zip(stored["rule"][stored["waived_by"].notna()], stored["feature"][stored["waived_by"].notna()]))
    errors = report.survey_errors
    keys = list(zip(errors["rule"], errors["feature"].where(errors["feature"].notna(), None)))
    unwaived = errors[[key not in waived for key in keys]]
    known = set(zip(stored["rule"], stored["feature"].where(stored["feature"].notna(), None), stored["message"]))
    new = unwaived[[(r, f if isinstance(f, str) else None, m) not in known
                    for r, f, m in zip(unwaived["rule"], unwaived["feature"], unwaived["message"])]]
    if len(new):
        add_findings(connection, package_id, new)
    return unwaived


def _accept(connection, registry, report: Report, package_id: int, now: datetime):
    package = report.source_package
    if package.stage == "cadastral":
        return _accept_cadastral(connection, registry, package, package_id, now), None
    return _accept_buildings(connection, registry, package, package_id, now)


# ------------------------------------------------------------------------------------------------------ cadastral

_PARCEL_COLUMNS = ["BSM", "ZL", "ZDMJ", "YT", "QLLX", "QLXZ", "QLSDFS", "RJL", "JZMD", "JZXG", "QLR"]


def _accept_cadastral(connection, registry, package, package_id: int, now: datetime) -> dict[str, Any]:
    parcels = package.layers["ZDJBXX"].reset_index(drop=True)
    srid = registry.storage_srid
    zones = current_zoning(connection, srid, [package.county.code]).subdistricts
    if zones.empty:
        raise AllocationError("登记库中尚无地籍区划，无法为宗地编码：请先导入 DJQ/DJZQ",
                              "no cadastral zoning in the registry: import DJQ/DJZQ first")
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    zone_geoms = np.asarray(zones.geometry.values, dtype=object)
    left, right = shapely.STRtree(zone_geoms).query(geoms, predicate="intersects")
    area = shapely.area(shapely.intersection(geoms[left], zone_geoms[right]))
    best = pd.DataFrame({"p": left, "z": right, "a": area}).sort_values("a").groupby("p").last()
    zone_code = pd.Series(zones["djzqdm"].to_numpy(object)[best["z"].to_numpy()], index=best.index)
    zone_code = zone_code.reindex(range(len(parcels)))
    tzm = feature_codes(parcels)
    # a supplied code that is current keeps its parcel when type and boundary are unchanged (a re-survey)
    kept, retirements = pd.Series([None] * len(parcels), dtype=object), []
    supplied = parcels["ZDDM"].astype("str")
    old = current_parcels(connection, sorted(set(supplied.dropna())), srid).set_index("zddm")
    rows = np.flatnonzero(supplied.isin(old.index).to_numpy(bool))
    if len(rows):
        before = old.loc[supplied.iloc[rows]]
        old_geoms = np.asarray(before.geometry.values, dtype=object)
        same_type = (supplied.iloc[rows].str[12:14] == tzm.iloc[rows]).to_numpy(bool)
        same_shape = shapely.area(shapely.symmetric_difference(old_geoms, geoms[rows])) <= 0.01
        unchanged = same_type & same_shape
        kept.iloc[rows[unchanged]] = supplied.iloc[rows[unchanged]].to_numpy(object)
        end_rows(connection, "parcel", [int(i) for i in before["id"][unchanged]],
                 f"package {package_id}: 重新测量，代码不变", now)
        end_rows(connection, "parcel", [int(i) for i in before["id"][~unchanged]],
                 f"package {package_id}: 宗地类型或界址变化", now)
        for k in np.flatnonzero(~unchanged):
            retirements.append((rows[k], supplied.iat[rows[k]], before["bdcdyh"].iat[k],
                                "宗地界址变化" if same_type[k] else "宗地特征码变化"))
    needs = kept.isna().to_numpy(bool)
    if (needs & (zone_code.isna().to_numpy(bool) | tzm.isna().to_numpy(bool))).any():
        raise AllocationError("有宗地无法确定地籍子区或宗地特征码，不能编码", "parcels without sub-district or 特征码")
    scopes = pd.Series((zone_code.astype("str") + tzm.astype("str")).to_numpy(object)).where(needs)
    plan = plan_scopes(scopes, allocation_order(parcels))
    starts = {scope: reserve(connection, scope, count).start for scope, count in plan.counts.items()}
    zddm = np.array([kept.iat[i] if not needs[i] else f"{scopes.iat[i]}{starts[scopes.iat[i]] + plan.rank[i]:05d}"
                     for i in range(len(parcels))], dtype=object)
    land = np.array([f"{z}W00000000" for z in zddm], dtype=object)
    columns = {c.lower(): parcels[c].to_numpy(object) for c in _PARCEL_COLUMNS}
    columns.update(zddm=zddm, bdcdyh=land, zdtzm=np.array([z[12:14] for z in zddm], dtype=object))
    insert_rows(connection, "parcel", columns, geoms, srid, package_id=package_id, now=now)
    new = [i for i in range(len(parcels)) if needs[i]]
    issue_codes(connection, [zddm[i] for i in new], "parcel", package_id, now)
    issue_codes(connection, [land[i] for i in new], "unit", package_id, now)
    retire_codes(connection, [(old_code, [zddm[i]], reason) for i, old_code, _, reason in retirements] +
                 [(old_land, [land[i]], reason) for i, _, old_land, reason in retirements if old_land],
                 package_id, now)
    _insert_points_and_lines(connection, package, srid, package_id, now)
    return {"parcels": [{"feature": f, "zddm": z, "bdcdyh": b, "new": bool(n)} for f, z, b, n in
                        zip(parcels["feature"], zddm, land, needs, strict=True)],
            "units": [], "retired": [{"bdcdyh": old_land, "replaced_by": [land[i]], "reason": reason}
                                     for i, _, old_land, reason in retirements if old_land]}


def _insert_points_and_lines(connection, package, srid, package_id, now) -> None:
    points = package.layers.get("JZD")
    if points is not None and len(points):
        insert_rows(connection, "boundary_point", {
            "jzdh": points["JZDH"].to_numpy(object), "zddm": points["ZDZHDM"].to_numpy(object),
            "jblx": points["JBLX"].to_numpy(object), "jzdlx": points["JZDLX"].to_numpy(object)},
            np.asarray(points.geometry.values, dtype=object), srid, package_id=package_id, now=now, multi=False)
    lines = package.layers.get("JZX")
    if lines is not None and len(lines):
        insert_rows(connection, "boundary_line", {
            "zddm": lines["ZDZHDM"].to_numpy(object), "jzxlb": lines["JZXLB"].to_numpy(object),
            "jzxwz": lines["JZXWZ"].to_numpy(object), "jxxz": lines["JXXZ"].to_numpy(object)},
            np.asarray(lines.geometry.values, dtype=object), srid, package_id=package_id, now=now)


# ------------------------------------------------------------------------------------------- pre-sale, as-built

_BUILDING_COLUMNS = ["BSM", "JZWMC", "ZCS", "DSCS", "DXCS", "ZZDMJ", "YCJZMJ", "SCJZMJ", "GHYT", "FWJG", "JZWGD",
                     "ZTS"]
_UNIT_COLUMNS = ["BSM", "SJC", "MYC", "DYH", "HH", "SHBW", "FWLX", "FWXZ", "YCJZMJ", "YCTNJZMJ", "YCFTJZMJ",
                 "YCFTXS", "SCJZMJ", "SCTNJZMJ", "SCFTJZMJ", "SCFTXS", "JSRKZ"]


def _project_parcel(connection, registry, package):
    from cadastre.store.context import registry_data

    data = registry_data(connection, registry.storage_srid, package)
    parcel = data.project_parcel
    if parcel is None or not len(parcel):
        raise AllocationError("找不到自然幢所在的已登记宗地，不能编码", "no registered parcel for the buildings")
    return parcel_row(connection, parcel["zddm"].iat[0], registry.storage_srid)


def _accept_buildings(connection, registry, package, package_id: int, now: datetime):
    srid = registry.storage_srid
    parcel = _project_parcel(connection, registry, package)
    zddm = parcel["zddm"]
    buildings = package.layers["ZRZ"].reset_index(drop=True)
    units = package.layers["H"].reset_index(drop=True)
    existing = current_buildings(connection, zddm)
    asbuilt = package.stage == "asbuilt"
    # a building of this package replaces the current one with its 幢号 when that one is a pre-sale building (a
    # corrected pre-sale survey, or the as-built survey) or, for an as-built package, an earlier as-built one
    replaceable = existing[(existing["stage"] == "presale") | ((existing["stage"] == "asbuilt") & asbuilt)]
    # 幢号: a replaced building keeps its number; a free, valid surveyed number is used; otherwise the next number
    zrzh = buildings["ZRZH"].to_numpy(object)
    numbers = np.empty(len(buildings), dtype=object)
    scope = f"{zddm}F"
    for i, z in enumerate(zrzh):
        valid = isinstance(z, str) and z.isdigit() and 1 <= int(z) <= scope_maximum(scope)
        if valid and z in set(replaceable["zrzh"]):
            numbers[i] = z
        elif valid and z not in set(existing["zrzh"]) and not code_exists_with_prefix(connection, f"{scope}{z}"):
            raise_to(connection, scope, int(z))
            numbers[i] = z
    missing = [i for i in range(len(buildings)) if numbers[i] is None]
    if missing:
        for i, n in zip(missing, reserve(connection, scope, len(missing)), strict=True):
            numbers[i] = f"{n:04d}"
    renumber = dict(zip(building_keys(buildings), numbers, strict=True))
    replaced = replaceable[replaceable["zrzh"].isin(set(numbers))]
    previous = current_units(connection, [int(i) for i in replaced["id"]])
    reason = f"package {package_id}: " + ("实测成果替代" if asbuilt else "新的预测成果替代") + "此前成果"
    end_rows(connection, "unit", [int(i) for i in previous["id"]], reason, now)
    end_rows(connection, "building", [int(i) for i in replaced["id"]], reason, now)
    if len(replaced):
        connection.execute(sa.text("UPDATE floor SET valid_to = :now, end_reason = :r WHERE valid_to IS NULL AND "
                                   "building_id IN :ids").bindparams(sa.bindparam("ids", expanding=True),
                                                                     sa.bindparam("now", type_=sa.DateTime(True))),
                           {"now": now, "r": reason, "ids": [int(i) for i in replaced["id"]]})
    columns = {c.lower(): buildings[c].to_numpy(object) for c in _BUILDING_COLUMNS}
    columns.update(zddm=np.full(len(buildings), zddm, dtype=object), zrzh=numbers,
                   stage=np.full(len(buildings), package.stage, dtype=object),
                   parcel_id=np.full(len(buildings), int(parcel["id"])))
    building_ids = insert_rows(connection, "building", columns, np.asarray(buildings.geometry.values, dtype=object),
                               srid, package_id=package_id, now=now)
    id_of = dict(zip(numbers, building_ids, strict=True))
    unit_number = pd.Series(building_keys(units)).map(renumber).to_numpy(object)
    units = units.assign(building=unit_number)
    # codes: as-built units matched to pre-sale ones keep theirs; the others get 户号 = mark + 1 in order
    codes = pd.Series([None] * len(units), dtype=object)
    matched_by = pd.Series([None] * len(units), dtype=object)
    retired = pd.DataFrame(columns=["bdcdyh"])
    if len(previous):  # units that are the same keep their codes, whichever survey replaces them
        match = match_units(units, previous.rename(columns={"zrzh": "building"}))
        codes, matched_by = match.kept.reset_index(drop=True), match.how.reset_index(drop=True)
        retired = match.retired
    new = codes.isna().to_numpy(bool)
    scopes = pd.Series([f"{zddm}F{b}" for b in unit_number], dtype=object).where(new)
    plan = plan_scopes(scopes, unit_order(units))
    starts = {s: reserve(connection, s, count).start for s, count in plan.counts.items()}
    for i in np.flatnonzero(new):
        codes.iat[i] = f"{scopes.iat[i]}{starts[scopes.iat[i]] + plan.rank[i]:04d}"
    columns = {c.lower(): units[c].to_numpy(object) for c in _UNIT_COLUMNS}
    columns.update(bdcdyh=codes.to_numpy(object), fwyt=units["FWYT1"].to_numpy(object),
                   stage=np.full(len(units), package.stage, dtype=object),
                   building_id=np.array([id_of[b] for b in unit_number]))
    insert_rows(connection, "unit", columns, np.asarray(units.geometry.values, dtype=object), srid,
                package_id=package_id, now=now)
    issue_codes(connection, [codes.iat[i] for i in np.flatnonzero(new)], "unit", package_id, now)
    retirements = [(code, [], "实测成果中无对应的户" if asbuilt else "新的预测成果中无对应的户")
                   for code in retired["bdcdyh"]]
    if asbuilt and parcel["bdcdyh"] and not _retired(connection, parcel["bdcdyh"]):
        # fixture type changes (land only → has buildings): the W code is kept in history, linked to the F codes
        retirements.append((parcel["bdcdyh"], sorted(codes), "定着物特征码变化：宗地上建成房屋"))
    retire_codes(connection, retirements, package_id, now)
    _insert_floors(connection, package, units, numbers, id_of, renumber, srid, package_id, now)
    assigned = {
        "parcels": [],
        "units": [{"feature": f, "bdcdyh": c, "shbw": s, "zrzh": b, "new": bool(n), "matched_by": m}
                  for f, c, s, b, n, m in zip(units["feature"], codes, units["SHBW"], unit_number, new, matched_by,
                                              strict=True)],
        "retired": [{"bdcdyh": old, "replaced_by": successors, "reason": why} for old, successors, why in retirements],
    }
    comparison = _comparison(units, codes, previous) if asbuilt else None
    return assigned, comparison


def _retired(connection, code: str) -> bool:
    return connection.execute(sa.text("SELECT retired_at FROM issued_code WHERE code = :c"),
                              {"c": code}).scalar() is not None


def _insert_floors(connection, package, units, numbers, id_of, renumber, srid, package_id, now) -> None:
    floors = package.layers.get("C")
    if floors is not None and len(floors):
        number = pd.Series(building_keys(floors)).map(renumber).to_numpy(object)
        keep = pd.notna(number)
        floors = floors[keep]
        number = number[keep]
        columns = {"sjc": floors["SJC"].to_numpy(object), "myc": floors["MYC"].to_numpy(object),
                   "cg": floors["CG"].to_numpy(object), "building_id": np.array([id_of[b] for b in number])}
        geometry = np.asarray(floors.geometry.values, dtype=object)
    else:  # no floor layer: the floors the units stand on
        distinct = units[["building", "SJC", "MYC"]].drop_duplicates(["building", "SJC"])
        columns = {"sjc": distinct["SJC"].to_numpy(object), "myc": distinct["MYC"].to_numpy(object),
                   "cg": np.full(len(distinct), None, dtype=object),
                   "building_id": np.array([id_of[b] for b in distinct["building"]])}
        geometry = np.full(len(distinct), None, dtype=object)
    insert_rows(connection, "floor", columns, geometry, srid, package_id=package_id, now=now)


def _comparison(units: pd.DataFrame, codes: pd.Series, previous: pd.DataFrame) -> dict[str, Any]:
    """预测 / 实测 comparison of matched units: both areas, the difference and 面积误差比 (flagged beyond ±3 %)."""
    predicted = dict(zip(previous["bdcdyh"], previous["ycjzmj"], strict=True))
    rows, flagged = [], 0
    for code, shbw, building, measured in zip(codes, units["SHBW"], units["building"], units["SCJZMJ"], strict=True):
        if code not in predicted:
            continue
        before = predicted[code]
        ratio = None if not before or measured is None or pd.isna(measured) else (measured - before) / before
        over = ratio is not None and abs(ratio) > AREA_DEVIATION_LIMIT
        flagged += over
        rows.append({"bdcdyh": code, "zrzh": building, "shbw": shbw, "predicted": before, "measured": measured,
                     "difference": None if ratio is None else round(measured - before, 2),
                     "ratio_percent": None if ratio is None else round(ratio * 100, 2), "flagged": over})
    added = [c for c in codes if c not in predicted]
    removed = [c for c in previous["bdcdyh"] if c not in set(codes)]
    return {"units": rows, "flagged": flagged, "added": added, "removed": removed, "limit_percent": 3.0}
