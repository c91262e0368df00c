"""Checking a package against the registry, and ingesting it: store it, and — when no unwaived survey error remains
— accept it in one transaction: parcels / buildings / floors / units stored, codes allocated, lineage recorded.

Flow (one direction): read → the rules over the package alone (outside any lock) → under the county's lock, the
rules that depend on the registry's state, then the allocation policy (``cadastre.allocate``, pure) with numbers
reserved and rows written by the store. A package with errors is stored as rejected with its findings and changes
nothing else; once staff have waived every error, ingesting the same bytes again accepts it. A package already
accepted is recognised by its checksum and allocates nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cadastre.allocate.buildings import area_comparison, building_numbers, floor_rows, is_building_number
from cadastre.allocate.buildingtable import readiness_of_buildings
from cadastre.allocate.parcels import parcel_codes, resurvey, subdistrict_codes
from cadastre.allocate.policy import allocation_order, match_units, plan_scopes, unit_order
from cadastre.core import collector
from cadastre.core.codes import feature_codes
from cadastre.core.errors import AllocationError
from cadastre.core.events import Event, accepted_events, package_links
from cadastre.core.files import sha256_of, single_file
from cadastre.core.permit import Permit
from cadastre.core.progress import Progress, safe
from cadastre.qa.pipeline import (
    READ_SHARE,
    check_against_registry,
    check_package,
    check_package_alone,
    read_for_check,
)
from cadastre.qa.report import Report
from cadastre.read.structure import logical_building_names, room_keys, unit_identities
from cadastre.registry.context import Context
from cadastre.registry.events import emit
from cadastre.store.auth import record
from cadastre.store.baseline import covered_subdistricts
from cadastre.store.context import check_facts
from cadastre.store.counters import raise_to, reserve, scope_maximum
from cadastre.store.engine import meanwhile, serialise, write_transaction
from cadastre.store.originals import keep_original
from cadastre.store.packages import (
    accept_package,
    add_findings,
    package_by_checksum,
    package_findings,
    save_package,
)
from cadastre.store.queries import open_errors
from cadastre.store.registry_rows import (
    code_retired,
    current_buildings,
    current_parcels,
    current_units,
    end_floors,
    end_rows,
    insert_rows,
    issue_codes,
    issued_building_numbers,
    parcel_row,
    retire_codes,
)
from cadastre.store.zoning import current_zoning

__all__ = ["IngestResult", "check", "ingest_package"]

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_REFUSED = 0, 1, 2

#: share of the whole ingest taken by reading and checking (storing and coding take the rest)
CHECK_SHARE = 0.8


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


def check(ctx: Context, path: str | os.PathLike, *, county: str | None = None, permit=None,
          progress: Progress | None = None, span: tuple[float, float] = (0.0, 1.0), name: str | None = None) -> Report:
    """Check a package against this registry (nothing stored): every rule, those against the registered parcels,
    zoning and codes included, and the planning verification against the recorded permit."""

    def facts(package, given: Permit | None):
        with ctx.engine.connect() as connection:
            return check_facts(connection, ctx.srid, package, given)

    return check_package(path, county=county or ctx.county, permit=permit, storage_epsg=ctx.srid, facts=facts,
                         progress=progress, span=span, name=name)


@collector.paused()
def ingest_package(ctx: Context, path: str | os.PathLike, *, submitted_by: str | None = None,
                   package_id: int | None = None, progress: Progress | None = None, actor=None,
                   name: str | None = None) -> IngestResult:
    """Check, store and (when clean) accept a survey package.

    The package is read and its rules over the package alone run first, outside any lock. Then one write
    transaction takes the lock of the package's county (``store.engine.serialise``), runs again everything that
    depends on the registry's current state — the registry phase of the check (TOP-002 against registered land,
    TOP-007 zoning, ATT-008 codes, the parcel the buildings stand on, planning against the recorded permit) — and
    accepts or rejects on that, so that of packages claiming the same land at the same moment exactly one is
    accepted and the others are rejected by TOP-002 naming the parcel that won.

    ``package_id`` names a package already *received* (``packages.receive``) whose original is ``path``: its row
    gets the outcome, refused included; ``name`` is its file's name as uploaded. ``progress`` hears ``reading`` /
    ``checking`` / ``storing``. The outcome is written to the audit log in the same transaction, for ``actor`` (a
    :class:`cadastre.core.auth.Principal`)."""
    progress = safe(progress)
    path = Path(path)
    if package_id is None and path.exists():  # a quick answer for bytes accepted before (decided again below)
        with ctx.engine.connect() as connection:
            existing = package_by_checksum(connection, sha256_of(path))
        if existing is not None and existing.status == "accepted":
            return IngestResult(existing.id, "accepted", existing.report, duplicate=True,
                                assigned=existing.report.get("assigned", {}))
    progress("reading", 0.0)
    package = read_for_check(path, county=ctx.county, storage_epsg=ctx.srid, name=name)
    if isinstance(package, Report):
        return _refuse(ctx, package, package_id, actor)
    middle = CHECK_SHARE * READ_SHARE
    progress("checking", middle)
    alone = check_package_alone(package, progress=progress, span=(middle, CHECK_SHARE))
    progress("storing", CHECK_SHARE)
    with write_transaction(ctx.engine) as connection:
        serialise(connection, f"county:{package.county.code}", f"package:{package.sha256}")
        facts, permit = check_facts(connection, ctx.srid, package)
        report = check_against_registry(alone, registry=facts, permit=permit)
        existing = package_by_checksum(connection, package.sha256) if package_id is None else None
        if existing is not None and existing.status == "received":  # uploaded, not processed yet: this is it
            package_id, existing = int(existing.id), None
        if existing is not None and existing.status == "accepted":
            return IngestResult(existing.id, "accepted", existing.report, duplicate=True,
                                assigned=existing.report.get("assigned", {}))
        if existing is not None:  # rejected before: accept only if staff have waived every error since
            package_id = existing.id
            if len(_unwaived_errors(connection, package_id, report)):
                return IngestResult(package_id, "rejected", existing.report, duplicate=True)
        else:
            status = "rejected" if len(report.survey_errors) else "accepted"
            if package_id is None:
                with single_file(path) as upload:  # a folder is kept as a reproducible zip of its files
                    original = keep_original(connection, upload, name or path.name + ("/" if path.is_dir() else ""))
                package_id = save_package(connection, original, report, status, submitted_by)
            else:
                save_package(connection, None, report, status, package_id=package_id)
            if status == "rejected":
                record(connection, actor, "package.rejected", package_id, {"errors": len(report.survey_errors)})
                emit(connection, [Event("package.rejected", {
                    "package_id": package_id, "stage": package.stage, "filename": name or path.name,
                    "errors": int(len(report.survey_errors)),
                    "rules": sorted(set(report.survey_errors["rule"])), "links": package_links(package_id)})])
                return IngestResult(package_id, "rejected", report.to_dict())
        now = datetime.now(UTC)
        if package.stage == "cadastral":
            assigned, comparison = _accept_cadastral(connection, ctx.srid, package, package_id, now), None
        else:
            assigned, comparison = _accept_buildings(connection, ctx.srid, package, package_id, now, facts)
        report.accepted, report.assigned = True, assigned
        document = report.to_dict()
        if comparison is not None:
            document["comparison"] = comparison
        accept_package(connection, package_id, now, document)
        record(connection, actor, "package.accept", package_id,
               {kind: len(assigned.get(kind) or []) for kind in ("parcels", "units", "retired")}, now)
        # each building's readiness for 首次登记 goes out with the codes: the 楼盘表's rule (allocate.buildingtable)
        # over this package's open errors and planning indicators, once for all its buildings
        errors = open_errors(connection, package_id)
        indicators = pd.DataFrame(document.get("indicators") or [],
                                  columns=["indicator", "subject", "status", "reason", "rule"])
        buildings = sorted({u["bdcdyh"][:24] for u in assigned.get("units") or []})
        why = readiness_of_buildings(package.stage, "accepted", [code[20:] for code in buildings], errors, indicators)
        ready = dict(zip(buildings, why, strict=True))
        emit(connection, accepted_events(package_id, package.stage, name or path.name, assigned, ready, now))
    return IngestResult(package_id, "accepted", document, duplicate=existing is not None, assigned=assigned)


def _refuse(ctx: Context, report: Report, package_id: int | None, actor) -> IngestResult:
    """A package that cannot be read as a whole: a received one records the refusal; nothing else is stored."""
    if package_id is not None:
        with write_transaction(ctx.engine) as connection:
            save_package(connection, None, report, "refused", package_id=package_id)
            reason = report.findings_list()[0]["message"] if report.findings_list() else None
            record(connection, actor, "package.refused", package_id, {"reason": reason})
            emit(connection, [Event("package.refused", {"package_id": package_id, "reason": reason,
                                                        "links": package_links(package_id)})])
    return IngestResult(package_id, "refused", report.to_dict())


def _unwaived_errors(connection, package_id: int, report: Report) -> pd.DataFrame:
    """The survey errors of ``report`` (checked again now) that no waiver of the stored package covers; the ones
    the stored package did not have yet (the registry changed since) are added to its findings, so staff see
    why it still cannot be accepted."""
    stored = package_findings(connection, package_id)
    is_waived = stored["waived_by"].notna()
    waived = set(zip(stored["rule"][is_waived], stored["feature"][is_waived], strict=True))
    errors = report.survey_errors
    if errors.empty:  # nothing to waive (an empty report frame has no columns to look at)
        return errors
    keys = list(zip(errors["rule"], errors["feature"].where(errors["feature"].notna(), None), strict=True))
    unwaived = errors[[key not in waived for key in keys]]
    known = set(zip(stored["rule"], stored["feature"].where(stored["feature"].notna(), None), stored["message"],
                    strict=True))
    new = unwaived[[(r, f if isinstance(f, str) else None, m) not in known
                    for r, f, m in zip(unwaived["rule"], unwaived["feature"], unwaived["message"], strict=True)]]
    if len(new):
        add_findings(connection, package_id, new)
    return unwaived


# ------------------------------------------------------------------------------------------------------ cadastral

PARCEL_COLUMNS = ["BSM", "ZL", "ZDMJ", "YT", "QLLX", "QLXZ", "QLSDFS", "RJL", "JZMD", "JZXG", "QLR"]


def _accept_cadastral(connection, srid: int, package, package_id: int, now: datetime) -> dict[str, Any]:
    parcels = package.layers["ZDJBXX"].reset_index(drop=True)
    zones = current_zoning(connection, srid, [package.county.code]).subdistricts
    if zones.empty:
        raise AllocationError("登记库中尚无地籍区划，无法为宗地编码：请先导入 DJQ/DJZQ",
                              "no cadastral zoning in the registry: import DJQ/DJZQ first")
    zone_code = subdistrict_codes(parcels, zones)
    tzm = feature_codes(parcels)
    # a supplied code that is current keeps its parcel when type and boundary are unchanged (a re-survey)
    supplied = parcels["ZDDM"].astype("str")
    again = resurvey(parcels, tzm, current_parcels(connection, sorted(set(supplied.dropna())), srid))
    end_rows(connection, "parcel", again.unchanged_ids, f"package {package_id}: 重新测量，代码不变", now)
    end_rows(connection, "parcel", again.changed_ids, f"package {package_id}: 宗地类型或界址变化", now)
    needs = again.kept.isna().to_numpy(bool)
    if (needs & (zone_code.isna().to_numpy(bool) | tzm.isna().to_numpy(bool))).any():
        raise AllocationError("有宗地无法确定地籍子区或宗地特征码，不能编码", "parcels without sub-district or 特征码")
    if package.county.require_baseline:  # numbering from 00001 where the old system issued codes would collide
        wanted = sorted(set(zone_code[needs].astype("str")))
        uncovered = sorted(set(wanted) - covered_subdistricts(connection, wanted))
        if uncovered:
            shown = "、".join(uncovered[:5])
            raise AllocationError(
                f"地籍子区 {shown} 尚未导入存量数据，不能在其中编宗地代码（以免与原系统已发放的代码重复）："
                f"请先用 cadastre baseline import 导入该子区的存量数据，或由管理员确认该子区此前没有发放过代码"
                f"（cadastre baseline declare-empty {uncovered[0]}）",
                f"sub-districts {uncovered} have no baseline: import it or declare them empty")
    scopes = pd.Series((zone_code.astype("str") + tzm.astype("str")).to_numpy(object)).where(needs)
    plan = plan_scopes(scopes, allocation_order(parcels))
    starts = {scope: reserve(connection, scope, count).start for scope, count in plan.counts.items()}
    zddm = parcel_codes(again.kept, plan, starts)
    land = np.array([f"{z}W00000000" for z in zddm], dtype=object)
    columns = {c.lower(): parcels[c].to_numpy(object) for c in PARCEL_COLUMNS}
    columns.update(zddm=zddm, bdcdyh=land, zdtzm=np.array([z[12:14] for z in zddm], dtype=object))
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    insert_rows(connection, "parcel", columns, geoms, srid, package_id=package_id, now=now)
    new = np.flatnonzero(needs)
    issue_codes(connection, list(zddm[new]), "parcel", package_id, now)
    issue_codes(connection, list(land[new]), "unit", package_id, now)
    retire_codes(connection, [(old_code, [zddm[i]], reason) for i, old_code, _, reason in again.retirements] +
                 [(old_land, [land[i]], reason) for i, _, old_land, reason in again.retirements if old_land],
                 package_id, now)
    insert_points_and_lines(connection, package, srid, package_id, now)
    return {"parcels": [{"feature": f, "zddm": z, "bdcdyh": b, "new": bool(n)} for f, z, b, n in
                        zip(parcels["feature"], zddm, land, needs, strict=True)],
            "units": [], "retired": [{"bdcdyh": old_land, "replaced_by": [land[i]], "reason": reason}
                                     for i, _, old_land, reason in again.retirements if old_land]}


def insert_points_and_lines(connection, package, srid, package_id, now, *, leave_out: set[str] = frozenset()) -> None:
    """The package's 界址点 and 界址线, but those of the parcels ``leave_out`` (宗地代码)."""
    points = package.layers.get("JZD")
    if points is not None and leave_out:
        points = points[~points["ZDZHDM"].isin(leave_out).to_numpy(bool)]
    if points is not None and len(points):
        insert_rows(connection, "boundary_point", {
            "jzdh": points["JZDH"].to_numpy(object), "zddm": points["ZDZHDM"].to_numpy(object),
            "jblx": points["JBLX"].to_numpy(object), "jzdlx": points["JZDLX"].to_numpy(object)},
            np.asarray(points.geometry.values, dtype=object), srid, package_id=package_id, now=now, multi=False)
    lines = package.layers.get("JZX")
    if lines is not None and leave_out:
        lines = lines[~lines["ZDZHDM"].isin(leave_out).to_numpy(bool)]
    if lines is not None and len(lines):
        insert_rows(connection, "boundary_line", {
            "zddm": lines["ZDZHDM"].to_numpy(object), "jzxlb": lines["JZXLB"].to_numpy(object),
            "jzxwz": lines["JZXWZ"].to_numpy(object), "jxxz": lines["JXXZ"].to_numpy(object)},
            np.asarray(lines.geometry.values, dtype=object), srid, package_id=package_id, now=now)


# ------------------------------------------------------------------------------------------- pre-sale, as-built

BUILDING_COLUMNS = ["BSM", "JZWMC", "ZCS", "DSCS", "DXCS", "ZZDMJ", "YCJZMJ", "SCJZMJ", "GHYT", "FWJG", "JZWGD",
                     "ZTS"]
UNIT_COLUMNS = ["BSM", "SJC", "MYC", "DYH", "HH", "SHBW", "FWLX", "FWXZ", "YCJZMJ", "YCTNJZMJ", "YCFTJZMJ",
                 "YCFTXS", "SCJZMJ", "SCTNJZMJ", "SCFTJZMJ", "SCFTXS", "JSRKZ"]


def _accept_buildings(connection, srid: int, package, package_id: int, now: datetime, facts):
    """Code a pre-sale / as-built package's buildings and units, each building under the parcel it stands on (a
    project may stand on several: two land grants, an underground parcel under the courtyard). ``facts``: what the
    registry phase read in this transaction, under its lock (``store.context.check_facts``)."""
    on = facts.building_parcel
    if facts.project_parcel is None or not len(facts.project_parcel) or on is None or pd.isna(on).any():
        raise AllocationError("找不到自然幢所在的已登记宗地，不能编码", "no registered parcel for the buildings")
    lost = np.flatnonzero(package.structure.unit_building < 0)
    if len(lost):  # an ATT-007 error waived: coding would leave these units out, and nothing may be lost
        features = "、".join(map(str, package.layers["H"]["feature"].to_numpy()[lost[:5]]))
        raise AllocationError(f"有 {len(lost)} 户无法确定所属自然幢（如 {features}），不能编码：请在成果包中补正自然幢号或宗地代码",
                              f"{len(lost)} units belong to no building of the package")
    assigned: dict[str, list] = {"parcels": [], "units": [], "retired": []}
    comparisons = []
    for zddm in dict.fromkeys(on):  # the parcels in the order of their first building
        part, comparison = _accept_on_parcel(connection, srid, package, package_id, now,
                                             parcel_row(connection, zddm, srid), np.flatnonzero(on == zddm))
        for key in assigned:
            assigned[key] += part[key]
        comparisons.append(comparison)
    if package.stage != "asbuilt":
        return assigned, None
    return assigned, {"units": [u for c in comparisons for u in c["units"]],
                      "flagged": sum(c["flagged"] for c in comparisons),
                      "added": [a for c in comparisons for a in c["added"]],
                      "removed": [r for c in comparisons for r in c["removed"]],
                      "limit_percent": comparisons[0]["limit_percent"]}


def _accept_on_parcel(connection, srid: int, package, package_id: int, now: datetime, parcel, rows: np.ndarray):
    """Code the buildings ``rows`` of the package (ZRZ rows), their units and floors, under ``parcel``."""
    zddm = parcel["zddm"]
    structure = package.structure
    buildings = package.layers["ZRZ"].reset_index(drop=True).iloc[rows].reset_index(drop=True)
    unit_rows = np.flatnonzero(np.isin(structure.unit_building, rows))
    units = package.layers["H"].reset_index(drop=True).iloc[unit_rows].reset_index(drop=True)
    existing = current_buildings(connection, zddm)
    asbuilt = package.stage == "asbuilt"
    # a building of this package replaces the current one with its 幢号 when that one is a pre-sale building (a
    # corrected pre-sale survey, or the as-built survey) or, for an as-built package, an earlier as-built one
    replaceable = existing[(existing["stage"] == "presale") | ((existing["stage"] == "asbuilt") & asbuilt)]
    scope = f"{zddm}F"
    chosen = building_numbers(buildings["ZRZH"], dict(zip(replaceable["zrzh"], replaceable["zrzh_label"], strict=True)),
                              set(existing["zrzh"]), issued_building_numbers(connection, zddm), scope_maximum(scope))
    numbers = chosen.numbers
    if chosen.used:
        raise_to(connection, scope, max(chosen.used))
    missing = [i for i in range(len(buildings)) if numbers[i] is None]
    if missing:
        for i, n in zip(missing, reserve(connection, scope, len(missing)), strict=True):
            numbers[i] = f"{n:04d}"
    renumber = dict(zip(structure.building_keys[rows], numbers, strict=True))
    replaced = replaceable[replaceable["zrzh"].isin(set(numbers))]
    replaced_ids = [int(i) for i in replaced["id"]]
    previous = current_units(connection, replaced_ids)
    reason = f"package {package_id}: " + ("实测成果替代" if asbuilt else "新的预测成果替代") + "此前成果"
    ended_units = previous["id"].astype("int64").tolist()

    def end_replaced(c) -> None:  # the replaced buildings' current rows: history, superseded now
        end_rows(c, "unit", ended_units, reason, now)
        end_rows(c, "building", replaced_ids, reason, now)
        end_floors(c, replaced_ids, reason, now)

    unit_number = pd.Series(structure.unit_building_keys[unit_rows]).map(renumber).to_numpy(object)
    # the database ends them (a project's 40 800 units: 0.15 s) while the new survey's units are matched to them
    with meanwhile(connection, end_replaced):
        low, high = structure.unit_low[unit_rows], structure.unit_high[unit_rows]
        units = units.assign(building=unit_number, low=low, high=high,
                             identity=unit_identities(unit_number, structure.unit_dyh[unit_rows], low,
                                                      structure.unit_room[unit_rows]))
        # codes: as-built units matched to pre-sale ones keep theirs; the others get 户号 = mark + 1 in order
        codes = pd.Series([None] * len(units), dtype=object)
        matched_by = pd.Series([None] * len(units), dtype=object)
        retired = pd.DataFrame(columns=["bdcdyh"])
        if len(previous):  # units that are the same keep their codes, whichever survey replaces them
            dyh, room = room_keys(previous["shbw"], previous["dyh"])
            previous = previous.assign(identity=unit_identities(previous["zrzh"].to_numpy(object), dyh,
                                                                previous["sjc"].to_numpy(float), room))
            match = match_units(units, previous)
            codes, matched_by = match.kept.reset_index(drop=True), match.how.reset_index(drop=True)
            retired = match.retired
    columns = {c.lower(): buildings[c].to_numpy(object) for c in BUILDING_COLUMNS}
    # a surveyed 幢号 that is not a number (A座) is the building's label, and its name when the survey gave none
    labels = np.array([z if isinstance(z, str) and not is_building_number(z) else None for z in buildings["ZRZH"]],
                      dtype=object)
    columns["jzwmc"] = np.where(pd.isna(columns["jzwmc"]), labels, columns["jzwmc"])
    columns.update(zddm=np.full(len(buildings), zddm, dtype=object), zrzh=numbers, zrzh_label=labels,
                   stage=np.full(len(buildings), package.stage, dtype=object),
                   parcel_id=np.full(len(buildings), int(parcel["id"])))
    building_ids = insert_rows(connection, "building", columns, np.asarray(buildings.geometry.values, dtype=object),
                               srid, package_id=package_id, now=now)
    id_of = dict(zip(numbers, building_ids, strict=True))
    new = codes.isna().to_numpy(bool)
    fresh = np.flatnonzero(new)
    values = codes.to_numpy(object).copy()
    if len(fresh):  # numbered in 户号 order among themselves (an as-built survey whose units all matched: none)
        scopes = pd.Series([f"{zddm}F{b}" for b in unit_number[fresh]], dtype=object)
        plan = plan_scopes(scopes, unit_order(units.iloc[fresh]))
        starts = {s: reserve(connection, s, count).start for s, count in plan.counts.items()}
        # one string each, not one pandas assignment each (40 800 units: 4 s)
        values[fresh] = [f"{scope}{starts[scope] + rank:04d}"
                         for scope, rank in zip(scopes.to_numpy(object), plan.rank.tolist(), strict=True)]
    codes = pd.Series(values, index=codes.index, dtype=object)
    columns = {c.lower(): units[c].to_numpy(object) for c in UNIT_COLUMNS}
    columns.update(sjc=np.where(np.isfinite(low), low, units["SJC"].to_numpy(float)).astype(int),
                   zzc=np.where(np.isfinite(high) & (high > low), high, np.nan),
                   ljzh=units["LJZH"].to_numpy(object) if "LJZH" in units else np.full(len(units), None, object),
                   ljzmc=logical_building_names(package.layers.get("LJZ"), units),
                   bdcdyh=codes.to_numpy(object), fwyt=units["FWYT1"].to_numpy(object),
                   stage=np.full(len(units), package.stage, dtype=object),
                   building_id=np.array([id_of[b] for b in unit_number]))
    insert_rows(connection, "unit", columns, np.asarray(units.geometry.values, dtype=object), srid,
                package_id=package_id, now=now)
    retirements = [(code, [], "实测成果中无对应的户" if asbuilt else "新的预测成果中无对应的户")
                   for code in retired["bdcdyh"]]
    if asbuilt and parcel["bdcdyh"] and not code_retired(connection, parcel["bdcdyh"]):
        # fixture type changes (land only → has buildings): the W code is kept in history, linked to the F codes
        retirements.append((parcel["bdcdyh"], sorted(values.tolist()), "定着物特征码变化：宗地上建成房屋"))
    floors = package.layers.get("C")
    if floors is not None:
        floor_subset = np.flatnonzero(np.isin(structure.floor_building, rows))
        floors = floors.reset_index(drop=True).iloc[floor_subset]
        floor_keys = structure.floor_building_keys[floor_subset]
    else:
        floor_keys = np.empty(0, object)
    floor_columns, floor_geometry = floor_rows(floors, floor_keys, units, renumber, id_of)
    insert_rows(connection, "floor", floor_columns, floor_geometry, srid, package_id=package_id, now=now)

    def record_codes(c) -> None:  # the codes issued now, those retired and their successors (lineage)
        issue_codes(c, values[fresh].tolist(), "unit", package_id, now)
        retire_codes(c, retirements, package_id, now)

    with meanwhile(connection, record_codes):  # written (the W code's 40 800 links) while the report is made
        assigned = {
            "parcels": [],
            "units": [{"feature": f, "bdcdyh": c, "shbw": s, "zrzh": b, "new": bool(n), "matched_by": m}
                      for f, c, s, b, n, m in zip(units["feature"].to_numpy(object), values,
                                                  units["SHBW"].to_numpy(object), unit_number, new.tolist(),
                                                  matched_by.to_numpy(object), strict=True)],
            "retired": [{"bdcdyh": old, "replaced_by": successors, "reason": why}
                        for old, successors, why in retirements],
        }
        comparison = area_comparison(units, codes, previous) if asbuilt else None
    return assigned, comparison
