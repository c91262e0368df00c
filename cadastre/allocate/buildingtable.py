"""楼盘表: one table per building — floors as rows (top to bottom by 实际层, labelled by 名义层), units as cells
across (单元 then room order), with code, room label, use, areas, 分摊系数, status and readiness; totals per floor and
for the building, which must balance with the building's own figure (qa-and-planning.md).

:func:`building_table` is pure: it takes the rows ``store.queries.building_rows`` fetched. The page and the
spreadsheet a person reads are :mod:`cadastre.serve.tables`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cadastre.core.catalogue import PLANNING_PREFIX
from cadastre.core.codetables import table

__all__ = ["Cell", "FloorRow", "BuildingTable", "building_table", "readiness"]



def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


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


@dataclass
class FloorRow:
    sjc: int
    myc: str
    cells: list[Cell | None]  # aligned with BuildingTable.columns; None where the floor has no such unit
    total_area: float


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
    columns: list[tuple[str, int]]  # (单元号, room order)
    rows: list[FloorRow]
    unit_count: int
    total_area: float
    declared_area: float | None
    balanced: bool
    ready: bool
    not_ready_because: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def readiness(stage: str, package_status: str, zrzh: str, open_errors: pd.DataFrame,
              indicators: pd.DataFrame) -> list[str]:
    """Why a building is not ready for 首次登记 (domain.md "Readiness"); empty when it is: an accepted as-built
    survey, no unwaived error, and planning verification run with every failure of the project or of this building
    waived. A failed figure of another building of the project does not hold this one back."""
    reasons = []
    if stage != "asbuilt":
        reasons.append("尚无实测成果（仅有预测）")
    if package_status != "accepted":
        reasons.append("实测成果包未受理")
    planning = open_errors["rule"].str.startswith(PLANNING_PREFIX)
    survey = open_errors[~planning]
    if len(survey):
        reasons.append(f"成果包尚有 {len(survey)} 处未豁免的错误")
    if stage == "asbuilt":
        checked = indicators[~indicators["status"].isin(["not_checked"])] if len(indicators) else indicators
        if checked.empty:
            why = indicators["reason"].dropna().iloc[0] if len(indicators) and indicators["reason"].notna().any() \
                else "实测成果未做规划核实"
            reasons.append(f"规划核实未进行：{why}")
        other_building = np.array([isinstance(f, str) and len(f) == 4 and f.isdigit() and f != zrzh
                                   for f in open_errors["feature"]], dtype=bool)
        mine = open_errors[planning.to_numpy(bool) & ~other_building]
        if len(mine):
            reasons.append(f"规划核实有 {len(mine)} 项未通过且未豁免（{'、'.join(sorted(set(mine['rule'])))}）")
    return reasons


def building_table(rows: dict[str, pd.DataFrame]) -> BuildingTable:
    """The 楼盘表 of one building from its rows (``store.queries.building_rows``)."""
    b = rows["building"].iloc[0]
    units = rows["units"].copy()
    stage = b["stage"]
    prefix = "sc" if stage == "asbuilt" else "yc"
    units["dyh_key"] = units["dyh"].fillna("").astype(str)
    units["hh_key"] = units["hh"].fillna(0).astype(int)
    columns = sorted({(d, h) for d, h in zip(units["dyh_key"], units["hh_key"], strict=True)},
                     key=lambda c: (c[0].zfill(6), c[1]))
    position = {c: i for i, c in enumerate(columns)}
    reasons = readiness(stage, b["package_status"], b["zrzh"], rows["open_errors"], rows["indicators"])
    uses = table("FWYT")
    labels = dict(zip(rows["floors"]["sjc"], rows["floors"]["myc"], strict=True)) if len(rows["floors"]) else {}
    floor_rows = []
    for sjc in sorted(units["sjc"].unique(), reverse=True):
        on_floor = units[units["sjc"] == sjc]
        cells: list[Cell | None] = [None] * len(columns)
        for u in on_floor.itertuples():
            cells[position[(u.dyh_key, u.hh_key)]] = Cell(
                u.bdcdyh, u.shbw, u.dyh, None if pd.isna(u.hh) else int(u.hh), u.fwyt, uses.name(u.fwyt) if u.fwyt
                else None, _num(getattr(u, f"{prefix}jzmj")), _num(getattr(u, f"{prefix}tnjzmj")),
                _num(getattr(u, f"{prefix}ftjzmj")), _num(getattr(u, f"{prefix}ftxs")),
                "retired" if u.retired_at is not None and not pd.isna(u.retired_at) else "current", not reasons)
        total = float(np.nansum(on_floor[f"{prefix}jzmj"].astype(float)))
        label = labels.get(sjc) or (on_floor["myc"].dropna().iloc[0] if on_floor["myc"].notna().any() else str(sjc))
        floor_rows.append(FloorRow(int(sjc), str(label), cells, round(total, 2)))
    total = round(float(np.nansum(units[f"{prefix}jzmj"].astype(float))), 2)
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
