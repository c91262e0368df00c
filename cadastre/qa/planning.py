"""规划核实 (planning verification, "图证一致"): the as-built survey measured against the planning permit.

:func:`verify` is pure: it takes the package read, the permit, the parcel on record (and optionally the permit's red
line) and the county's rules, and returns one :class:`Indicator` per figure of qa-and-planning.md — what the permit
allows, what was measured, the tolerance, the status, and the evidence (the features and figures each number came
from, so a clerk can defend it). :func:`indicator_findings` turns failures into PLN findings. A pre-sale package runs
the same computation as a forecast.

Geometry is measured in the storage CRS (projected, metres): the footprint is the *union* of the buildings' footprints
(overlapping polygons are not counted twice), green areas are clipped to the parcel before their union is taken.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.core.codetables import labelled
from cadastre.qa.rules.base import area_limit
from cadastre.read.structure import PARKING_TYPES, building_keys

__all__ = ["Indicator", "PlanningRules", "INDICATORS", "RULE_OF", "verify", "indicator_findings", "counted_areas"]

#: indicator id → (rule id, Chinese name)
INDICATORS: dict[str, tuple[str, str]] = {
    "land_area": ("PLN-001", "用地面积"),
    "land_extent": ("PLN-002", "用地范围"),
    "total_floor_area": ("PLN-003", "总建筑面积"),
    "far": ("PLN-004", "容积率"),
    "coverage": ("PLN-005", "建筑密度"),
    "green_ratio": ("PLN-006", "绿地率"),
    "parking": ("PLN-007", "停车位"),
    "height": ("PLN-008", "建筑高度"),
    "building_floor_area": ("PLN-009", "单体建筑面积"),
    "floors": ("PLN-010", "层数"),
    "use": ("PLN-011", "用途"),
    "facilities": ("PLN-012", "配套公建"),
    "setback": ("PLN-013", "退线"),
}
RULE_OF = {indicator: rule for indicator, (rule, _) in INDICATORS.items()}


@dataclass(frozen=True)
class PlanningRules:
    """The county's planning rules (``[planning]`` of its rules file)."""

    floor_area_scale: tuple[tuple[float, float], ...]  # (upper bound of permitted area m², tolerance fraction)
    excluded_uses: frozenset[str] = frozenset()  # FWYT codes never counted toward 容积率
    low_floor_height: float | None = None  # floors lower than this (m) count at low_floor_factor
    low_floor_factor: float = 1.0
    extent_tolerance: float = 0.01  # symmetric difference / parcel area
    setback_tolerance: float = 0.05  # m outside the control line that is still "inside"
    facility_uses: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facility name → FWYT codes

    @classmethod
    def from_tolerances(cls, tolerances: dict[str, Any]) -> PlanningRules:
        p = tolerances.get("planning", {})
        counting = p.get("counting", {})
        return cls(
            floor_area_scale=tuple((float(a), float(b)) for a, b in p["floor_area_scale"]),
            excluded_uses=frozenset(str(u) for u in counting.get("excluded_uses", [])),
            low_floor_height=counting.get("low_floor_height"),
            low_floor_factor=float(counting.get("low_floor_factor", 1.0)),
            extent_tolerance=float(p.get("extent_tolerance", 0.01)),
            setback_tolerance=float(p.get("setback_tolerance", 0.05)),
            facility_uses={str(k): tuple(str(u) for u in v) for k, v in p.get("facility_uses", {}).items()},
        )

    def floor_area_tolerance(self, permitted: float) -> float:
        """The sliding scale: the tolerance fraction of the band ``permitted`` falls in."""
        for upper, fraction in self.floor_area_scale:
            if permitted <= upper:
                return fraction
        return self.floor_area_scale[-1][1]


@dataclass
class Indicator:
    """One figure of the verification (the report's ``indicators`` entries)."""

    indicator: str
    permitted: Any
    measured: Any
    tolerance: Any
    status: str  # pass | fail | not_checked | forecast_pass | forecast_fail
    evidence: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None  # the building (幢号) or facility the figure is about; None for the project
    reason: str | None = None  # why not checked, in Chinese
    message: str | None = None  # one sentence, in Chinese

    @property
    def rule(self) -> str:
        return RULE_OF[self.indicator]

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "forecast_fail")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rule"] = self.rule
        out["name"] = INDICATORS[self.indicator][1]
        return out


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), digits)


class _Verification:
    """The computation of one package against one permit."""

    def __init__(self, package, permit, parcel, red_line, tolerances: dict[str, Any]) -> None:
        self.package = package
        self.permit = permit
        self.tolerances = tolerances
        self.planning = PlanningRules.from_tolerances(tolerances)
        self.forecast = package.stage == "presale"
        self.prefix = "YC" if self.forecast else "SC"
        self.parcel = parcel  # shapely geometry or None
        self.parcel_code = None
        self.red_line = red_line  # shapely geometry or None (from the recorded permit)
        self.out: list[Indicator] = []
        buildings = package.layers.get("ZRZ")
        self.buildings = None if buildings is None else buildings.reset_index(drop=True)
        units = package.layers.get("H")
        self.units = None if units is None else units.reset_index(drop=True)

    # --------------------------------------------------------------------------------------------- helpers
    def add(self, indicator: str, permitted, measured, tolerance, passed: bool | None, evidence: dict, *,
            subject: str | None = None, reason: str | None = None, message: str | None = None) -> None:
        if passed is None:
            status = "not_checked"
        elif self.forecast:
            status = "forecast_pass" if passed else "forecast_fail"
        else:
            status = "pass" if passed else "fail"
        self.out.append(Indicator(indicator, permitted, measured, tolerance, status, evidence, subject, reason,
                                  message))

    def skip(self, indicator: str, reason: str, *, permitted=None, subject: str | None = None) -> None:
        self.add(indicator, permitted, None, None, None, {}, subject=subject, reason=reason)

    def _bsm(self, frame, i) -> str:
        value = frame["BSM"].iat[i] if "BSM" in frame else None
        return str(value) if isinstance(value, str) and value else f"第{int(frame['source_row'].iat[i]) + 1}行"

    def land_area(self) -> float | None:
        return None if self.parcel is None else float(self.parcel.area)

    @cached_property
    def building_areas(self) -> pd.DataFrame:
        """Floor area per building (幢号): Σ of its units' areas, or the building's own where its units lack them."""
        b = self.buildings
        keys = self.package.structure.building_keys
        own = pd.to_numeric(b[f"{self.prefix}JZMJ"], errors="coerce") if f"{self.prefix}JZMJ" in b else None
        frame = pd.DataFrame({"key": keys, "zrzh": b["ZRZH"].astype(str).to_numpy(object),
                              "bsm": [self._bsm(b, i) for i in range(len(b))],
                              "own": np.nan if own is None else own.to_numpy(float)})
        if self.units is not None and f"{self.prefix}JZMJ" in self.units:
            areas = pd.to_numeric(self.units[f"{self.prefix}JZMJ"], errors="coerce")
            sums = pd.DataFrame({"key": self.package.structure.unit_building_keys, "a": areas}).groupby("key")["a"].agg(
                ["sum", "count"])
            frame["from_units"] = frame["key"].map(sums["sum"]).to_numpy(float)
            frame["counted_units"] = frame["key"].map(sums["count"]).fillna(0).astype(int).to_numpy()
        else:
            frame["from_units"], frame["counted_units"] = np.nan, 0
        use_units = frame["counted_units"] > 0
        frame["area"] = np.where(use_units, frame["from_units"], frame["own"])
        frame["source"] = np.where(use_units, "户面积之和", np.where(frame["own"].notna(), "自然幢面积", "无面积"))
        return frame

    # ------------------------------------------------------------------------------------------ indicators
    def run(self) -> list[Indicator]:
        p = self.permit
        if p is None:
            for indicator in INDICATORS:
                self.skip(indicator, "没有规划许可（登记库中无记录，成果包也未附 permit.json）")
            return self.out
        if self.parcel is None:
            for indicator in ("land_area", "land_extent", "far", "coverage", "green_ratio"):
                self.skip(indicator, "找不到项目所在的已登记宗地", permitted=self._permitted(indicator))
        else:
            self._land_area()
            self._land_extent()
        if self.buildings is None:
            for indicator in ("total_floor_area", "height", "building_floor_area", "floors", "use", "setback"):
                self.skip(indicator, "成果包中没有自然幢（ZRZ）图层")
        else:
            self._total_floor_area()
            if self.parcel is not None:
                self._far()
                self._coverage()
            self._height()
            _per_building(self)
            _setback(self)
        if self.parcel is not None:
            self._green_ratio()
        self._parking()
        _facilities(self)
        return self.out

    def _permitted(self, indicator: str):
        p = self.permit
        return {"land_area": p.land_area, "far": p.far_max, "coverage": p.coverage_max,
                "green_ratio": p.green_min, "land_extent": None}.get(indicator)

    def _land_area(self) -> None:
        measured = self.land_area()
        if self.permit.land_area is None:
            return self.skip("land_area", "规划许可未载明用地面积 land_area")
        tolerance = float(area_limit(self.tolerances, np.array([measured]))[0])
        difference = measured - self.permit.land_area
        self.add("land_area", self.permit.land_area, _r(measured), _r(tolerance), abs(difference) <= tolerance,
                 {"parcel": self.parcel_code, "parcel_area": _r(measured), "difference": _r(difference)},
                 message=f"用地面积 {measured:.2f} ㎡，规划许可 {self.permit.land_area:.2f} ㎡，"
                         f"差 {difference:+.2f} ㎡（限差 {tolerance:.2f} ㎡）")

    @cached_property
    def red_lines(self) -> tuple[Any, Any, list[str], str]:
        """(red line, control polygon, BSMs, source): from the recorded permit, else the package's GHHX layer. A
        GHHX feature whose 线类型 names a 建筑控制线 is a control line; others are the red line."""
        layer = self.package.layers.get("GHHX")
        red = control = None
        names: list[str] = []
        if layer is not None and len(layer):
            usable = layer["geometry_valid"].to_numpy(bool)
            geoms = np.asarray(layer.geometry.values, dtype=object)
            # lines are closed into polygons (a red line is often drawn as a ring)
            polygons = np.array([shapely.polygons(shapely.get_coordinates(g)) if g is not None and
                                 g.geom_type in ("LineString", "LinearRing", "MultiLineString") and len(shapely.get_coordinates(g))
                                 >= 4 else g for g in geoms], dtype=object)
            kind = layer["XLX"].astype("string").fillna("") if "XLX" in layer else pd.Series([""] * len(layer))
            is_control = kind.str.contains("控制").to_numpy(bool)
            if (usable & ~is_control).any():
                red = shapely.union_all(polygons[usable & ~is_control])
            if (usable & is_control).any():
                control = shapely.union_all(polygons[usable & is_control])
            names = [self._bsm(layer, i) for i in np.flatnonzero(usable)]
        source = "成果包 GHHX 图层"
        if self.red_line is not None:
            red, source = self.red_line, "登记的规划许可红线"
        return red, control, names, source

    def _land_extent(self) -> None:
        red, _, names, source = self.red_lines
        if red is None or red.is_empty:
            return self.skip("land_extent", "既无登记的规划红线，成果包也没有规划红线（GHHX）图层")
        difference = float(shapely.area(shapely.symmetric_difference(self.parcel, red)))
        ratio = difference / self.parcel.area
        tolerance = self.planning.extent_tolerance
        self.add("land_extent", _r(red.area), _r(self.parcel.area), tolerance, ratio <= tolerance,
                 {"red_line": names if source.startswith("成果包") else source, "source": source,
                  "red_line_area": _r(red.area), "parcel_area": _r(self.parcel.area),
                  "symmetric_difference": _r(difference), "ratio": _r(ratio, 4)},
                 message=f"宗地与规划红线不重合部分 {difference:.2f} ㎡，占用地面积 {ratio:.2%}（允许 {tolerance:.0%}）")

    def _total_floor_area(self) -> None:
        areas = self.building_areas
        measured = float(np.nansum(areas["area"]))
        evidence = {"buildings": [{"zrzh": z, "bsm": b, "area": _r(a), "source": s} for z, b, a, s in
                                  zip(areas["zrzh"], areas["bsm"], areas["area"], areas["source"], strict=True)]}
        permitted = self.permit.total_floor_area
        if permitted is None:
            return self.skip("total_floor_area", "规划许可未载明总建筑面积 total_floor_area")
        fraction = self.planning.floor_area_tolerance(permitted)
        tolerance = permitted * fraction
        evidence["tolerance_fraction"] = fraction
        self.add("total_floor_area", permitted, _r(measured), _r(tolerance), abs(measured - permitted) <= tolerance,
                 evidence, message=f"总建筑面积 {measured:.2f} ㎡，规划许可 {permitted:.2f} ㎡，"
                                   f"差 {measured - permitted:+.2f} ㎡（允许 ±{fraction:.0%}，{tolerance:.2f} ㎡）")

    def _far(self) -> None:
        if self.permit.far_max is None:
            return self.skip("far", "规划许可未载明容积率上限 far_max")
        if self.units is None or f"{self.prefix}JZMJ" not in self.units:
            return self.skip("far", "成果包中没有户（H）的建筑面积，无法计算计容面积", permitted=self.permit.far_max)
        s = self.package.structure
        counted = counted_areas(self.units, self.package.layers.get("C"), self.planning, self.prefix,
                                unit_keys=s.unit_building_keys, floor_keys=s.floor_building_keys)
        total = float(counted["counted"].sum())
        land = self.land_area()
        far = total / land
        by_building = counted.groupby("zrzh")["counted"].sum()
        reasons = counted[counted["rule"] != "计入"].groupby("rule")["area"].agg(["count", "sum"])
        evidence = {
            "land_area": _r(land), "counted_floor_area": _r(total),
            "buildings": [{"zrzh": z, "counted": _r(a)} for z, a in by_building.items()],
            "not_counted_or_halved": [{"rule": r, "units": int(row["count"]), "area": _r(row["sum"])}
                                      for r, row in reasons.iterrows()],
        }
        self.add("far", self.permit.far_max, _r(far, 4), 0.0, round(far, 2) <= self.permit.far_max, evidence,
                 message=f"容积率 {far:.2f}（计容面积 {total:.2f} ㎡ / 用地面积 {land:.2f} ㎡），"
                         f"规划许可上限 {self.permit.far_max}")

    def _coverage(self) -> None:
        if self.permit.coverage_max is None:
            return self.skip("coverage", "规划许可未载明建筑密度上限 coverage_max")
        b = self.buildings
        underground = self.package.structure.underground_only
        # 建筑密度 is above-ground footprints: a garage with no floors above ground covers no land
        usable = b["geometry_valid"].to_numpy(bool) & ~underground
        geoms = np.asarray(b.geometry.values, dtype=object)[usable]
        areas = shapely.area(geoms)
        union = float(shapely.union_all(geoms).area) if len(geoms) else 0.0
        land = self.land_area()
        ratio = union / land
        evidence = {"footprints": [{"zrzh": str(z), "bsm": self._bsm(b, i), "area": _r(a)} for i, z, a in
                                   zip(np.flatnonzero(usable), b["ZRZH"].to_numpy(object)[usable], areas,
                                       strict=True)],
                    "not_counted_underground_only": [{"zrzh": str(b["ZRZH"].iat[i]), "bsm": self._bsm(b, i)}
                                                     for i in np.flatnonzero(underground)],
                    "overlap": _r(float(areas.sum()) - union), "footprint_union": _r(union), "land_area": _r(land)}
        self.add("coverage", self.permit.coverage_max, _r(ratio, 4), 0.0,
                 round(ratio, 3) <= self.permit.coverage_max, evidence,
                 message=f"建筑密度 {ratio:.1%}（基底面积 {union:.2f} ㎡ / 用地面积 {land:.2f} ㎡），"
                         f"规划许可上限 {self.permit.coverage_max:.1%}")

    def _green_ratio(self) -> None:
        if self.permit.green_min is None:
            return self.skip("green_ratio", "规划许可未载明绿地率下限 green_min")
        layer = self.package.layers.get("LD")
        if layer is None:
            return self.skip("green_ratio", "成果包中没有绿地（LD）图层", permitted=self.permit.green_min)
        usable = layer["geometry_valid"].to_numpy(bool)
        geoms = np.asarray(layer.geometry.values, dtype=object)[usable]
        clipped = shapely.intersection(geoms, self.parcel)
        areas = shapely.area(clipped)
        union = float(shapely.union_all(clipped).area) if len(clipped) else 0.0
        land = self.land_area()
        ratio = union / land
        evidence = {"green_areas": [{"bsm": self._bsm(layer, i), "area": _r(shapely.area(g)), "inside_parcel": _r(a)}
                                    for i, g, a in zip(np.flatnonzero(usable), geoms, areas, strict=True)],
                    "overlap": _r(float(areas.sum()) - union), "green_union": _r(union), "land_area": _r(land)}
        self.add("green_ratio", self.permit.green_min, _r(ratio, 4), 0.0, round(ratio, 3) >= self.permit.green_min,
                 evidence, message=f"绿地率 {ratio:.1%}（宗地内绿地 {union:.2f} ㎡ / 用地面积 {land:.2f} ㎡），"
                                   f"规划许可下限 {self.permit.green_min:.1%}")

    def _parking(self) -> None:
        """Spaces drawn as TCW features (one each, or their 车位数 CWS) and spaces held as units (房屋类型 车库),
        a TCW feature lying in a parking unit's outline counted once, as that unit."""
        if self.permit.parking_min is None:
            return self.skip("parking", "规划许可未载明停车位下限 parking_min")
        layer = self.package.layers.get("TCW")
        units = self.units
        parking = (np.flatnonzero(units["FWLX"].astype("str").isin(PARKING_TYPES).to_numpy(bool))
                   if units is not None and "FWLX" in units else np.empty(0, int))
        if layer is None and not len(parking):
            return self.skip("parking", "成果包中没有停车位（TCW）图层，也没有房屋类型为车库的户",
                             permitted=self.permit.parking_min)
        evidence: dict[str, Any] = {}
        counted_features = 0
        twice = np.zeros(0 if layer is None else len(layer), bool)
        if len(parking):
            evidence["units"] = [{"feature": str(units["feature"].iat[i]), "zrzh": str(units["ZRZH"].iat[i]),
                                  "shbw": str(units["SHBW"].iat[i])} for i in parking]
        if layer is not None:
            counts = (pd.to_numeric(layer["CWS"], errors="coerce") if "CWS" in layer
                      else pd.Series(np.nan, index=layer.index)).fillna(1).astype(int).to_numpy()
            outlines = np.asarray(units.geometry.values, dtype=object)[parking] if len(parking) else np.empty(0)
            drawn = ~shapely.is_missing(outlines) if len(outlines) else np.zeros(0, bool)
            spaces = np.asarray(layer.geometry.values, dtype=object)
            present = np.flatnonzero(~shapely.is_missing(spaces) & layer["geometry_valid"].to_numpy(bool))
            if drawn.any() and len(present):
                tree = shapely.STRtree(outlines[drawn])
                where, _ = tree.query(shapely.point_on_surface(spaces[present]), predicate="within")
                twice[present[np.unique(where)]] = True
            counted_features = int(counts[~twice].sum())
            evidence["features"] = [{"bsm": self._bsm(layer, i), "spaces": int(counts[i])}
                                    for i in np.flatnonzero(~twice)]
            if twice.any():
                evidence["same_as_a_unit"] = [self._bsm(layer, i) for i in np.flatnonzero(twice)]
            if len(parking) and not drawn.any() and counted_features:
                # parking units without outlines cannot be matched to the features: the larger source counts
                evidence["note"] = "车库户没有图形，无法与停车位要素对应：取两者中较大的数，避免重复计数"
        if "note" in evidence:
            measured = max(counted_features, len(parking))
        else:
            measured = counted_features + len(parking)
        evidence["spaces"] = measured
        self.add("parking", self.permit.parking_min, measured, 0, measured >= self.permit.parking_min, evidence,
                 message=f"停车位 {measured} 个（停车位要素 {counted_features} 个、车库户 {len(parking)} 户"
                         + (f"，其中 {int(twice.sum())} 个要素与车库户为同一车位只计一次" if twice.any() else "")
                         + f"），规划许可不少于 {self.permit.parking_min} 个")

    def _height(self) -> None:
        if self.permit.height_max is None:
            return self.skip("height", "规划许可未载明建筑限高 height_max")
        b = self.buildings
        heights = pd.to_numeric(b["JZWGD"], errors="coerce") if "JZWGD" in b else pd.Series(np.nan, index=b.index)
        if heights.isna().all():
            return self.skip("height", "自然幢均未填写建筑物高度 JZWGD", permitted=self.permit.height_max)
        top = int(heights.fillna(-np.inf).to_numpy().argmax())
        measured = float(heights.iat[top])
        evidence = {"buildings": [{"zrzh": str(z), "height": _r(h)} for z, h in
                                  zip(b["ZRZH"], heights, strict=True)], "highest": str(b["ZRZH"].iat[top])}
        self.add("height", self.permit.height_max, _r(measured), 0.0, measured <= self.permit.height_max, evidence,
                 message=f"最高建筑 {b['ZRZH'].iat[top]} 幢 {measured:.2f} m，规划许可限高 {self.permit.height_max} m")


# per building and per facility: functions over the verification's state, to keep the class readable


def _per_building(check: _Verification) -> None:
    areas = check.building_areas.drop_duplicates("zrzh").set_index("zrzh")
    b = check.buildings.assign(zrzh=check.buildings["ZRZH"].astype(str)).drop_duplicates("zrzh").set_index("zrzh")
    permitted = {pb.zrzh: pb for pb in check.permit.buildings}
    for zrzh in sorted(set(permitted) | set(b.index)):
        pb = permitted.get(zrzh)
        if pb is None:
            for indicator in ("building_floor_area", "floors", "use"):
                check.add(indicator, None, None, None, False, {"zrzh": zrzh}, subject=zrzh,
                         message=f"{zrzh} 幢不在规划许可的建筑物清单中")
            continue
        if zrzh not in b.index:
            for indicator in ("building_floor_area", "floors", "use"):
                check.add(indicator, None, None, None, False, {"zrzh": zrzh}, subject=zrzh,
                         message=f"规划许可中的 {zrzh} 幢在成果包中不存在")
            continue
        row, area = b.loc[zrzh], areas.loc[zrzh]
        if pb.floor_area is None:
            check.skip("building_floor_area", "规划许可未载明该幢建筑面积 floor_area", subject=zrzh)
        else:
            fraction = check.planning.floor_area_tolerance(pb.floor_area)
            measured = float(area["area"]) if not pd.isna(area["area"]) else None
            tolerance = pb.floor_area * fraction
            check.add("building_floor_area", pb.floor_area, _r(measured), _r(tolerance),
                     None if measured is None else abs(measured - pb.floor_area) <= tolerance,
                     {"zrzh": zrzh, "bsm": area["bsm"], "source": area["source"],
                      "units": int(area["counted_units"]), "tolerance_fraction": fraction}, subject=zrzh,
                     reason=None if measured is not None else "该幢既无户面积也无自然幢面积",
                     message=None if measured is None else
                     f"{zrzh} 幢建筑面积 {measured:.2f} ㎡，规划许可 {pb.floor_area:.2f} ㎡（允许 ±{fraction:.0%}）")
        above = None if pd.isna(row.get("DSCS")) else int(row["DSCS"])
        below = None if pd.isna(row.get("DXCS")) else int(row["DXCS"])
        if pb.floors_above is None and pb.floors_below is None:
            check.skip("floors", "规划许可未载明该幢层数", subject=zrzh)
        else:
            passed = ((pb.floors_above is None or above == pb.floors_above)
                      and (pb.floors_below is None or below == pb.floors_below))
            check.add("floors", {"above": pb.floors_above, "below": pb.floors_below},
                     {"above": above, "below": below}, 0, passed, {"zrzh": zrzh, "DSCS": above, "DXCS": below},
                     subject=zrzh, message=f"{zrzh} 幢地上 {above} 层、地下 {below} 层，规划许可地上 "
                                           f"{pb.floors_above} 层、地下 {pb.floors_below} 层")
        use = row.get("GHYT")
        use = None if use is None or pd.isna(use) else str(use)
        if pb.use is None:
            check.skip("use", "规划许可未载明该幢用途", subject=zrzh)
        else:
            check.add("use", pb.use, use, None, use == pb.use, {"zrzh": zrzh, "GHYT": use}, subject=zrzh,
                     message=f"{zrzh} 幢规划用途 {labelled('GHYT', use)}，规划许可 {labelled('GHYT', pb.use)}")


def _facilities(check: _Verification) -> None:
    for name, required in check.permit.facilities.items():
        uses = check.planning.facility_uses.get(name)
        if not uses:
            check.skip("facilities", f"规则文件未规定配套设施“{name}”对应的房屋用途", permitted=required,
                      subject=name)
            continue
        if check.units is None or f"{check.prefix}JZMJ" not in check.units:
            check.skip("facilities", "成果包中没有户（H）的建筑面积", permitted=required, subject=name)
            continue
        u = check.units
        mask = u["FWYT1"].astype("string").isin(uses).fillna(False).to_numpy(bool) if "FWYT1" in u else \
            np.zeros(len(u), bool)
        areas = pd.to_numeric(u[f"{check.prefix}JZMJ"], errors="coerce").fillna(0.0).to_numpy(float)
        measured = float(areas[mask].sum())
        evidence = {"uses": list(uses), "units": [
            {"zrzh": str(z), "shbw": str(s), "area": _r(a)} for z, s, a in
            zip(u["ZRZH"].to_numpy(object)[mask], u["SHBW"].to_numpy(object)[mask], areas[mask], strict=True)]}
        check.add("facilities", required, _r(measured), 0.0, measured + 1e-9 >= required, evidence, subject=name,
                 message=f"{name} {measured:.2f} ㎡，规划许可不少于 {required:.2f} ㎡")


def _setback(check: _Verification) -> None:
    red, control, _, source = check.red_lines
    line = control if control is not None and not control.is_empty else red
    if line is None or line.is_empty:
        return check.skip("setback", "没有建筑控制线或规划红线（GHHX），无法核实退线")
    kind = "建筑控制线" if line is control else "规划红线"
    b = check.buildings
    usable = np.flatnonzero(b["geometry_valid"].to_numpy(bool))
    geoms = np.asarray(b.geometry.values, dtype=object)[usable]
    outside = shapely.area(shapely.difference(geoms, line))
    # the farthest vertex of each footprint outside the line: all vertices at once
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    distance = shapely.distance(shapely.points(coords), line)
    farthest = np.zeros(len(geoms))
    np.maximum.at(farthest, owner, distance)
    tolerance = check.planning.setback_tolerance
    bad = farthest > tolerance
    evidence = {"line": kind, "source": source, "outside": [
        {"zrzh": str(b["ZRZH"].iat[i]), "bsm": check._bsm(b, i), "area_outside": _r(a), "distance": _r(d, 3)}
        for i, a, d in zip(usable[bad], outside[bad], farthest[bad], strict=True)]}
    worst = float(farthest.max()) if len(farthest) else 0.0
    check.add("setback", 0.0, _r(worst, 3), tolerance, not bad.any(), evidence,
             message=(f"{int(bad.sum())} 幢超出{kind}，最远 {worst:.2f} m" if bad.any()
                      else f"全部自然幢位于{kind}以内"))


def counted_areas(units: pd.DataFrame, floors: pd.DataFrame | None, planning: PlanningRules,
                  prefix: str = "SC", *, unit_keys: np.ndarray | None = None,
                  floor_keys: np.ndarray | None = None) -> pd.DataFrame:
    """Each unit's area counted toward 容积率, with the rule that decided it (qa-and-planning.md "Counted floor
    area"): below ground (SJC < 0) not counted; JSRKZ = 0 not counted; a use the county excludes not counted;
    on a floor lower than the county's low-floor height, counted at its factor; otherwise counted in full.
    ``unit_keys`` / ``floor_keys``: each row's building (``read.structure``; by default its own 宗地代码 + 幢号).

    >>> import pandas as pd
    >>> units = pd.DataFrame({"ZRZH": ["0001"] * 4, "SJC": [-1, 1, 1, 2], "SHBW": ["B1", "101", "102", "201"],
    ...                       "FWYT1": ["80", "84", "11", "11"], "JSRKZ": [0, 1, 1, 1], "SCJZMJ": [50.0] * 4})
    >>> rules = PlanningRules(((1e99, 0.01),), frozenset({"84"}))
    >>> counted_areas(units, None, rules)[["SHBW", "counted", "rule"]].to_dict("list")
    {'SHBW': ['B1', '101', '102', '201'], 'counted': [0.0, 0.0, 50.0, 50.0], 'rule': ['地下', '不计容用途', '计入', '计入']}
    """
    area = pd.to_numeric(units[f"{prefix}JZMJ"], errors="coerce").fillna(0.0).to_numpy(float)
    sjc = pd.to_numeric(units["SJC"], errors="coerce").to_numpy(float)
    jsrkz = (pd.to_numeric(units["JSRKZ"], errors="coerce").to_numpy(float) if "JSRKZ" in units
             else np.full(len(units), np.nan))
    use = units["FWYT1"].astype("string").fillna("").to_numpy(object) if "FWYT1" in units else np.full(
        len(units), "", dtype=object)
    factor = np.ones(len(units))
    rule = np.full(len(units), "计入", dtype=object)
    if planning.low_floor_height is not None and floors is not None and "CG" in floors and len(floors):
        height = pd.Series(pd.to_numeric(floors["CG"], errors="coerce").to_numpy(float),
                           index=pd.MultiIndex.from_arrays([building_keys(floors) if floor_keys is None
                                                            else floor_keys, floors["SJC"].to_numpy()]))
        height = height[~height.index.duplicated()]
        unit_height = height.reindex(pd.MultiIndex.from_arrays([building_keys(units) if unit_keys is None
                                                                 else unit_keys, units["SJC"].to_numpy()]))
        low = (unit_height < planning.low_floor_height).to_numpy(bool)
        factor[low], rule[low] = planning.low_floor_factor, f"层高不足 {planning.low_floor_height} m 按 "\
                                                            f"{planning.low_floor_factor:g} 计"
    excluded = np.isin(use, list(planning.excluded_uses))
    factor[excluded], rule[excluded] = 0.0, "不计容用途"
    factor[jsrkz == 0], rule[jsrkz == 0] = 0.0, "不计入容积率（JSRKZ=0）"
    below = sjc < 0
    factor[below], rule[below] = 0.0, "地下"
    return pd.DataFrame({"zrzh": units["ZRZH"].astype(str).to_numpy(object), "SHBW": units["SHBW"].to_numpy(object),
                         "SJC": units["SJC"].to_numpy(), "area": area, "factor": factor, "counted": area * factor,
                         "rule": rule})


def verify(package, permit, tolerances: dict[str, Any], *, parcel=None, parcel_code: str | None = None,
           red_line=None) -> list[Indicator]:
    """Every indicator of the permit measured on ``package`` (as-built; a pre-sale package as a forecast).

    ``parcel`` is the project's registered parcel (a shapely polygon in the storage CRS) and ``red_line`` the
    recorded permit's red line, when there is one (else the package's GHHX layer is used).
    """
    check = _Verification(package, permit, parcel, red_line, tolerances)
    check.parcel_code = parcel_code
    return check.run()


def indicator_findings(indicators: list[Indicator], crs: int | None = None, where=None) -> pd.DataFrame:
    """PLN findings for the failed indicators: errors for as-built failures, warnings for forecast ones. ``where``
    maps a subject (幢号) to a point for the map; project-level figures are placed at ``where[None]``."""
    failed = [i for i in indicators if i.failed]
    parts = []
    for severity, group in (("error", [i for i in failed if i.status == "fail"]),
                            ("warning", [i for i in failed if i.status == "forecast_fail"])):
        if not group:
            continue
        points = None
        if where is not None and crs is not None:
            geoms = np.array([where.get(i.subject, where.get(None)) for i in group], dtype=object)
            if all(g is not None for g in geoms):
                points = fnd.lonlat_points(geoms, crs)
        prefix = "（预测）" if severity == "warning" else ""
        for rule in sorted({i.rule for i in group}):
            rows = [i for i in group if i.rule == rule]
            lonlat = None if points is None else points[[k for k, i in enumerate(group) if i.rule == rule]]
            parts.append(fnd.frame(
                rule, severity, "planning", [i.subject for i in rows],
                [prefix + "规划核实未通过：" + (i.message or INDICATORS[i.indicator][1]) for i in rows],
                lonlat=lonlat, measured=[i.measured if isinstance(i.measured, (int, float)) else None for i in rows],
                limit=[i.permitted if isinstance(i.permitted, (int, float)) else None for i in rows],
                figures=[{"indicator": i.indicator, "status": i.status} for i in rows]))
    return fnd.concat(parts)
