"""楼盘表: one table per building — floors as rows (top to bottom by 实际层, labelled by 名义层), units as cells
across (逻辑幢, then 单元, then the unit's place on the floor: 户号 HH when the survey gives it, else room order), with
code, room label, use, areas, 分摊系数, status and readiness; totals per floor and for the building, which must
balance with the building's own figure (qa-and-planning.md).

A 楼盘表 never drops a unit: a unit whose place is taken on one of its floors gets a column of its own beside it. A
unit over several floors (跃层, 复式) is one cell spanning its floors — anchored on its highest floor, where its area
is counted — and the floors the building has without units (架空层, 设备层) are rows too. So the cells are the units
and each floor's total is the sum of the cells anchored on it.

:func:`building_table` is pure: it takes the rows ``store.queries.building_rows`` fetched. The page and the
spreadsheet a person reads are :mod:`cadastre.serve.tables`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cadastre.core.catalogue import PLANNING_PREFIX, REGISTERED_BEFORE
from cadastre.core.codetables import table
from cadastre.read.structure import occupied_floors, room_keys

__all__ = ["Column", "Cell", "Covered", "FloorRow", "BuildingTable", "building_table", "readiness"]


def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


@dataclass(frozen=True, order=True)
class Column:
    """A column of the 楼盘表: a place on the floors of one 单元 of one 逻辑幢."""

    ljzh: str  # 逻辑幢号 ("" when the survey has none)
    dyh: str  # 单元号 ("" when none)
    place: int  # 户号 HH, else the unit's rank by room on its floor
    extra: int = 0  # > 0: a further column for a unit whose place was taken
    ljz: str | None = None  # the 逻辑幢's name, as a heading

    @property
    def label(self) -> str:
        return f"{self.place}号" + (f"（{self.extra + 1}）" if self.extra else "")


@dataclass
class Cell:
    bdcdyh: str
    shbw: str
    dyh: str | None
    hh: int | None
    use: str | None
    use_name: str | None
    area: float | None  # 建筑面积
    inner: float | None  # 套内
    shared: float | None  # 分摊
    ftxs: float | None  # 分摊系数
    status: str  # current | retired
    ready: bool
    floors: list[int] = field(default_factory=list)  # the floors it occupies (more than one: 跃层, 复式)
    rowspan: int = 1  # rows of the table it spans


@dataclass
class Covered:
    """A place a unit from a floor above spans into (the cell is drawn once, on its highest floor)."""

    covered_by: str  # that unit's code


@dataclass
class FloorRow:
    sjc: int
    myc: str
    cells: list[Cell | Covered | None]  # aligned with BuildingTable.columns; None where the floor has no such unit
    total_area: float  # Σ 建筑面积 of the cells anchored on this floor
    label: str = ""  # as the table heads the row: ``6层``, ``地下1层``, ``架空层``, ``阁楼``

    def __post_init__(self) -> None:
        self.label = self.label or (f"{self.myc}层" if re.fullmatch(r"(地下)?-?[0-9]+", self.myc) else self.myc)


@dataclass
class BuildingTable:
    code: str  # 24 characters: 宗地代码 + F + 幢号
    name: str | None
    parcel_code: str
    zl: str | None
    floors_above: int | None
    floors_below: int | None
    structure: str | None
    use: str | None
    stage: str
    package_id: int
    columns: list[Column]
    rows: list[FloorRow]
    unit_count: int
    total_area: float
    declared_area: float | None
    balanced: bool
    ready: bool
    not_ready_because: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for column, raw in zip(self.columns, out["columns"], strict=True):
            raw["label"] = column.label
        return out

    @property
    def cells(self) -> list[Cell]:
        """Every unit's cell, once."""
        return [c for row in self.rows for c in row.cells if isinstance(c, Cell)]


def readiness(stage: str, package_status: str, zrzh: str, open_errors: pd.DataFrame,
              indicators: pd.DataFrame) -> list[str]:
    """Why a building is not ready for 首次登记 (domain.md "Readiness"); empty when it is: an accepted as-built
    survey, no unwaived error, and planning verification run with every failure of the project or of this building
    waived. A failed figure of another building of the project does not hold this one back."""
    return readiness_of_buildings(stage, package_status, [zrzh], open_errors, indicators)[0]


def readiness_of_buildings(stage: str, package_status: str, zrzhs: list[str], open_errors: pd.DataFrame,
                           indicators: pd.DataFrame) -> list[list[str]]:
    """:func:`readiness` of each building of one package (its 幢号 ``zrzhs``): what they share decided once, then
    only each building's own planning failures (a project of 200 buildings: 200 passes over the package's errors
    and indicators were most of its acceptance)."""
    shared = []
    if stage != "asbuilt":
        shared.append("尚无实测成果（仅有预测）")
    if package_status != "accepted":
        shared.append("实测成果包未受理")
    planning = open_errors["rule"].str.startswith(PLANNING_PREFIX).to_numpy(bool)
    survey = int((~planning).sum())
    if survey:
        shared.append(f"成果包尚有 {survey} 处未豁免的错误")
    if stage != "asbuilt":
        return [list(shared) for _ in zrzhs]
    checked = indicators[~indicators["status"].isin(["not_checked"])] if len(indicators) else indicators
    if checked.empty:
        why = indicators["reason"].dropna().iloc[0] if len(indicators) and indicators["reason"].notna().any() \
            else "实测成果未做规划核实"
        shared.append(f"规划核实未进行：{why}")
    failed = open_errors[planning]
    # a failure whose feature is a 幢号 belongs to that building; any other (the project's) to every building
    of_building = np.array([f if isinstance(f, str) and len(f) == 4 and f.isdigit() else "" for f in failed["feature"]],
                           dtype=object)
    rules = failed["rule"].to_numpy(object)
    reasons = []
    for zrzh in zrzhs:
        mine = rules[(of_building == "") | (of_building == zrzh)]
        reasons.append(shared + ([f"规划核实有 {len(mine)} 项未通过且未豁免（{'、'.join(sorted(set(mine)))}）"]
                                 if len(mine) else []))
    return reasons


def _places(units: pd.DataFrame) -> list[tuple[str, str, int]]:
    """(逻辑幢号, 单元, place) of each unit: its 户号 when the survey gives one, else its rank by room number among the
    units of its 逻辑幢 and 单元 on its lowest floor."""
    ljzh = units["ljzh"].fillna("").astype(str) if "ljzh" in units else pd.Series("", index=units.index)
    dyh, room = room_keys(units["shbw"], units["dyh"])
    # a unit without 单元 (a shop) in a 逻辑幢 of one 单元 stands in that 单元's columns
    only = pd.Series(dyh).where(pd.Series(dyh) != "").groupby(ljzh.to_numpy()).agg(
        lambda v: v.dropna().iat[0] if v.dropna().nunique() == 1 else "")
    dyh = np.where(dyh == "", ljzh.map(only).fillna("").to_numpy(object), dyh)
    number = pd.to_numeric(pd.Series(room, index=units.index), errors="coerce")
    order = pd.DataFrame({"ljzh": ljzh, "dyh": dyh, "sjc": units["sjc"], "n": number.fillna(np.inf),
                          "room": room}).sort_values(["n", "room"])
    rank = order.groupby(["ljzh", "dyh", "sjc"]).cumcount().reindex(units.index) + 1
    hh = pd.to_numeric(units["hh"], errors="coerce")
    place = hh.where(hh.notna(), rank).astype(int)
    return list(zip(ljzh, dyh, place, strict=True))


def building_table(rows: dict[str, pd.DataFrame]) -> BuildingTable:
    """The 楼盘表 of one building from its rows (``store.queries.building_rows``)."""
    b = rows["building"].iloc[0]
    units = rows["units"].reset_index(drop=True)
    stage = b["stage"]
    prefix = "sc" if stage == "asbuilt" else "yc"
    reasons = ([REGISTERED_BEFORE] if b.get("package_stage") == "baseline" else
               readiness(stage, b["package_status"], b["zrzh"], rows["open_errors"], rows["indicators"]))
    uses = table("FWYT")
    low = units["sjc"].to_numpy(float)
    high = pd.to_numeric(units["zzc"], errors="coerce").to_numpy(float) if "zzc" in units else low
    high = np.where(np.isfinite(high) & (high > low), high, low)
    at, floor = occupied_floors(low, high)
    occupies: list[list[int]] = [[] for _ in range(len(units))]
    for r, f in zip(at, floor.astype(int), strict=True):
        occupies[r].append(f)
    floors = rows["floors"]
    labels = {int(s): m for s, m in zip(floors["sjc"], floors["myc"], strict=True) if pd.notna(s) and
              isinstance(m, str) and m} if len(floors) else {}
    single = high == low  # a 跃层 unit's 名义层 (5-6) names no single floor
    for s, m in zip(low[single], units["myc"].to_numpy(object)[single], strict=True):
        if isinstance(m, str) and m and np.isfinite(s):
            labels.setdefault(int(s), m)
    all_floors = sorted({int(f) for f in floor} | {int(s) for s in floors["sjc"].dropna()} if len(floors)
                        else {int(f) for f in floor}, reverse=True)
    names = {}
    if "ljzmc" in units:
        names = {str(h): n for h, n in zip(units["ljzh"], units["ljzmc"], strict=True) if pd.notna(h) and pd.notna(n)}
    # place every unit on a grid of (column, floor), a taken place giving the unit a column of its own
    taken: dict[tuple[Column, int], int] = {}
    column_of: list[Column] = []
    for i, (ljzh, dyh, place) in enumerate(_places(units)):
        extra = 0
        while True:
            column = Column(ljzh, dyh, place, extra, names.get(ljzh))
            if not any((column, f) in taken for f in occupies[i]):
                break
            extra += 1
        for f in occupies[i]:
            taken[(column, f)] = i
        column_of.append(column)
    columns = sorted(set(column_of), key=lambda c: (c.ljzh.zfill(6), c.dyh.zfill(6), c.place, c.extra))
    position = {c: k for k, c in enumerate(columns)}
    row_of = {f: k for k, f in enumerate(all_floors)}
    grid: list[list[Cell | Covered | None]] = [[None] * len(columns) for _ in all_floors]
    totals = np.zeros(len(all_floors))
    area = units[f"{prefix}jzmj"].astype(float).to_numpy()
    for i, u in enumerate(units.itertuples()):
        if not occupies[i]:
            continue
        top = max(occupies[i])
        cell = Cell(u.bdcdyh, u.shbw, u.dyh, None if pd.isna(u.hh) else int(u.hh), u.fwyt,
                    uses.name(u.fwyt) if u.fwyt else None, _num(area[i]), _num(getattr(u, f"{prefix}tnjzmj")),
                    _num(getattr(u, f"{prefix}ftjzmj")), _num(getattr(u, f"{prefix}ftxs")),
                    "retired" if u.retired_at is not None and not pd.isna(u.retired_at) else "current", not reasons,
                    sorted(occupies[i]), len(occupies[i]))
        k = position[column_of[i]]
        grid[row_of[top]][k] = cell
        for f in occupies[i]:
            if f != top:
                grid[row_of[f]][k] = Covered(u.bdcdyh)
        totals[row_of[top]] += 0.0 if np.isnan(area[i]) else area[i]
    floor_rows = [FloorRow(f, str(labels.get(f, f)), grid[k], round(float(totals[k]), 2))
                  for k, f in enumerate(all_floors)]
    total = round(float(np.nansum(area)), 2)
    declared = _num(b[f"{prefix}jzmj"])
    return BuildingTable(
        code=f"{b['zddm']}F{b['zrzh']}", name=b["jzwmc"], parcel_code=b["zddm"], zl=b["zl"],
        floors_above=None if pd.isna(b["dscs"]) else int(b["dscs"]),
        floors_below=None if pd.isna(b["dxcs"]) else int(b["dxcs"]),
        structure=table("FWJG").name(b["fwjg"]) if b["fwjg"] else None,
        use=uses.name(b["ghyt"]) if b["ghyt"] else None, stage=stage, package_id=int(b["package_id"]),
        columns=columns, rows=floor_rows, unit_count=len(units), total_area=total, declared_area=declared,
        balanced=declared is None or abs(declared - total) <= 0.01 * max(len(units), 1),
        ready=not reasons, not_ready_because=reasons)
