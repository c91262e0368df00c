"""ATT rules on whole columns: areas, code tables, duplicates, floors, supplied codes, apportionment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.core.codes import feature_codes, parcel_code_problems, unit_code_problems
from cadastre.core.codetables import table
from cadastre.qa.rules.base import CheckContext, area_limit, rule, tolerance
from cadastre.read.structure import is_uncounted_floor, occupied_floors

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


@rule("ATT-004", layers=("H",), stages=("presale", "asbuilt", "baseline"))
def duplicate_units(ctx: CheckContext) -> pd.DataFrame:
    """Two units with the same identity: 幢 + 单元 + floor + room, the room label normalised (``0501`` = ``501``,
    ``1-501`` in 单元 1 = ``501`` in 单元 1); ``501`` in 单元 1 and in 单元 2 are two units."""
    units, s = ctx.layer("H"), ctx.structure
    complete = (units["SHBW"].notna().to_numpy(bool) & units["ZRZH"].notna().to_numpy(bool)
                & np.isfinite(s.unit_low))
    duplicate = pd.Series(s.unit_identity).duplicated(keep=False).to_numpy(bool) & complete
    rows = np.flatnonzero(duplicate)
    features = units["feature"].to_numpy()[rows]
    messages = [f"户 {f} 重复：幢 {z}{f' {d} 单元' if d else ''} 第 {int(c)} 层室号 {r} 出现多次" for f, z, d, c, r in
                zip(features, units["ZRZH"].to_numpy(object)[rows], s.unit_dyh[rows], s.unit_low[rows],
                    s.unit_room[rows], strict=True)]
    return fnd.of_rule("ATT-004", "H", features, messages, lonlat=_points(ctx, "H", rows),
                       figures=[{"identity": i} for i in s.unit_identity[rows]])


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
    units, buildings, s = ctx.layer("H"), ctx.layer("ZRZ"), ctx.structure
    sums = units[f"{prefix}JZMJ"].groupby(s.unit_building_keys).sum(min_count=1)  # a 跃层 unit once
    declared = buildings[f"{prefix}JZMJ"].to_numpy(float)
    total = pd.Series(s.building_keys).map(sums).to_numpy(float)
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


def _floor_label(low: float, high: float) -> str:
    return f"{int(low)}" if not np.isfinite(high) or high == low else f"{int(low)}–{int(high)}"


@rule("ATT-007", layers=("ZRZ",), stages=("presale", "asbuilt", "baseline"))
def floors(ctx: CheckContext) -> pd.DataFrame:
    """层数 add up; every unit belongs to a building of the package and lies, on every floor it occupies, on a floor
    of it: a floor of its 层 table when the package gives one for that building, else within 地上/地下层数 — a 阁楼 or
    夹层 is not counted in 层数 (GB/T 17986.1), so a unit or floor there may lie above them."""
    buildings, s = ctx.layer("ZRZ"), ctx.structure
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
    top, bottom = dscs, np.nan_to_num(dxcs)

    def beyond(building: np.ndarray, floor: np.ndarray) -> np.ndarray:
        t, b = top[building], bottom[building]
        return np.isfinite(t) & ((floor == 0) | (floor > t) | (floor < -b))

    floors_layer = ctx.layer("C")
    defined = pd.Index([])  # "building row|floor" of the 层 table
    uncounted_floor = pd.Index([])
    with_table = np.zeros(len(buildings), bool)
    if floors_layer is not None and len(floors_layer):
        fb = s.floor_building
        sjc = floors_layer["SJC"].astype("Float64").to_numpy(float, na_value=np.nan)
        ok = (fb >= 0) & np.isfinite(sjc)
        keys = pd.Series(fb[ok].astype(str)) + "|" + pd.Series(sjc[ok].astype(int).astype(str))
        defined = pd.Index(keys)
        uncounted = is_uncounted_floor(floors_layer["MYC"])[ok]
        uncounted_floor = pd.Index(keys[uncounted])
        with_table[fb[ok]] = True
        idx = np.flatnonzero(ok)[~uncounted]
        bad = beyond(fb[idx], sjc[idx])
        rows = idx[bad]
        features = floors_layer["feature"].to_numpy()[rows]
        which = fb[rows]
        parts.append(fnd.of_rule(
            "ATT-007", "C", features,
            [f"幢 {z} 的层表有第 {int(c)} 层（名义层 {m if isinstance(m, str) else '—'}），但该幢只有地上 {int(t)} 层、"
             f"地下 {int(b)} 层" for z, c, m, t, b in
             zip(buildings["ZRZH"].to_numpy(object)[which], sjc[rows], floors_layer["MYC"].to_numpy(object)[rows],
                 top[which], bottom[which], strict=True)],
            measured=sjc[rows]))
    units = ctx.layer("H")
    if units is not None:
        building = s.unit_building
        zrzh = units["ZRZH"].to_numpy(object)
        unknown = (building < 0) & ~s.unit_ambiguous & pd.notna(zrzh)
        row, floor = occupied_floors(s.unit_low, s.unit_high)
        placed = building[row] >= 0
        row, floor = row[placed], floor[placed]
        b = building[row]
        key = pd.Series(b.astype(str)) + "|" + pd.Series(floor.astype(int).astype(str))
        in_table = key.isin(defined).to_numpy(bool)
        uncounted = is_uncounted_floor(units["MYC"])[row] | key.isin(uncounted_floor).to_numpy(bool)
        missing_floor = with_table[b] & ~in_table
        out_of_range = ~with_table[b] & beyond(b, floor) & ~uncounted
        wrong = np.zeros(len(units), bool)
        wrong[row[missing_floor | out_of_range]] = True
        first_missing = pd.Series(floor[missing_floor], index=row[missing_floor]).groupby(level=0).first()
        rows = np.flatnonzero(wrong | unknown | s.unit_ambiguous)
        features = units["feature"].to_numpy()[rows]
        messages = []
        for f, r in zip(features, rows, strict=True):
            z, bi = zrzh[r], building[r]
            where = _floor_label(s.unit_low[r], s.unit_high[r])
            if s.unit_ambiguous[r]:
                messages.append(f"户 {f} 的自然幢号 {z} 在本包的多个宗地上都有，户的位置也不能确定属于哪一幢：请填写宗地代码")
            elif unknown[r]:
                messages.append(f"户 {f} 所在的自然幢 {z} 不在自然幢图层中")
            elif r in first_missing.index:
                messages.append(f"户 {f} 位于第 {where} 层，但幢 {z} 的层表中没有第 {int(first_missing[r])} 层")
            else:
                messages.append(f"户 {f} 位于第 {where} 层，但幢 {z} 只有地上 {int(top[bi])} 层、地下 {int(bottom[bi])} 层")
        parts.append(fnd.of_rule("ATT-007", "H", features, messages, lonlat=_points(ctx, "H", rows),
                                 measured=s.unit_low[rows]))
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


def _balconies(units: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(enclosed, unenclosed) balcony area per unit, NaN where the package says nothing: 封闭阳台面积 FBYTMJ and 未封闭
    阳台面积 WFBYTMJ, or one 阳台面积 YTMJ whose 阳台类型 YTLX says which (未封闭 / 不封闭 / 开敞 → unenclosed)."""
    n = len(units)
    enclosed = units["FBYTMJ"].to_numpy(float) if "FBYTMJ" in units else np.full(n, np.nan)
    unenclosed = units["WFBYTMJ"].to_numpy(float) if "WFBYTMJ" in units else np.full(n, np.nan)
    if "YTMJ" in units:
        area = units["YTMJ"].to_numpy(float)
        kind = units["YTLX"].astype("str").fillna("") if "YTLX" in units else pd.Series("", index=units.index)
        open_ = kind.str.contains("未封闭|不封闭|开敞|非封闭", regex=True).to_numpy(bool)
        closed = kind.str.contains("封闭", regex=False).to_numpy(bool) & ~open_
        enclosed = np.where(np.isnan(enclosed) & closed, area, enclosed)
        unenclosed = np.where(np.isnan(unenclosed) & open_, area, unenclosed)
    return enclosed, unenclosed


@rule("ATT-009", layers=("H",), stages=("presale", "asbuilt"), tolerances=("area.level",))
def unit_outline_area(ctx: CheckContext) -> pd.DataFrame:
    """A unit's outline holds its 套内建筑面积 — and the whole of an unenclosed balcony, counted at half in the
    套内 figure (GB/T 17986), so the outline is compared with 套内 + ½ 未封闭阳台; a unit over several floors has its
    outline on each."""
    units = ctx.layer("H")
    if units.geometry.isna().all():
        return fnd.concat([])
    prefix = _prefix(ctx)
    idx = np.flatnonzero(ctx.usable("H"))
    # a 跃层 unit is drawn once, as its outline on each of the floors it spans
    computed = shapely.area(ctx.geometries("H")[idx]) * ctx.structure.spans[idx]
    _, unenclosed = _balconies(units)
    declared = units[f"{prefix}TNJZMJ"].to_numpy(float)[idx] + 0.5 * np.nan_to_num(unenclosed[idx])
    limit = area_limit(ctx.tolerances, computed)
    gap = np.abs(declared - computed)
    hit = np.isfinite(gap) & (gap > limit)
    rows = idx[hit]
    features = units["feature"].to_numpy()[rows]
    half = np.nan_to_num(unenclosed[rows]) > 0
    return fnd.of_rule("ATT-009", "H", features,
                       [f"户 {f} 图形面积 {c:.2f} ㎡ 与套内面积 {d:.2f} ㎡{'（含未封闭阳台另一半）' if h else ''} 相差 {g:.2f} ㎡，"
                        f"超过限差 {lim:.2f} ㎡"
                        for f, c, d, g, lim, h in zip(features, computed[hit], declared[hit], gap[hit], limit[hit], half,
                                                      strict=True)],
                       lonlat=ctx.lonlat(ctx.geometries("H")[rows]), measured=gap[hit], limit=limit[hit])


@rule("ATT-010", layers=("H",), stages=("presale", "asbuilt"), tolerances=("units.apportionment_tolerance",))
def apportionment(ctx: CheckContext) -> pd.DataFrame:
    """分摊 verification within each apportionment group — the units of a building sharing a 分摊组 FTZ when the
    package names one, else a use: the group's K = Σ 分摊 / Σ 套内 over its consistent units (those whose own ratio is
    near the group's median, so one wrong unit does not move everyone's K), then each unit's 分摊 against K × 套内 and
    its declared 分摊系数 against its areas, and the group's declared 分摊系数 against K."""
    units, s = ctx.layer("H"), ctx.structure
    prefix = _prefix(ctx)
    tol = tolerance(ctx.tolerances, "units.apportionment_tolerance")
    declared = units[f"{prefix}FTXS"].to_numpy(float)
    inner = units[f"{prefix}TNJZMJ"].to_numpy(float)
    shared = units[f"{prefix}FTJZMJ"].to_numpy(float)
    n = len(units)
    usable = np.isfinite(inner) & (inner > 0) & np.isfinite(shared)
    ratio = np.divide(shared, inner, out=np.full(n, np.nan), where=usable)
    # the group: the building and its 分摊组 where the package names one, else the building and the use
    named = units["FTZ"].astype("str") if "FTZ" in units else pd.Series(pd.NA, index=units.index, dtype="str")
    use = units["FWYT1"].astype("str").where(named.isna())
    group = pd.DataFrame({"b": s.unit_building_keys, "f": named.to_numpy(object), "u": use.to_numpy(object)}
                         ).groupby(["b", "f", "u"], dropna=False, sort=False).ngroup().to_numpy()

    def label(r: int) -> str:
        return f"分摊组 {named.iat[r]}" if pd.notna(named.iat[r]) else f"用途 {units['FWYT1'].iat[r]}"

    median = pd.Series(ratio).groupby(group).transform("median").to_numpy(float)
    # 0.01 ㎡ of rounding in the areas moves a ratio by up to 0.01 / 套内
    slack = tol + np.divide(0.01, inner, out=np.zeros(n), where=usable)
    consistent = usable & (np.abs(ratio - median) <= slack)
    groups = int(group.max()) + 1 if n else 0
    ft = np.bincount(group, weights=np.where(consistent, shared, 0.0), minlength=groups)
    tn = np.bincount(group, weights=np.where(consistent, inner, 0.0), minlength=groups)
    k_of_group = np.divide(ft, tn, out=np.full(groups, np.nan), where=tn > 0)
    k = k_of_group[group] if n else np.empty(0)
    expected = k * inner
    off = np.abs(shared - expected)
    bad_share = usable & np.isfinite(off) & (off > tol * inner + 0.01 + 1e-9)
    mismatch = np.abs(declared - ratio)
    bad_ratio = np.isfinite(mismatch) & (mismatch > slack)
    rows = np.flatnonzero(bad_share | bad_ratio)
    features = units["feature"].to_numpy()[rows]
    zrzh = units["ZRZH"].to_numpy(object)
    messages = []
    for f, r in zip(features, rows, strict=True):
        if bad_share[r]:
            text = (f"户 {f} 分摊面积 {shared[r]:.2f} ㎡ 与同组（幢 {zrzh[r]}、{label(r)}）分摊系数 K={k[r]:.4f} × 套内 "
                    f"{inner[r]:.2f} ㎡ = {expected[r]:.2f} ㎡ 不符")
        else:
            text = f"户 {f} 分摊系数 {ratio[r]:.4f}（分摊 ÷ 套内）与同组（幢 {zrzh[r]}、{label(r)}）的 K={k[r]:.4f} 不一致"
        if np.isfinite(declared[r]) and bad_ratio[r]:
            text += f"，申报分摊系数为 {declared[r]:.4f}"
        messages.append(text)
    figures = [{"group": label(r), "k": None if not np.isfinite(k[r]) else round(float(k[r]), 6),
                "inner": float(inner[r]), "declared_shared": float(shared[r]),
                "expected_shared": None if not np.isfinite(expected[r]) else round(float(expected[r]), 2),
                "declared_ftxs": None if not np.isfinite(declared[r]) else float(declared[r])} for r in rows]
    parts = [fnd.of_rule("ATT-010", "H", features, messages, lonlat=_points(ctx, "H", rows),
                         measured=ratio[rows], limit=tol, figures=figures)]
    # the group's declared 分摊系数 (the value most of its units carry) against its K
    frame = pd.DataFrame({"g": group, "declared": declared, "row": np.arange(n)})
    frame = frame[np.isfinite(declared)]
    if len(frame):
        counts = frame.assign(declared=frame["declared"].round(4)).groupby(["g", "declared"], sort=False).agg(
            n=("row", "size"), row=("row", "first")).reset_index()
        most = counts.sort_values(["g", "n"], ascending=[True, False], kind="stable").drop_duplicates("g")
        most = most.set_index("g")
        most["k"] = k_of_group[most.index.to_numpy(int)]
        wrong = most[np.isfinite(most["k"].to_numpy(float)) & ((most["declared"] - most["k"]).abs() > tol + 1e-4)]
        first = wrong["row"].to_numpy(int)
        parts.append(fnd.of_rule(
            "ATT-010", "H", units["feature"].to_numpy()[first],
            [f"分摊组（幢 {zrzh[r]}、{label(r)}）申报分摊系数 {d:.4f}，按各户面积计算 K = Σ分摊 ÷ Σ套内 = {kk:.4f}"
             for r, d, kk in zip(first, wrong["declared"], wrong["k"], strict=True)],
            lonlat=_points(ctx, "H", first), measured=wrong["k"].to_numpy(float), limit=tol,
            figures=[{"group": label(r), "k": round(float(kk), 6), "declared_ftxs": float(d)}
                     for r, d, kk in zip(first, wrong["declared"], wrong["k"], strict=True)]))
    return fnd.concat(parts)


@rule("ATT-013", layers=("H",), stages=("presale", "asbuilt"), tolerances=("units.balcony_balance_tolerance",))
def balcony_balance(ctx: CheckContext) -> pd.DataFrame:
    """套内建筑面积 = 套内使用面积 + 套内墙体面积 + 阳台 (enclosed in full, unenclosed at half; GB/T 17986), for the
    units whose package gives the parts."""
    units = ctx.layer("H")
    if "TNSYMJ" not in units or "TNQTMJ" not in units:
        return fnd.concat([])
    prefix = _prefix(ctx)
    tol = tolerance(ctx.tolerances, "units.balcony_balance_tolerance")
    inner = units[f"{prefix}TNJZMJ"].to_numpy(float)
    use, wall = units["TNSYMJ"].to_numpy(float), units["TNQTMJ"].to_numpy(float)
    enclosed, unenclosed = _balconies(units)
    expected = use + wall + np.nan_to_num(enclosed) + 0.5 * np.nan_to_num(unenclosed)
    gap = np.abs(inner - expected)
    hit = np.isfinite(gap) & (gap > tol + 1e-9)
    rows = np.flatnonzero(hit)
    features = units["feature"].to_numpy()[rows]
    messages = [f"户 {f} 套内建筑面积 {i:.2f} ㎡ ≠ 套内使用 {u:.2f} + 墙体 {w:.2f} + 封闭阳台 {c:.2f} + 未封闭阳台 {o:.2f}÷2 "
                f"= {e:.2f} ㎡（差 {g:.2f} ㎡）"
                for f, i, u, w, c, o, e, g in zip(features, inner[rows], use[rows], wall[rows],
                                                  np.nan_to_num(enclosed[rows]), np.nan_to_num(unenclosed[rows]),
                                                  expected[rows], gap[rows], strict=True)]
    return fnd.of_rule("ATT-013", "H", features, messages, lonlat=_points(ctx, "H", rows), measured=gap[rows],
                       limit=tol, figures=[{"expected_inner": round(float(e), 2)} for e in expected[rows]])


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
