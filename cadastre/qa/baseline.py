"""Checking the county's existing registry (存量数据) before it is imported: pure functions over the lot as read
(``cadastre.read.baseline``) and what the registry knows about its codes (:class:`~cadastre.core.model.BaselineFacts`).

The old registry's codes are kept, so they must be right: well formed (BSL-001), unique within the lot (BSL-002),
not issued before by an earlier lot or by this service (BSL-003, naming both sources), coherent — a unit's code
starts with its parcel's 宗地代码 and carries its building's 幢号 (BSL-004) — and the parcels and buildings must have
a geometry the registry can store (BSL-006). These are errors: they block the lot (or, with ``--skip-invalid``, the
rows they name). Historic geometry is messy: what the package rules find in it (invalid outlines, overlaps, areas
off) and overlaps with parcels already registered (TOP-002) are recorded as *warnings* on the imported rows, and so
is a 宗地代码 whose 地籍子区 is not the sub-district that contains the parcel (BSL-005: common after re-zoning; the
county decides).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.core.codes import parcel_code_problems, unit_code_problems
from cadastre.core.model import BaselineFacts
from cadastre.qa.pipeline import PackageChecks
from cadastre.qa.report import Report
from cadastre.qa.rules import CheckContext, RegistryFacts, run_checks
from cadastre.qa.rules.base import PACKAGE_PHASE, rule_order
from cadastre.qa.rules.topology import overlaps_registered_parcels
from cadastre.read.baseline import code_states
from cadastre.read.package import SurveyPackage

__all__ = ["check_baseline_alone", "check_baseline_against_registry", "RowsInError", "rows_in_error",
           "KEY_FIELDS"]

#: fields without which a legacy row cannot be imported (a missing 坐落 or area is a warning on old data)
KEY_FIELDS = frozenset({"ZDDM", "BDCDYH", "ZRZH", "SJC", "ZT"})
#: finding rules that stay errors on legacy data; every other rule's error is recorded as a warning
_BLOCKING_PREFIXES = ("BSL-", "PKG-")


def _text(frame: pd.DataFrame | None, column: str) -> pd.Series:
    if frame is None or column not in frame:
        return pd.Series([None] * (0 if frame is None else len(frame)), dtype="str")
    return frame[column].astype("str").str.strip().reset_index(drop=True)


def _features(frame: pd.DataFrame) -> np.ndarray:
    return frame["feature"].to_numpy(object)


def as_legacy_warnings(findings: pd.DataFrame) -> pd.DataFrame:
    """Errors of the package rules and of reading, recorded as warnings on legacy rows — except the BSL and PKG
    rules and a missing or unreadable key field (:data:`KEY_FIELDS`)."""
    if findings.empty:
        return findings
    out = findings.copy()
    keyed = np.array([isinstance(f, dict) and f.get("field") in KEY_FIELDS for f in out["figures"]], dtype=bool)
    whole_layer = out["feature"].isna().to_numpy(bool) & out["rule"].eq("ATT-002").to_numpy(bool)
    keep = (out["rule"].str.startswith(_BLOCKING_PREFIXES).to_numpy(bool) | keyed | whole_layer)
    soften = out["severity"].eq("error").to_numpy(bool) & ~keep
    out.loc[soften, "severity"] = "warning"
    return fnd.concat([out])


def check_baseline_alone(package: SurveyPackage) -> PackageChecks:
    """Everything about a lot that needs no registry: the package rules (as warnings) and the codes within it."""
    context = CheckContext(package, package.county.tolerances, None)
    found, not_run = run_checks(context, phase=PACKAGE_PHASE)
    return PackageChecks(package, fnd.concat([as_legacy_warnings(rule_order(found)), _lot_codes(package)]), not_run)


def check_baseline_against_registry(alone: PackageChecks, facts: BaselineFacts) -> Report:
    """The whole report of a lot: what :func:`check_baseline_alone` found, with the codes compared with those the
    registry issued (BSL-003), the buildings' parcels looked up in it (BSL-004) and each parcel's 地籍子区 (BSL-005)."""
    package = alone.package
    parts = [as_legacy_warnings(package.findings), alone.findings, _conflicts(package, facts),
             _building_parcels(package, facts), _subdistricts(package, facts), _registered_overlaps(package, facts)]
    report = Report.from_package(package, fnd.concat(parts))
    report.not_run = alone.not_run + ([] if facts.subdistricts is not None else [
        {"rule": "BSL-005", "reason": "登记库中尚无地籍区划，未核对宗地代码中的地籍子区"}])
    return report


# ------------------------------------------------------------------------------------------------- within the lot


def _lot_codes(package: SurveyPackage) -> pd.DataFrame:
    county = package.county.code
    allow = package.county.allow_provisional_zoning
    parts: list[pd.DataFrame] = []
    parcels, buildings, units = (package.layers.get(c) for c in ("ZDJBXX", "ZRZ", "H"))
    codes: list[tuple[str, np.ndarray, pd.Series]] = []  # (layer, features, codes) of current rows
    if parcels is not None:
        zddm, land = _text(parcels, "ZDDM"), _text(parcels, "BDCDYH")
        features = _features(parcels)
        parts.append(_malformed("ZDJBXX", features, zddm, parcel_code_problems(zddm, allow_provisional=allow),
                                county, "宗地代码"))
        parts.append(_malformed("ZDJBXX", features, land, unit_code_problems(land, allow_provisional=allow), county,
                                "宗地的不动产单元代码"))
        wrong = land.notna().to_numpy(bool) & (land.str.slice(0, 19).ne(zddm) | land.str.slice(19).ne("W00000000")
                                               ).fillna(True).to_numpy(bool)
        parts.append(fnd.of_rule("BSL-004", "ZDJBXX", features[wrong], [
            f"宗地 {f} 的不动产单元代码 {c} 应为其宗地代码 {z} 加 W00000000"
            for f, c, z in zip(features[wrong], land[wrong], zddm[wrong], strict=True)]))
        codes += [("ZDJBXX", features, zddm), ("ZDJBXX", features, land)]
        parts.append(_unstorable("ZDJBXX", "宗地", parcels))
    if buildings is not None:
        zddm, zrzh = _text(buildings, "ZDDM"), _text(buildings, "ZRZH")
        features = _features(buildings)
        parts.append(_malformed("ZRZ", features, zddm, parcel_code_problems(zddm, allow_provisional=allow), county,
                                "自然幢的宗地代码"))
        numbered = zrzh.str.fullmatch(r"[0-9]{4}", na=False).to_numpy(bool)
        parts.append(fnd.of_rule("BSL-001", "ZRZ", features[~numbered], [
            f"自然幢 {f} 的幢号“{z}”不是 4 位数字：存量数据的幢号是已发放代码的一部分，应原样给出"
            for f, z in zip(features[~numbered], zrzh[~numbered], strict=True)]))
        key = zddm.fillna("") + "F" + zrzh.fillna("")
        twice = key.duplicated(keep=False).to_numpy(bool) & zddm.notna().to_numpy(bool)
        parts.append(fnd.of_rule("BSL-002", "ZRZ", features[twice], [
            f"自然幢 {f}：宗地 {z} 上的幢号 {n} 在本批数据中出现不止一次"
            for f, z, n in zip(features[twice], zddm[twice], zrzh[twice], strict=True)]))
        parts.append(_unstorable("ZRZ", "自然幢", buildings))
    if units is not None:
        parts.append(_unit_codes(package, units, county, allow))
        codes.append(("H", _features(units), _text(units, "BDCDYH")))
    parts.append(_duplicates(codes))
    parts.append(_issued_table(package, codes, county, allow))
    return fnd.concat(parts)


def _malformed(layer: str, features: np.ndarray, codes: pd.Series, problems: pd.Series, county: str,
               what: str) -> pd.DataFrame:
    present = codes.notna().to_numpy(bool)
    bad = present & problems.notna().to_numpy(bool)
    foreign = present & ~bad & codes.str.slice(0, 6).ne(county).fillna(False).to_numpy(bool)
    return fnd.concat([
        fnd.of_rule("BSL-001", layer, features[bad], [f"{layer} {f} 的{what} {c} 格式错误：{p.split(' (')[0]}"
                                                      for f, c, p in zip(features[bad], codes[bad], problems[bad],
                                                                         strict=True)]),
        fnd.of_rule("BSL-001", layer, features[foreign], [f"{layer} {f} 的{what} {c} 不属于本县（{county}）"
                                                          for f, c in zip(features[foreign], codes[foreign],
                                                                          strict=True)])])


def _unstorable(layer: str, what: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Parcels and buildings the registry cannot store: no polygon at all (an invalid one is stored, and warned)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    kind = shapely.get_type_id(geoms)
    bad = (shapely.is_missing(geoms) | shapely.is_empty(geoms)
           | ~np.isin(kind, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON]))
    features = _features(frame)[bad]
    return fnd.of_rule("BSL-006", layer, features, [f"{what} {f} 没有可存储的面图形" for f in features])


def _unit_codes(package: SurveyPackage, units: pd.DataFrame, county: str, allow: bool) -> pd.DataFrame:
    code = _text(units, "BDCDYH")
    features = _features(units)
    parts = [_malformed("H", features, code, unit_code_problems(code, allow_provisional=allow), county, "不动产单元代码")]
    structure = package.structure
    buildings = package.layers.get("ZRZ")
    present = code.notna().to_numpy(bool)
    orphan = present & (structure.unit_building < 0)
    parts.append(fnd.of_rule("BSL-004", "H", features[orphan], [
        f"户 {f}（{c}）在本批数据中找不到所属自然幢（宗地 {c[:19]}、幢号 {c[20:24]}）" for f, c in
        zip(features[orphan], code[orphan], strict=True)]))
    placed = present & ~orphan & code.str.len().eq(28).fillna(False).to_numpy(bool)
    if buildings is not None and placed.any():
        rows = structure.unit_building[placed]
        zddm = _text(buildings, "ZDDM").to_numpy(object)[rows]
        zrzh = _text(buildings, "ZRZH").to_numpy(object)[rows]
        mine = code[placed].to_numpy(object)
        wrong = (np.array([c[:19] for c in mine], dtype=object) != zddm) | (np.array(
            [c[19] != "F" or c[20:24] != z for c, z in zip(mine, zrzh, strict=True)], dtype=bool))
        where = np.flatnonzero(placed)[wrong]
        parts.append(fnd.of_rule("BSL-004", "H", features[where], [
            f"户 {f} 的不动产单元代码 {c} 与所属自然幢不符：应以宗地代码 {z} 加 F 和幢号 {n} 开头"
            for f, c, z, n in zip(features[where], mine[wrong], zddm[wrong], zrzh[wrong], strict=True)]))
    return fnd.concat(parts)


def _duplicates(codes: list[tuple[str, np.ndarray, pd.Series]]) -> pd.DataFrame:
    """A code on two current rows of the lot (two parcels, two units, a parcel's land code on a unit)."""
    if not codes:
        return fnd.concat([])
    layers = np.concatenate([np.full(len(c), layer, dtype=object) for layer, _, c in codes])
    features = np.concatenate([f for _, f, _ in codes])
    values = pd.concat([c for _, _, c in codes], ignore_index=True)
    twice = values.notna().to_numpy(bool) & values.duplicated(keep=False).to_numpy(bool)
    if not twice.any():
        return fnd.concat([])
    frame = pd.DataFrame({"layer": layers[twice], "feature": features[twice], "code": values[twice].to_numpy()})
    holders = frame.groupby("code", sort=False)["feature"].agg(lambda f: "、".join(map(str, f[:4])))
    return fnd.concat([fnd.of_rule("BSL-002", layer, frame["feature"][frame["layer"] == layer].to_numpy(), [
        f"代码 {c} 在本批数据中出现不止一次（{holders[c]}）" for c in frame["code"][frame["layer"] == layer]])
        for layer in pd.unique(frame["layer"])])


def _issued_table(package: SurveyPackage, codes: list[tuple[str, np.ndarray, pd.Series]], county: str,
                  allow: bool) -> pd.DataFrame:
    """DYDM, the table of every code ever issued: states known, codes well formed, no code with two states, and no
    code of a current row that the table says was retired."""
    table = package.layers.get("DYDM")
    if table is None:
        return fnd.concat([])
    code, features = _text(table, "BDCDYH"), _features(table)
    states = code_states(table["ZT"]) if "ZT" in table else np.full(len(table), None, dtype=object)
    unknown = code.notna().to_numpy(bool) & pd.isna(states)
    written = _text(table, "ZT")
    parts = [fnd.of_rule("BSL-007", "DYDM", features[unknown], [
        f"已发放代码 {c} 的状态“{s}”无法识别（应为 现势 或 注销）" for c, s in
        zip(code[unknown], written[unknown], strict=True)])]
    is_parcel = code.str.len().eq(19).fillna(False).to_numpy(bool)
    problems = pd.Series(None, index=code.index, dtype=object)
    problems[is_parcel] = parcel_code_problems(code[is_parcel], allow_provisional=allow).to_numpy()
    problems[~is_parcel] = unit_code_problems(code[~is_parcel], allow_provisional=allow).to_numpy()
    parts.append(_malformed("DYDM", features, code, problems, county, "代码"))
    frame = pd.DataFrame({"code": code, "state": states}).dropna()
    conflicting = frame.groupby("code")["state"].nunique()
    conflicting = set(conflicting[conflicting > 1].index)
    twice = code.isin(conflicting).to_numpy(bool) & ~code.duplicated().to_numpy(bool)
    parts.append(fnd.of_rule("BSL-002", "DYDM", features[twice], [
        f"已发放代码表中代码 {c} 既为现势又为注销" for c in code[twice]]))
    retired = set(frame["code"][frame["state"] == "retired"]) - conflicting
    for layer, layer_features, values in codes:
        hit = values.isin(retired).to_numpy(bool)
        parts.append(fnd.of_rule("BSL-004", layer, layer_features[hit], [
            f"{layer} {f} 的代码 {c} 在已发放代码表中为注销，不能作为现势数据导入"
            for f, c in zip(layer_features[hit], values[hit], strict=True)]))
    return fnd.concat(parts)


# ----------------------------------------------------------------------------------------------- against the registry


def _source(row) -> str:
    when = pd.Timestamp(row.issued_at).strftime("%Y-%m-%d") if pd.notna(row.issued_at) else "此前"
    what = "存量数据批次" if row.stage == "baseline" else "成果包"
    return f"{what} #{row.package_id}（{row.filename}，{when}）"


def _conflicts(package: SurveyPackage, facts: BaselineFacts) -> pd.DataFrame:
    """Codes of the lot the registry issued already. A current row's code: always a conflict. A code of the DYDM
    table: a conflict only when this service issued it, or an earlier lot gave it another state (an earlier lot's
    copy of the same table repeats harmlessly)."""
    issued = facts.issued
    if issued is None or issued.empty:
        return fnd.concat([])
    known = issued.set_index("code")
    parts = []
    for layer, columns in (("ZDJBXX", ("ZDDM", "BDCDYH")), ("H", ("BDCDYH",))):
        frame = package.layers.get(layer)
        for column in columns:
            values = _text(frame, column)
            hit = values.isin(known.index).to_numpy(bool)
            if hit.any():
                rows = known.loc[values[hit].to_numpy()]
                parts.append(fnd.of_rule("BSL-003", layer, _features(frame)[hit], [
                    f"{layer} {f} 的代码 {c} 已在登记库中：由{_source(r)}发放" for f, c, r in
                    zip(_features(frame)[hit], values[hit], rows.itertuples(), strict=True)]))
    table = package.layers.get("DYDM")
    if table is not None and "ZT" in table:
        code, states = _text(table, "BDCDYH"), code_states(table["ZT"])
        hit = code.isin(known.index).to_numpy(bool)
        if hit.any():
            rows = known.loc[code[hit].to_numpy()]
            clash = (rows["stage"].to_numpy(object) != "baseline") | (
                rows["retired"].to_numpy(bool) != (states[hit] == "retired"))
            where = np.flatnonzero(hit)[clash]
            parts.append(fnd.of_rule("BSL-003", "DYDM", _features(table)[where], [
                f"已发放代码 {c}（{'注销' if s == 'retired' else '现势'}）与登记库冲突：已由{_source(r)}发放"
                f"{'，状态为注销' if r.retired else ''}" for c, s, r in
                zip(code[where], states[where], rows[clash].itertuples(), strict=True)]))
    return fnd.concat(parts)


def _registered_overlaps(package: SurveyPackage, facts: BaselineFacts) -> pd.DataFrame:
    """TOP-002 against the parcels already registered (an earlier lot's, a survey's), as a warning on legacy data."""
    if facts.registered is None or not len(facts.registered) or "ZDJBXX" not in package.layers:
        return fnd.concat([])
    context = CheckContext(package, package.county.tolerances, RegistryFacts(facts.registered, None))
    return as_legacy_warnings(overlaps_registered_parcels(context))


def _building_parcels(package: SurveyPackage, facts: BaselineFacts) -> pd.DataFrame:
    buildings = package.layers.get("ZRZ")
    if buildings is None:
        return fnd.concat([])
    zddm = _text(buildings, "ZDDM")
    here = set(_text(package.layers.get("ZDJBXX"), "ZDDM").dropna())
    lost = zddm.notna().to_numpy(bool) & ~zddm.isin(here | set(facts.parcels)).to_numpy(bool)
    features = _features(buildings)[lost]
    return fnd.of_rule("BSL-004", "ZRZ", features, [
        f"自然幢 {f} 所在宗地 {z} 既不在本批数据中，也不是登记库中的现势宗地" for f, z in
        zip(features, zddm[lost], strict=True)])


def _subdistricts(package: SurveyPackage, facts: BaselineFacts) -> pd.DataFrame:
    parcels = package.layers.get("ZDJBXX")
    zones = facts.subdistricts
    if parcels is None or zones is None or zones.empty or not len(parcels):
        return fnd.concat([])
    zddm = _text(parcels, "ZDDM")
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) & zddm.str.len().eq(19).fillna(False).to_numpy(
        bool)
    points = shapely.point_on_surface(geoms[usable])
    inside = np.full(usable.sum(), None, dtype=object)
    found, zone = shapely.STRtree(np.asarray(zones.geometry.values, dtype=object)).query(points, "within")
    inside[found] = zones["djzqdm"].to_numpy(object)[zone]
    named = zddm[usable].str.slice(0, 12).to_numpy(object)
    wrong = pd.notna(inside) & (named != inside)
    rows = np.flatnonzero(usable)[wrong]
    return fnd.of_rule("BSL-005", "ZDJBXX", _features(parcels)[rows], [
        f"宗地 {f} 的代码 {z} 写的地籍子区是 {n}，而包含它的地籍子区是 {i}：保留原代码，请县里核实是否需要调整"
        for f, z, n, i in zip(_features(parcels)[rows], zddm[usable][wrong], named[wrong], inside[wrong],
                              strict=True)],
        lonlat=fnd.lonlat_points(points[wrong], package.storage_epsg),
        figures=[{"code_subdistrict": n, "containing_subdistrict": i} for n, i in
                 zip(named[wrong], inside[wrong], strict=True)])


# ------------------------------------------------------------------------------------------------ what to leave out


@dataclass(frozen=True)
class RowsInError:
    """Per layer, the rows an error names (and what they drag along: a parcel's buildings and units, a building's
    units), for ``--skip-invalid``; ``whole_lot``: errors that name no row, so nothing can be imported."""

    rows: dict[str, np.ndarray]
    whole_lot: pd.DataFrame


def rows_in_error(package: SurveyPackage, findings: pd.DataFrame) -> RowsInError:
    errors = fnd.blocking(findings)
    rows: dict[str, np.ndarray] = {}
    for layer, frame in package.layers.items():
        named = set(errors["feature"][errors["layer"] == layer].dropna())
        rows[layer] = frame["feature"].isin(named).to_numpy(bool, copy=True) if named else np.zeros(len(frame), bool)
    whole = errors[errors["feature"].isna() | ~errors["layer"].isin(list(package.layers))]
    if "ZDJBXX" in package.layers and "ZRZ" in package.layers:
        dropped = set(_text(package.layers["ZDJBXX"], "ZDDM")[rows["ZDJBXX"]].dropna())
        rows["ZRZ"] |= _text(package.layers["ZRZ"], "ZDDM").isin(dropped).to_numpy(bool)
    if "ZRZ" in package.layers and "H" in package.layers:
        building = package.structure.unit_building
        rows["H"] |= (building >= 0) & rows["ZRZ"][np.maximum(building, 0)]
    if "C" in package.layers and "ZRZ" in package.layers:
        building = package.structure.floor_building
        rows["C"] |= (building >= 0) & rows["ZRZ"][np.maximum(building, 0)]
    return RowsInError(rows, whole)
