"""Which building, which floor(s), which unit: the one reading of a package's structure that the checks, the code
matching and the 楼盘表 share.

- **Building.** A unit (H), a floor (C) or a logical building (LJZ) belongs to the package's 自然幢 (ZRZ) with the same
  宗地代码 + 幢号 when it carries a 宗地代码, else with the same 幢号 — the standard's layout has ZDDM on ZRZ only. Two
  buildings of one project on different parcels may share a 幢号 (it restarts at 0001 on each parcel): a row without a
  宗地代码 then belongs to the one whose footprint holds it, and is *ambiguous* when that cannot tell.
- **Floors.** A unit lies on 实际层 SJC, or spans floors (跃层, 复式): 起始层 QSC to 终止层 ZZC, or SJC and 实际层数 SJCS,
  or a 名义层 such as ``5-6`` — ``low`` to ``high``, floor 0 skipped. A C row whose 名义层 names a 阁楼 or 夹层 is not
  counted as a floor (GB/T 17986.1), so units on it lie beyond 地上层数 rightly.
- **Unit.** A unit is 幢 + 单元 + floor + room, the room label normalised: ``0501`` = ``501``; ``1-501`` with 单元 1 =
  ``501`` with 单元 1 = ``1单元501室``; ``2-1-1501`` is 幢 2, 单元 1, room 1501; full-width digits and blanks folded;
  单元 ``一单元`` = ``1``.

Everything is computed on whole columns (Arrow's regular expressions for the labels); :func:`package_structure` runs
once per package (``SurveyPackage.structure``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

__all__ = ["Structure", "package_structure", "building_keys", "room_keys", "unit_identities", "floor_spans",
           "occupied_floors", "logical_building_names", "is_uncounted_floor", "is_underground_only", "UNCOUNTED_FLOORS", "PARKING_TYPES"]

#: 名义层 words of floors GB/T 17986.1 does not count in 层数
UNCOUNTED_FLOORS = ("阁楼", "夹层")
#: 房屋类型 FWLX of parking units (车库, 车位)
PARKING_TYPES = frozenset({"6"})
_CHINESE_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
                   "十": "10"}


def _arrow(values: pd.Series) -> pa.Array:
    """A column as Arrow text (nulls kept): pandas' own Arrow strings, without a copy where it can."""
    array = pa.array(values.astype("str"))
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return array.cast(pa.string()) if array.type != pa.string() else array


def building_keys(frame: pd.DataFrame) -> np.ndarray:
    """A row's own building key: 宗地代码 + ``F`` + 幢号 (without a 宗地代码: ``F`` + 幢号)."""
    zrzh = pc.fill_null(_arrow(frame["ZRZH"]), "")
    zddm = pc.fill_null(_arrow(frame["ZDDM"]) if "ZDDM" in frame else pa.nulls(len(frame), pa.string()), "")
    return pc.binary_join_element_wise(zddm, zrzh, "F").to_numpy(zero_copy_only=False).astype(object)


def _arrow_text(values: pd.Series) -> pa.Array:
    """Text without blanks, full-width digits folded, as an Arrow array (blanks → null); Arrow's kernels over the
    whole column."""
    text = pc.replace_substring_regex(_arrow(values), r"\s+", "")
    if pc.any(pc.match_substring_regex(text, "[０-９－＃]")).as_py():
        for wide, narrow in zip("０１２３４５６７８９－＃", "0123456789-#", strict=True):
            text = pc.replace_substring(text, wide, narrow)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _digits(array: pa.Array) -> pa.Array:
    """Runs of digits without their leading zeros (``0501`` → ``501``; ``0`` stays ``0``)."""
    return pc.replace_substring_regex(array, r"^0+([0-9])", r"\1")


def _unit_number(dyh: pd.Series) -> pa.Array:
    """单元号 as a number where it is one: ``1``, ``01``, ``1单元``, ``一单元`` → ``1``; other labels as written."""
    text = _arrow_text(dyh)
    if pc.any(pc.match_substring_regex(text, "[一二三四五六七八九十]")).as_py():
        for word, digit in _CHINESE_DIGITS.items():
            text = pc.replace_substring_regex(text, f"^{word}(单元)?$", digit)
    text = pc.replace_substring_regex(text, r"^([0-9]+)单元$", r"\1")
    return _digits(text)


def room_keys(shbw: pd.Series, dyh: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(单元 key, room key) per unit: the 单元 from DYH, else from the room label (``1-501``, ``1单元501室``); the
    room number without leading zeros, or the label as written (folded) when it is not a number."""
    text = pc.replace_substring_regex(_arrow_text(shbw), r"室$", "")
    # the forms with a 单元 in them are looked for only when some label has a dash or says 单元 (a regex pass each)
    dashes = pc.max(pc.count_substring(text, "-")).as_py() or 0
    units_named = dashes > 0 or pc.any(pc.match_substring(text, "单元")).as_py()
    none = pa.nulls(len(text), pa.string())
    three = pc.extract_regex(text, r"^(?P<b>[0-9]+)-(?P<u>[0-9]+)-(?P<r>[0-9]+)$") if dashes >= 2 else None
    two = pc.extract_regex(text, r"^(?P<u>[0-9]+)(?:单元|-)(?P<r>[0-9]+)$") if units_named else None
    one = pc.extract_regex(text, r"^(?P<r>[0-9]+)$")
    room = pc.coalesce(*[none if m is None else pc.struct_field(m, "r") for m in (three, two, one)])
    from_label = pc.coalesce(*[none if m is None else pc.struct_field(m, "u") for m in (three, two)])
    room = pc.coalesce(_digits(room), text)
    unit = pc.coalesce(_unit_number(dyh), _digits(from_label), pa.scalar(""))
    return (unit.to_numpy(zero_copy_only=False).astype(object),
            pc.fill_null(room, "").to_numpy(zero_copy_only=False).astype(object))


def floor_spans(units: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) 实际层 of each unit (NaN where unknown): 起始层 QSC–终止层 ZZC, else SJC and 实际层数 SJCS,
    else SJC and a 名义层 ``5-6`` / ``5/6`` / ``5~6``; floor 0 does not exist, so a span from −1 up skips it."""
    n = len(units)

    def column(name: str) -> np.ndarray:
        if name not in units:
            return np.full(n, np.nan)
        return pd.to_numeric(units[name], errors="coerce").astype("float64").to_numpy()

    sjc, qsc, zzc, sjcs = column("SJC"), column("QSC"), column("ZZC"), column("SJCS")
    count = np.where(np.isfinite(sjcs) & (sjcs >= 1), sjcs, np.nan)
    if "MYC" in units and np.isnan(count).any():
        label = _arrow_text(units["MYC"])
        pair = pc.extract_regex(label, r"^(?P<a>-?[0-9]+)[-/~～至、](?P<b>-?[0-9]+)层?$")
        a = pc.cast(pc.struct_field(pair, "a"), pa.float64()).to_numpy(zero_copy_only=False)
        b = pc.cast(pc.struct_field(pair, "b"), pa.float64()).to_numpy(zero_copy_only=False)
        named = np.isfinite(a) & np.isfinite(b) & (b > a)
        count = np.where(np.isnan(count) & named, b - a + 1 - ((a < 0) & (b > 0)), count)
    low = np.where(np.isfinite(qsc) & np.isfinite(zzc), np.fmin(qsc, zzc), sjc)
    high = np.where(np.isfinite(qsc) & np.isfinite(zzc), np.fmax(qsc, zzc),
                    np.where(np.isfinite(count), sjc + count - 1, sjc))
    crosses = np.isfinite(low) & (low < 0) & (high >= 0) & ~(np.isfinite(qsc) & np.isfinite(zzc))
    high = np.where(crosses, high + 1, high)  # −1, 1: floor 0 is not a floor
    return low, high


def occupied_floors(low: np.ndarray, high: np.ndarray, most: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """(row, floor) for every floor each unit occupies, from its (lowest, highest) floors: floor 0 skipped, a span
    capped at ``most`` floors, units whose floors are unknown left out."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    idx = np.flatnonzero(np.isfinite(low) & np.isfinite(high))
    lo, hi = low[idx], np.maximum(high[idx], low[idx])
    count = np.clip(hi - lo + 1, 1, most).astype(int)
    row = np.repeat(idx, count)
    start = np.repeat(lo, count)
    floor = start + (np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count))
    floor = np.where((start < 0) & (floor >= 0), floor + 1, floor)  # −1, then 1
    keep = floor <= np.repeat(hi, count)
    return row[keep], floor[keep]


def is_uncounted_floor(myc: pd.Series) -> np.ndarray:
    """Floors whose 名义层 names a 阁楼 or 夹层 (not counted in 层数)."""
    text = myc.astype("str").fillna("")
    return text.str.contains("|".join(UNCOUNTED_FLOORS), regex=True).fillna(False).to_numpy(bool)


def is_underground_only(buildings: pd.DataFrame) -> np.ndarray:
    """Buildings with floors below ground and none above (a 地下车库): 地上层数 0 with 地下层数 ≥ 1."""
    above = pd.to_numeric(buildings["DSCS"], errors="coerce").to_numpy(float) if "DSCS" in buildings else None
    below = pd.to_numeric(buildings["DXCS"], errors="coerce").to_numpy(float) if "DXCS" in buildings else None
    if above is None or below is None:
        return np.zeros(len(buildings), bool)
    return (above == 0) & (below >= 1)


@dataclass(frozen=True)
class Structure:
    """The package's structure (see the module's docstring). Per-row arrays are aligned with the layers' rows."""

    building_keys: np.ndarray  # per ZRZ row: its key
    underground_only: np.ndarray  # per ZRZ row
    unit_building: np.ndarray  # per H row: ZRZ row, −1 when unknown
    unit_building_keys: np.ndarray  # per H row: that building's key (its own key when unknown)
    unit_ambiguous: np.ndarray  # per H row: several buildings could be meant and nothing told which
    floor_building: np.ndarray  # per C row: ZRZ row, −1 when unknown
    floor_building_keys: np.ndarray  # per C row
    unit_low: np.ndarray  # per H row: lowest 实际层 (float, NaN unknown)
    unit_high: np.ndarray  # per H row: highest 实际层
    unit_dyh: np.ndarray  # per H row: 单元 key
    unit_room: np.ndarray  # per H row: room key
    unit_identity: np.ndarray  # per H row: building key | 单元 | lowest floor | room

    @property
    def spans(self) -> np.ndarray:
        """Per H row: the number of floors the unit spans (1 for most)."""
        return np.where(np.isfinite(self.unit_high) & np.isfinite(self.unit_low),
                        self.unit_high - self.unit_low + 1 - ((self.unit_low < 0) & (self.unit_high > 0)), 1)


def _assign(frame: pd.DataFrame | None, buildings: pd.DataFrame | None, keys: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ZRZ row or −1, building key, ambiguous) for each row of ``frame``."""
    if frame is None:
        return np.empty(0, int), np.empty(0, object), np.empty(0, bool)
    n = len(frame)
    own = building_keys(frame)
    if buildings is None or not len(buildings):
        return np.full(n, -1), own, np.zeros(n, bool)
    row = np.full(n, -1)
    # 1. the full key, for rows that carry a 宗地代码
    by_key = pd.Series(np.arange(len(buildings)), index=keys)
    by_key = by_key[~by_key.index.duplicated()]
    has_code = frame["ZDDM"].notna().to_numpy(bool) if "ZDDM" in frame else np.zeros(n, bool)
    if has_code.any():
        found = pd.Index(by_key.index).get_indexer(own)
        hit = has_code & (found >= 0)
        row[hit] = by_key.to_numpy()[found[hit]]
    # 2. the 幢号 alone, when one building of the package has it (only for the rows still open)
    zrzh = frame["ZRZH"].astype("str").to_numpy(object)
    building_zrzh = buildings["ZRZH"].astype("str").to_numpy(object)
    counts = pd.Series(building_zrzh).value_counts()
    open_ = np.flatnonzero(row < 0)
    if len(open_):
        only = pd.Series(np.arange(len(buildings)), index=building_zrzh)
        only = only[only.index.isin(counts.index[counts == 1])]
        found = pd.Index(only.index).get_indexer(zrzh[open_])
        row[open_[found >= 0]] = only.to_numpy()[found[found >= 0]]
    # 3. several buildings with that 幢号 (on different parcels): the one whose footprint holds the row
    several = (row < 0) & pd.Series(zrzh).isin(counts.index[counts > 1]).to_numpy(bool)
    ambiguous = np.zeros(n, bool)
    if several.any():
        geoms = np.asarray(frame.geometry.values, dtype=object) if isinstance(frame, pd.DataFrame) and \
            "geometry" in frame else np.full(n, None, dtype=object)
        footprints = np.asarray(buildings.geometry.values, dtype=object)
        idx = np.flatnonzero(several)
        where = np.array([None if g is None else shapely.point_on_surface(g) for g in geoms[idx]], dtype=object)
        located = np.full(len(idx), -1)
        present = np.flatnonzero(np.array([w is not None for w in where], dtype=bool))
        if len(present):
            tree = shapely.STRtree(footprints)
            left, right = tree.query(where[present], predicate="within")
            same = building_zrzh[right] == zrzh[idx[present]][left]
            located[present[left[same]]] = right[same]
        row[idx] = located
        ambiguous[idx[located < 0]] = True
    out = own.copy()
    out[row >= 0] = keys[row[row >= 0]]
    return row, out, ambiguous


def unit_identities(building: np.ndarray, dyh: np.ndarray, low: np.ndarray, room: np.ndarray) -> np.ndarray:
    """``building|单元|lowest floor|room`` per unit (the floor as an integer, ``?`` when unknown)."""
    low = np.asarray(low, dtype=float)
    floor = pc.fill_null(pc.cast(pa.array(np.where(np.isfinite(low), low, 0).astype(np.int64),
                                          mask=~np.isfinite(low)), pa.string()), "?")
    parts = [pc.cast(pa.array(np.asarray(v, dtype=object), from_pandas=True), pa.string()) for v in (building, dyh)]
    room = pc.cast(pa.array(np.asarray(room, dtype=object), from_pandas=True), pa.string())
    parts = [pc.fill_null(v, "") for v in (*parts, floor, room)]
    return pc.binary_join_element_wise(*parts, "|").to_numpy(zero_copy_only=False).astype(object)


def package_structure(layers: dict[str, pd.DataFrame]) -> Structure:
    """The structure of a package's normalised layers (``SurveyPackage.layers``)."""
    buildings, units, floors = layers.get("ZRZ"), layers.get("H"), layers.get("C")
    keys = building_keys(buildings) if buildings is not None else np.empty(0, object)
    unit_row, unit_keys, ambiguous = _assign(units, buildings, keys)
    floor_row, floor_keys, _ = _assign(floors, buildings, keys)
    if units is not None:
        low, high = floor_spans(units)
        dyh, room = room_keys(units["SHBW"], units["DYH"])
        identity = unit_identities(unit_keys, dyh, low, room)
    else:
        low = high = np.empty(0)
        dyh = room = identity = np.empty(0, object)
    underground = is_underground_only(buildings) if buildings is not None else np.empty(0, bool)
    return Structure(keys, underground, unit_row, unit_keys, ambiguous, floor_row, floor_keys, low, high, dyh, room,
                     identity)


def logical_building_names(logical: pd.DataFrame | None, units: pd.DataFrame) -> np.ndarray:
    """Per unit: the name of its 逻辑幢 (LJZ 逻辑幢名称, else its 门牌号), found by the unit's 幢号 and 逻辑幢号; None
    where the package names none."""
    names = np.full(len(units), None, dtype=object)
    if logical is None or not len(logical) or "LJZH" not in units:
        return names
    name = logical["LJZMC"] if "LJZMC" in logical else pd.Series(None, index=logical.index, dtype=object)
    if "MPH" in logical:
        name = name.where(name.notna(), logical["MPH"])
    own_key = logical["ZRZH"].astype("str").reset_index(drop=True) + "|" + \
        logical["LJZH"].astype("str").reset_index(drop=True)
    own = pd.Series(name.to_numpy(object), index=own_key.to_numpy(object))
    own = own[own.index.notna() & ~own.index.duplicated()]
    key = units["ZRZH"].astype("str").reset_index(drop=True) + "|" + units["LJZH"].astype("str").reset_index(drop=True)
    found = key.map(own).to_numpy(object)
    return np.where(pd.notna(found), found, None)
