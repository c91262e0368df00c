"""ATT rules on whole columns: areas, code tables, duplicates, floors, supplied codes, apportionment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.core.codes import feature_codes, parcel_code_problems, unit_code_problems
from cadastre.core.codetables import table
from cadastre.qa.rules.base import CheckContext, area_limit, building_keys, rule, tolerance

#: coded fields checked against their tables, per layer
CODED = {
    "ZDJBXX": ("QLLX", "QLXZ", "QLSDFS"),
    "JZD": ("JBLX", "JZDLX"),
    "JZX": ("JZXLB", "JZXWZ", "JXXZ"),
    "ZRZ": ("GHYT", "FWJG"),
    "LJZ": ("FWYT1",),
    "H": ("FWYT1", "FWLX", "FWXZ"),
}


def _prefix(ctx: CheckContext) -> str:
    """预测 (YC) or 实测 (SC) areas, by stage."""
    return "SC" if ctx.stage == "asbuilt" else "YC"


def _points(ctx: CheckContext, layer: str, rows: np.ndarray) -> np.ndarray | None:
    frame = ctx.layer(layer)
    if frame.geometry.isna().all():
        return None
    return ctx.lonlat(ctx.geometries(layer)[rows])


@rule("ATT-001", layers=("ZDJBXX",), tolerances=("area.level",))
def parcel_area(ctx: CheckContext) -> pd.DataFrame:
    parcels = ctx.layer("ZDJBXX")
    idx = np.flatnonzero(ctx.usable("ZDJBXX"))
    computed = shapely.area(ctx.geometries("ZDJBXX")[idx])  # planar, in the projected storage CRS
    declared = parcels["ZDMJ"].to_numpy(float)[idx]
    limit = area_limit(ctx.tolerances, computed)
    difference = np.abs(declared - computed)
    hit = np.isfinite(declared) & (difference > limit)
    rows = idx[hit]
    features = parcels["feature"].to_numpy()[rows]
    messages = [f"宗地 {f} 申报面积 {d:.2f} ㎡，图形面积 {c:.2f} ㎡，相差 {x:.2f} ㎡，超过限差 {lim:.2f} ㎡"
                for f, d, c, x, lim in zip(features, declared[hit], computed[hit], difference[hit], limit[hit],
                                           strict=True)]
    return fnd.of_rule("ATT-001", "ZDJBXX", features, messages, lonlat=ctx.lonlat(ctx.geometries("ZDJBXX")[rows]),
                       measured=difference[hit], limit=limit[hit],
                       figures=[{"declared": d, "computed": round(c, 3)} for d, c in
                                zip(declared[hit], computed[hit], strict=True)])


@rule("ATT-003", layers=())
def code_tables(ctx: CheckContext) -> pd.DataFrame:
    parts = []
    for layer, fields in CODED.items():
        frame = ctx.layer(layer)
        if frame is None:
            continue
        for field in fields:
            values = frame[field]
            known = table(field).values
            present = values.notna().to_numpy(bool)
            unknown = present & ~values.isin(list(known)).to_numpy(bool)
            rows = np.flatnonzero(unknown)
            if not len(rows):
                continue
            t = table(field)
            features = frame["feature"].to_numpy()[rows]
            parts.append(fnd.of_rule(
                "ATT-003", layer, features,
                [f"{layer} {f} 的 {field}（{t.title}）值“{v}”不在代码表中" for f, v in
                 zip(features, values.to_numpy(object)[rows], strict=True)],
                lonlat=_points(ctx, layer, rows), figures=[{"field": field}] * len(rows)))
    return fnd.concat(parts)


@rule("ATT-004", layers=("H",), stages=("presale", "asbuilt"))
def duplicate_units(ctx: CheckContext) -> pd.DataFrame:
    units = ctx.layer("H")
    key = pd.DataFrame({"building": building_keys(units), "SJC": units["SJC"], "SHBW": units["SHBW"]})
    complete = key[["SJC", "SHBW"]].notna().all(axis=1).to_numpy(bool) & units["ZRZH"].notna().to_numpy(bool)
    duplicate = key.duplicated(keep=False).to_numpy(bool) & complete
    rows = np.flatnonzero(duplicate)
    features = units["feature"].to_numpy()[rows]
    messages = [f"户 {f} 重复：幢 {z} 第 {c} 层室号 {r} 出现多次" for f, z, c, r in
                zip(features, units["ZRZH"].to_numpy(object)[rows], units["SJC"].to_numpy(object)[rows],
                    units["SHBW"].to_numpy(object)[rows], strict=True)]
    return fnd.of_rule("ATT-004", "H", features, messages, lonlat=_points(ctx, "H", rows))


@rule("ATT-005", layers=("H",), stages=("presale", "asbuilt"), tolerances=("units.area_balance_tolerance",))
def unit_area_balance(ctx: CheckContext) -> pd.DataFrame:
    units = ctx.layer("H")
    tol = tolerance(ctx.tolerances, "units.area_balance_tolerance")
    parts = []
    for prefix, label in (("YC", "预测"), ("SC", "实测")):
        total = units[f"{prefix}JZMJ"].to_numpy(float)
        inner = units[f"{prefix}TNJZMJ"].to_numpy(float)
        shared = units[f"{prefix}FTJZMJ"].to_numpy(float)
        gap = np.abs(total - (inner + shared))
        hit = np.isfinite(gap) & (gap > tol + 1e-9)
        rows = np.flatnonzero(hit)
        features = units["feature"].to_numpy()[rows]
        parts.append(fnd.of_rule(
            "ATT-005", "H", features,
            [f"户 {f} {label}建筑面积 {t:.2f} ㎡ ≠ 套内 {i:.2f} ㎡ + 分摊 {s:.2f} ㎡（差 {g:.2f} ㎡）" for f, t, i, s, g in
             zip(features, total[rows], inner[rows], shared[rows], gap[rows], strict=True)],
            lonlat=_points(ctx, "H", rows), measured=gap[rows], limit=tol))
    return fnd.concat(parts)


@rule("ATT-006", layers=("ZRZ", "H"), stages=("presale", "asbuilt"), tolerances=("area.level",))
def building_area_balance(ctx: CheckContext) -> pd.DataFrame:
    prefix = _prefix(ctx)
    units, buildings = ctx.layer("H"), ctx.layer("ZRZ")
    sums = units[f"{prefix}JZMJ"].groupby(building_keys(units)).sum(min_count=1)
    declared = buildings[f"{prefix}JZMJ"].to_numpy(float)
    total = pd.Series(building_keys(buildings)).map(sums).to_numpy(float)
    limit = area_limit(ctx.tolerances, declared)
    gap = np.abs(declared - total)
    hit = np.isfinite(gap) & (gap > limit)
    rows = np.flatnonzero(hit)
    features = buildings["feature"].to_numpy()[rows]
    label = "实测" if prefix == "SC" else "预测"
    messages = [f"幢 {z} {label}建筑面积 {d:.2f} ㎡，各户之和 {t:.2f} ㎡，相差 {g:.2f} ㎡，超过限差 {lim:.2f} ㎡"
                for z, d, t, g, lim in zip(buildings["ZRZH"].to_numpy(object)[rows], declared[rows], total[rows],
                                           gap[rows], limit[rows], strict=True)]
    return fnd.of_rule("ATT-006", "ZRZ", features, messages, lonlat=_points(ctx, "ZRZ", rows),
                       measured=gap[rows], limit=limit[rows])


@rule("ATT-007", layers=("ZRZ",), stages=("presale", "asbuilt"))
def floors(ctx: CheckContext) -> pd.DataFrame:
    buildings = ctx.layer("ZRZ")
    zcs, dscs, dxcs = (buildings[c].astype("Float64").to_numpy(float, na_value=np.nan) for c in ("ZCS", "DSCS",
                                                                                                  "DXCS"))
    total_bad = np.isfinite(zcs) & np.isfinite(dscs) & (zcs != dscs + np.nan_to_num(dxcs))
    rows = np.flatnonzero(total_bad)
    features = buildings["feature"].to_numpy()[rows]
    parts = [fnd.of_rule("ATT-007", "ZRZ", features,
                         [f"幢 {z} 总层数 {int(a)} ≠ 地上 {int(b)} + 地下 {int(np.nan_to_num(c))}" for z, a, b, c in
                          zip(buildings["ZRZH"].to_numpy(object)[rows], zcs[rows], dscs[rows], dxcs[rows],
                              strict=True)],
                         lonlat=_points(ctx, "ZRZ", rows), measured=zcs[rows])]
    units = ctx.layer("H")
    if units is not None:
        keys = building_keys(buildings)
        unit_keys = pd.Series(building_keys(units))
        zrzh = units["ZRZH"].to_numpy(object)
        floor = units["SJC"].astype("Float64").to_numpy(float, na_value=np.nan)
        top = unit_keys.map(pd.Series(dscs, index=keys).groupby(level=0).first()).to_numpy(float)
        bottom = unit_keys.map(pd.Series(np.nan_to_num(dxcs), index=keys).groupby(level=0).first()).to_numpy(float)
        known = np.isfinite(floor) & np.isfinite(top)
        unknown_building = ~unit_keys.isin(keys).to_numpy(bool) & pd.notna(zrzh)
        bad = known & ((floor == 0) | (floor > top) | (floor < -bottom))
        rows = np.flatnonzero(bad | unknown_building)
        features = units["feature"].to_numpy()[rows]
        messages = [f"户 {f} 所在的自然幢 {z} 不在自然幢图层中" if u else
                    f"户 {f} 位于第 {int(c)} 层，但幢 {z} 只有地上 {int(t)} 层、地下 {int(b)} 层"
                    for f, z, c, t, b, u in zip(features, zrzh[rows], floor[rows], top[rows], bottom[rows],
                                                unknown_building[rows], strict=True)]
        parts.append(fnd.of_rule("ATT-007", "H", features, messages, lonlat=_points(ctx, "H", rows),
                                 measured=floor[rows]))
    return fnd.concat(parts)


def _supplied(ctx: CheckContext) -> list[tuple[str, str, str]]:
    """(layer, field, kind) of every supplied code column: parcel codes and unit codes."""
    return [("ZDJBXX", "ZDDM", "parcel"), ("ZRZ", "ZDDM", "parcel"), ("JZD", "ZDZHDM", "parcel"),
            ("H", "BDCDYH", "unit")]


@rule("ATT-008", layers=(), uses_registry=True)
def supplied_codes(ctx: CheckContext):
    parts = []
    status = ctx.registry.code_status if ctx.registry is not None else None
    for layer, field, kind in _supplied(ctx):
        frame = ctx.layer(layer)
        if frame is None:
            continue
        values = frame[field]
        present = np.flatnonzero(values.notna().to_numpy(bool))
        if not len(present):
            continue
        codes = values.to_numpy(object)[present]
        allow = any(c.allow_provisional_zoning for c in [ctx.package.county])
        problems = (parcel_code_problems if kind == "parcel" else unit_code_problems)(codes, allow_provisional=allow)
        bad = problems.notna().to_numpy(bool)
        rows = present[bad]
        features = frame["feature"].to_numpy()[rows]
        what = "宗地代码" if kind == "parcel" else "不动产单元代码"
        parts.append(fnd.of_rule("ATT-008", layer, features,
                                 [f"{layer} {f} 的{what} {c} 格式错误：{p}" for f, c, p in
                                  zip(features, codes[bad], problems[bad], strict=True)],
                                 lonlat=_points(ctx, layer, rows)))
        if status is None:
            continue
        good = present[~bad]
        states = np.array([status.get(c, "absent") for c in values.to_numpy(object)[good]], dtype=object)
        wrong = states != "current"
        rows = good[wrong]
        features = frame["feature"].to_numpy()[rows]
        parts.append(fnd.of_rule(
            "ATT-008", layer, features,
            [f"{layer} {f} 的{what} {c} " + ("已注销" if s == "retired" else "在登记库中不存在")
             for f, c, s in zip(features, values.to_numpy(object)[rows], states[wrong], strict=True)],
            lonlat=_points(ctx, layer, rows)))
    note = None if status is not None else "未连接登记库：只检查了代码格式，未核对代码是否存在"
    return fnd.concat(parts), note


@rule("ATT-009", layers=("H",), stages=("presale", "asbuilt"), tolerances=("area.level",))
def unit_outline_area(ctx: CheckContext) -> pd.DataFrame:
    units = ctx.layer("H")
    if units.geometry.isna().all():
        return fnd.concat([])
    prefix = _prefix(ctx)
    idx = np.flatnonzero(ctx.usable("H"))
    computed = shapely.area(ctx.geometries("H")[idx])
    declared = units[f"{prefix}TNJZMJ"].to_numpy(float)[idx]
    limit = area_limit(ctx.tolerances, computed)
    gap = np.abs(declared - computed)
    hit = np.isfinite(gap) & (gap > limit)
    rows = idx[hit]
    features = units["feature"].to_numpy()[rows]
    return fnd.of_rule("ATT-009", "H", features,
                       [f"户 {f} 图形面积 {c:.2f} ㎡ 与套内面积 {d:.2f} ㎡ 相差 {g:.2f} ㎡，超过限差 {lim:.2f} ㎡"
                        for f, c, d, g, lim in zip(features, computed[hit], declared[hit], gap[hit], limit[hit],
                                                   strict=True)],
                       lonlat=ctx.lonlat(ctx.geometries("H")[rows]), measured=gap[hit], limit=limit[hit])


@rule("ATT-010", layers=("H",), stages=("presale", "asbuilt"), tolerances=("units.apportionment_tolerance",))
def apportionment(ctx: CheckContext) -> pd.DataFrame:
    """分摊系数 within an apportionment group (same building, same use) should agree, and agree with the areas."""
    units = ctx.layer("H")
    prefix = _prefix(ctx)
    tol = tolerance(ctx.tolerances, "units.apportionment_tolerance")
    declared = units[f"{prefix}FTXS"].to_numpy(float)
    inner = units[f"{prefix}TNJZMJ"].to_numpy(float)
    shared = units[f"{prefix}FTJZMJ"].to_numpy(float)
    computed = np.divide(shared, inner, out=np.full(len(units), np.nan), where=inner > 0)
    group = building_keys(units) + "|" + units["FWYT1"].astype("str").fillna("").to_numpy(object)
    median = pd.Series(computed).groupby(group).transform("median").to_numpy(float)
    spread = np.abs(computed - median)
    mismatch = np.abs(declared - computed)
    # 0.01 ㎡ of rounding in the areas moves the ratio by up to 0.01 / inner
    slack = tol + np.divide(0.01, inner, out=np.zeros(len(units)), where=inner > 0)
    bad = (np.isfinite(spread) & (spread > slack)) | (np.isfinite(mismatch) & (mismatch > slack))
    rows = np.flatnonzero(bad)
    features = units["feature"].to_numpy()[rows]
    messages = [f"户 {f} 分摊系数 {c:.4f} 与同组（幢 {z}、用途 {u}）的 {m:.4f} 不一致" +
                (f"，申报为 {d:.4f}" if np.isfinite(d) else "")
                for f, c, m, d, z, u in zip(features, computed[rows], median[rows], declared[rows],
                                            units["ZRZH"].to_numpy(object)[rows], units["FWYT1"].to_numpy(object)[rows],
                                            strict=True)]
    return fnd.of_rule("ATT-010", "H", features, messages, lonlat=_points(ctx, "H", rows),
                       measured=computed[rows], limit=tol)


@rule("ATT-011", layers=("ZDJBXX",), stages=("cadastral",))
def feature_code_decidable(ctx: CheckContext) -> pd.DataFrame:
    parcels = ctx.layer("ZDJBXX")
    codes = feature_codes(parcels)
    ownership, kind = table("ZDTZM_OWNERSHIP").values, table("ZDTZM_TYPE").values
    bad = ~codes.map(lambda c: isinstance(c, str) and len(c) == 2 and c[0] in ownership and c[1] in kind).to_numpy(
        bool) & parcels["ZDDM"].isna().to_numpy(bool)
    rows = np.flatnonzero(bad)
    features = parcels["feature"].to_numpy()[rows]
    return fnd.of_rule("ATT-011", "ZDJBXX", features,
                       [f"宗地 {f} 没有宗地特征码，也无法由权利类型 {q} 推定" for f, q in
                        zip(features, parcels["QLLX"].to_numpy(object)[rows], strict=True)],
                       lonlat=_points(ctx, "ZDJBXX", rows))
