"""建设工程规划许可 (planning permit) indicators, as in ``permit.json`` (survey-package.md).

Every key is optional: what is absent is not checked. Areas in m², ratios as fractions. Unknown keys are kept.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cadastre.core.codes import ParcelCode
from cadastre.core.errors import InputError, shown

__all__ = ["Permit", "PermitBuilding", "parse_permit", "load_permit", "permit_differences", "red_line_geometry"]

_NUMBERS = ("land_area", "far_max", "coverage_max", "green_min", "total_floor_area", "height_max")


@dataclass(frozen=True)
class PermitBuilding:
    zrzh: str
    floor_area: float | None = None
    floors_above: int | None = None
    floors_below: int | None = None
    use: str | None = None


@dataclass(frozen=True)
class Permit:
    number: str | None = None
    zddm: str | None = None  # the project's parcel (宗地代码)
    red_line: dict[str, Any] | None = None  # 规划红线 as a GeoJSON geometry, in the registry's storage CRS
    land_area: float | None = None
    far_max: float | None = None
    coverage_max: float | None = None
    green_min: float | None = None
    parking_min: int | None = None
    total_floor_area: float | None = None
    height_max: float | None = None
    buildings: tuple[PermitBuilding, ...] = ()
    facilities: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["buildings"] = [asdict(b) for b in self.buildings]
        extra = out.pop("extra")
        return {**{k: v for k, v in out.items() if v not in (None, (), [], {})}, **extra}


def _number(value: Any, where: str, *, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where} 应为数字，实际为 {shown(json.dumps(value, ensure_ascii=False))}",
                         f"{where} must be a number, got {value!r}")
    if integer:
        if float(value) != int(value):
            raise InputError(f"{where} 应为整数，实际为 {shown(value)}", f"{where} must be a whole number, got {shown(value)}")
        return int(value)
    return float(value)


def parse_permit(data: Any, source: str = "permit.json") -> Permit:
    """Validate a permit object; :class:`InputError` names the file and the key that is wrong."""
    if not isinstance(data, dict):
        raise InputError(f"{source} 应为 JSON 对象", f"{source} must be a JSON object")
    values: dict[str, Any] = {}
    for key in _NUMBERS:
        if data.get(key) is not None:
            values[key] = _number(data[key], f"{source} 的 {key}")
    if data.get("parking_min") is not None:
        values["parking_min"] = _number(data["parking_min"], f"{source} 的 parking_min", integer=True)
    if data.get("number") is not None:
        values["number"] = str(data["number"]).strip()
    if data.get("zddm") is not None:
        values["zddm"] = str(data["zddm"]).strip().upper()
        try:
            ParcelCode.parse(values["zddm"])
        except ValueError as e:
            raise InputError(f"{source} 的 zddm 不是有效的宗地代码：{e}", f"{source}: bad zddm: {e}") from None
    if data.get("red_line") is not None:
        values["red_line"] = _red_line(data["red_line"], source)
    buildings = []
    for i, entry in enumerate(data.get("buildings") or []):
        where = f"{source} 的 buildings[{i}]"
        if not isinstance(entry, dict) or not entry.get("zrzh"):
            raise InputError(f"{where} 应为含 zrzh 的对象", f"{where} must be an object with zrzh")
        zrzh = str(entry["zrzh"]).strip()
        buildings.append(PermitBuilding(
            zrzh.zfill(4) if zrzh.isdigit() else zrzh,
            None if entry.get("floor_area") is None else _number(entry["floor_area"], f"{where}.floor_area"),
            None if entry.get("floors_above") is None else _number(entry["floors_above"], f"{where}.floors_above",
                                                                   integer=True),
            None if entry.get("floors_below") is None else _number(entry["floors_below"], f"{where}.floors_below",
                                                                   integer=True),
            None if entry.get("use") is None else str(entry["use"]).strip(),
        ))
    facilities = data.get("facilities") or {}
    if not isinstance(facilities, dict):
        raise InputError(f"{source} 的 facilities 应为对象", f"{source}: facilities must be an object")
    known = {*_NUMBERS, "parking_min", "number", "zddm", "red_line", "buildings", "facilities"}
    return Permit(**values, buildings=tuple(buildings),
                  facilities={str(k): _number(v, f"{source} 的 facilities.{k}") for k, v in facilities.items()},
                  extra={k: v for k, v in data.items() if k not in known})


def _red_line(value: Any, source: str) -> dict[str, Any]:
    """A GeoJSON Polygon / MultiPolygon (or a closed LineString ring) that shapely reads as a valid area."""
    import shapely
    from shapely.geometry import mapping, shape

    try:
        geometry = shape(value)
    except Exception as e:  # shapely raises several kinds for malformed GeoJSON
        raise InputError(f"{source} 的 red_line 不是有效的 GeoJSON 几何：{e}",
                         f"{source}: red_line is not GeoJSON: {e}") from None
    if geometry.geom_type in ("LineString", "MultiLineString") and geometry.is_closed:
        geometry = shapely.polygons(shapely.get_coordinates(geometry))
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty or not geometry.is_valid:
        raise InputError(f"{source} 的 red_line 应为有效的面（Polygon/MultiPolygon）或闭合线，实际为 "
                         f"{geometry.geom_type}{'（无效）' if not geometry.is_valid else ''}",
                         f"{source}: red_line must be a valid polygon")
    return json.loads(json.dumps(mapping(geometry)))  # lists, as stored and compared


def red_line_geometry(permit: Permit):
    """The permit's red line as a shapely geometry, or None."""
    from shapely.geometry import shape

    return None if permit.red_line is None else shape(permit.red_line)


def load_permit(path: str | Path) -> Permit:
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"找不到规划许可文件 {path}", f"permit file {path} not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path.name} 不是有效的 UTF-8 JSON：{e}", f"{path.name} is not valid UTF-8 JSON: {e}") from None
    return parse_permit(data, path.name)


def permit_differences(recorded: Permit, copy: Permit) -> list[tuple[str, Any, Any]]:
    """(key, recorded value, package value) for every indicator where the package's copy differs."""
    a, b = recorded.to_dict(), copy.to_dict()
    return [(key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]
