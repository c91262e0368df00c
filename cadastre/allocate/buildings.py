"""Coding a pre-sale or as-built survey's buildings and units, as pure functions over frames: which 幢号 each
building gets, the floors to record, and the 预测 / 实测 comparison of the units that kept their codes
(unit-code.md "Allocation rules", "Pre-sale to as-built"). The registry reserves the numbers and writes the rows
(``registry.ingest``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cadastre.allocate.policy import AREA_DEVIATION_LIMIT
from cadastre.read.structure import occupied_floors

__all__ = ["BuildingNumbers", "building_numbers", "is_building_number", "floor_rows", "area_comparison"]


@dataclass(frozen=True)
class BuildingNumbers:
    """The 幢号 of each building of a package."""

    numbers: np.ndarray  # per building: its 4-digit 幢号, None where the next free number is to be reserved
    used: list[int]  # surveyed numbers taken as they are (the high-water mark must reach them)


def is_building_number(zrzh, maximum: int = 9999) -> bool:
    """A surveyed 自然幢号 that can be a 幢号 as it is (``0001``…); anything else (``A座``) is a label."""
    return isinstance(zrzh, str) and zrzh.isdigit() and 1 <= int(zrzh) <= maximum


def building_numbers(zrzh: Iterable, replaceable: Mapping[str, str | None], current: set[str], issued: set[str],
                     maximum: int) -> BuildingNumbers:
    """Choose the 幢号 of each surveyed building: a building that replaces a current one keeps its number
    (``replaceable``: the current buildings this survey may replace, 幢号 → label) — matched by 幢号, or by label
    for a surveyed 幢号 that is not a number (``A座`` again in the as-built survey); a valid surveyed number no
    current building has and no code was ever issued under (``current``, ``issued``) is used as it is; every other
    building gets the next free number (None here)."""
    zrzh = list(zrzh)
    numbers = np.empty(len(zrzh), dtype=object)
    used: list[int] = []
    taken: set[str] = set()
    by_label = {label: number for number, label in replaceable.items() if isinstance(label, str) and label}
    for i, z in enumerate(zrzh):
        if z in taken:
            continue
        if not is_building_number(z, maximum):
            if z in by_label:
                numbers[i] = by_label[z]
                taken.add(z)
            continue
        if z in replaceable:
            numbers[i] = z
        elif z not in current and z not in issued:
            numbers[i] = z
            used.append(int(z))
        taken.add(z)
    return BuildingNumbers(numbers, used)


def floor_rows(floors: pd.DataFrame | None, floor_keys: np.ndarray, units: pd.DataFrame, renumber: Mapping[str, str],
               building_ids: Mapping[str, int]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The floors to record (columns and geometry): the package's floor layer (C) when it has one — its floors
    without units (架空层, 设备层, 避难层) included — else every floor the units occupy (a 跃层 unit's upper floors
    too). ``floor_keys``: each C row's building key (``read.structure``); ``renumber``: a building's key in the
    package → its 幢号; ``building_ids``: 幢号 → row id; ``units`` carry their 幢号 as ``building`` and their floors as
    ``low`` and ``high``."""
    if floors is not None and len(floors):
        number = pd.Series(floor_keys).map(renumber).to_numpy(object)
        keep = pd.notna(number)
        floors, number = floors[keep], number[keep]
        columns = {"sjc": floors["SJC"].to_numpy(object), "myc": floors["MYC"].to_numpy(object),
                   "cg": floors["CG"].to_numpy(object), "building_id": np.array([building_ids[b] for b in number])}
        return columns, np.asarray(floors.geometry.values, dtype=object)
    row, floor = occupied_floors(units["low"].to_numpy(float), units["high"].to_numpy(float))
    spans = units["high"].to_numpy(float) > units["low"].to_numpy(float)
    # a floor's 名义层 from a unit lying on that floor alone (a 跃层 unit's ``5-6`` names no single floor)
    myc = np.where(spans[row], None, units["MYC"].to_numpy(object)[row])
    distinct = pd.DataFrame({"building": units["building"].to_numpy(object)[row], "SJC": floor.astype(int),
                             "MYC": myc}).sort_values(["building", "SJC", "MYC"], na_position="last")
    distinct = distinct.drop_duplicates(["building", "SJC"])
    columns = {"sjc": distinct["SJC"].to_numpy(object), "myc": distinct["MYC"].to_numpy(object),
               "cg": np.full(len(distinct), None, dtype=object),
               "building_id": np.array([building_ids[b] for b in distinct["building"].tolist()])}
    return columns, np.full(len(distinct), None, dtype=object)


def area_comparison(units: pd.DataFrame, codes: pd.Series, previous: pd.DataFrame) -> dict[str, Any]:
    """预测 / 实测 comparison of matched units: both areas, the difference and 面积误差比 (flagged beyond ±3 %).
    Computed on arrays: a project's 40 800 units took half a second one by one."""
    code = codes.to_numpy(object)
    predicted = pd.Series(pd.to_numeric(previous["ycjzmj"], errors="coerce").to_numpy(float),
                          index=previous["bdcdyh"].to_numpy(object))
    predicted = predicted[~predicted.index.duplicated(keep="last")]
    found = predicted.index.get_indexer(code)
    rows = np.flatnonzero(found >= 0)
    before = predicted.to_numpy()[found[rows]]
    measured = pd.to_numeric(units["SCJZMJ"], errors="coerce").to_numpy(float)[rows]
    comparable = np.isfinite(before) & (before != 0) & np.isfinite(measured)
    difference = np.where(comparable, measured - before, np.nan)
    ratio = np.divide(difference, before, out=np.full(len(rows), np.nan), where=comparable)
    over = comparable & (np.abs(np.nan_to_num(ratio)) > AREA_DEVIATION_LIMIT)

    def plain(values: np.ndarray) -> list:  # JSON numbers, None where there is none
        shown = values.astype(object)
        shown[np.isnan(values)] = None
        return shown.tolist()

    # codes as Python lists first: pandas keeps them as Arrow strings, iterated one Arrow scalar at a time (3×)
    code_list, presale_codes = code.tolist(), previous["bdcdyh"].to_numpy(object).tolist()
    known = set(predicted.index.tolist())
    kept = set(code_list)  # once: in a loop it made a pre-sale → as-built of 40 800 units quadratic
    # a dict display per unit: half the time of dict(zip(names, row)) over 40 800 units
    units_compared = [{"bdcdyh": c, "zrzh": b, "shbw": s, "predicted": p, "measured": m, "difference": d,
                       "ratio_percent": r, "flagged": f}
                      for c, b, s, p, m, d, r, f in zip(
                          code[rows].tolist(), units["building"].to_numpy(object)[rows].tolist(),
                          units["SHBW"].to_numpy(object)[rows].tolist(), plain(before), plain(measured),
                          plain(np.round(difference, 2)), plain(np.round(ratio * 100, 2)), over.tolist(), strict=True)]
    return {"units": units_compared, "flagged": int(over.sum()), "added": [c for c in code_list if c not in known],
            "removed": [c for c in presale_codes if c not in kept], "limit_percent": 3.0}
