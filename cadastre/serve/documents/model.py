"""What a registration document shows, computed from the registry's rows and geometry: pure functions, no
drawing. Boundary points in order with side lengths (界址点成果表), the standard scale a drawing fits at, the
parcel's 四至, and the short labels surveyors print on buildings (``0001 混6``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
import shapely.ops
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

__all__ = ["sheet_numbers", "floors_of", "floor_label", "STANDARD_SCALES", "choose_scale", "boundary_points", "four_sides",
           "structure_label", "building_label",
           "crs_label", "nice_length", "ParcelSheet", "UnitSheet"]

#: scales a 宗地图 / 房产分户图 is drawn at (TD/T 1001: 1:500 usual; larger parcels smaller)
STANDARD_SCALES = (100, 200, 500, 1000, 2000, 5000, 10000, 25000, 50000)

#: 房屋结构 (FWJG) as surveyors abbreviate it on drawings: 混6 is a 6-floor 混合结构 building
_STRUCTURE_SHORT = {"1": "钢", "2": "钢砼", "3": "砼", "4": "混", "5": "砖", "6": "其"}

#: how near (m) a stored boundary point must lie to a vertex of the outline to give it its number and mark
POINT_MATCH_M = 0.05


def choose_scale(width_m: float, height_m: float, frame_w_mm: float, frame_h_mm: float, *,
                 margin: float = 0.15, smallest: int = 200) -> int:
    """The largest standard scale (smallest denominator, at least ``smallest``) at which a ``width_m`` ×
    ``height_m`` drawing with ``margin`` around it fits a ``frame_w_mm`` × ``frame_h_mm`` frame.

    >>> choose_scale(60, 50, 170, 170), choose_scale(150, 60, 170, 170), choose_scale(5, 4, 170, 170)
    (500, 2000, 200)
    """
    need = max(width_m * (1 + 2 * margin) * 1000 / frame_w_mm, height_m * (1 + 2 * margin) * 1000 / frame_h_mm)
    for scale in STANDARD_SCALES:
        if scale >= smallest and scale >= need:
            return scale
    return int(math.ceil(need / 10000) * 10000)


def nice_length(target_m: float) -> float:
    """A round length (1, 2 or 5 × 10^n m) not longer than ``target_m``: a scale bar's.

    >>> nice_length(43), nice_length(9.9), nice_length(2.4)
    (20.0, 5.0, 2.0)
    """
    power = 10 ** math.floor(math.log10(target_m))
    return float(max(m for m in (1, 2, 5, 10) if m * power <= target_m) * power)


def _rings(geometry: BaseGeometry) -> list[np.ndarray]:
    """The outline's rings, each clockwise from its north-west vertex (as 界址点 are numbered), without the
    closing repetition; exteriors before holes."""
    rings = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        polygon = orient(polygon, sign=-1.0)  # clockwise exterior
        for ring in [polygon.exterior, *polygon.interiors]:
            xy = np.asarray(ring.coords)[:-1]
            start = int(np.argmax(xy[:, 1] - xy[:, 0]))  # north-west: high northing, low easting
            rings.append(np.roll(xy, -start, axis=0))
    return rings


def _number_key(jzdh: object) -> int | None:
    """The running number in a boundary point's name (``J12`` → 12), None without one."""
    found = re.search(r"(\d+)\s*$", str(jzdh)) if jzdh is not None else None
    return int(found.group(1)) if found else None


def boundary_points(outline: BaseGeometry, stored: pd.DataFrame | None = None) -> pd.DataFrame:
    """The parcel's boundary points in order (界址点成果表): ``ring``, ``jzdh`` (the stored number of the point at
    that vertex, else ``J<n>``), ``x`` northing, ``y`` easting (the survey convention: X north, Y east),
    ``length`` to the next point of the ring (m, from the coordinates), ``jblx`` (界标类型 code, when stored).

    ``stored``: boundary points (``jzdh``, ``jblx``, geometry) near the outline; a vertex takes the nearest within
    :data:`POINT_MATCH_M`. A ring whose vertices all carry stored numbers is listed from its lowest number in the
    direction the surveyor numbered; otherwise clockwise from the north-west vertex, numbered ``J1``….

    >>> square = shapely.box(0, 0, 30, 20)
    >>> boundary_points(square)[["jzdh", "x", "y", "length"]].values.tolist()
    [['J1', 20.0, 0.0, 30.0], ['J2', 20.0, 30.0, 20.0], ['J3', 0.0, 30.0, 30.0], ['J4', 0.0, 0.0, 20.0]]
    >>> numbered = pd.DataFrame({"jzdh": ["J1", "J2", "J3", "J4"], "jblx": "2",
    ...     "geometry": shapely.points([(0, 0), (30, 0), (30, 20), (0, 20)])})  # counter-clockwise from SW
    >>> boundary_points(square, numbered)[["jzdh", "x", "y"]].values.tolist()
    [['J1', 0.0, 0.0], ['J2', 0.0, 30.0], ['J3', 20.0, 30.0], ['J4', 20.0, 0.0]]
    """
    rows = []
    number = 0
    tree = shapely.STRtree(np.asarray(stored["geometry"])) if stored is not None and len(stored) else None
    for k, xy in enumerate(_rings(outline)):
        match = np.full(len(xy), -1)
        if tree is not None:
            (index, found), _ = tree.query_nearest(shapely.points(xy), max_distance=POINT_MATCH_M,
                                                   return_distance=True, all_matches=False)
            match[index] = found
        names = [str(stored["jzdh"].iat[m]).strip() if m >= 0 and isinstance(stored["jzdh"].iat[m], str)
                 and stored["jzdh"].iat[m].strip() else None for m in match]
        keys = [_number_key(n) for n in names]
        if all(key is not None for key in keys) and len(set(keys)) == len(keys):
            first = int(np.argmin(keys))
            order = np.roll(np.arange(len(xy)), -first)
            if len(xy) > 2 and keys[order[1]] > keys[order[-1]]:  # numbered the other way round (anticlockwise)
                order = np.concatenate([[order[0]], order[1:][::-1]])
            xy, match, names = xy[order], match[order], [names[i] for i in order]
        lengths = np.hypot(*(np.roll(xy, -1, axis=0) - xy).T)
        for i, ((easting, northing), length) in enumerate(zip(xy, lengths, strict=True)):
            number += 1
            jblx = stored["jblx"].iat[int(match[i])] if match[i] >= 0 and "jblx" in stored else None
            rows.append({"ring": k, "jzdh": names[i] or f"J{number}", "x": float(northing), "y": float(easting),
                         "length": float(length), "jblx": jblx})
    return pd.DataFrame(rows, columns=["ring", "jzdh", "x", "y", "length", "jblx"])


_SIDES = ("东", "南", "西", "北")


def four_sides(outline: BaseGeometry, neighbours: pd.DataFrame, *, name_column: str = "zddm",
               touch_m: float = 1.0) -> dict[str, list[str]]:
    """四至: for each side (东南西北), the neighbours met there — parcels within ``touch_m`` of the outline,
    placed by the direction from the parcel's centre to the middle of what they share (or their nearest part).

    >>> a, east, north = shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10), shapely.box(0, 10, 10, 20)
    >>> four_sides(a, pd.DataFrame({"zddm": ["E", "N"], "geometry": [east, north]}))
    {'东': ['E'], '南': [], '西': [], '北': ['N']}
    """
    sides: dict[str, list[str]] = {s: [] for s in _SIDES}
    if neighbours is None or not len(neighbours):
        return sides
    centre = outline.centroid
    geometries = np.asarray(neighbours.geometry.values if hasattr(neighbours, "geometry") else neighbours["geometry"])
    near = shapely.distance(geometries, outline) <= touch_m
    for name, geometry, is_near in zip(neighbours[name_column], geometries, near, strict=True):
        if not is_near:
            continue
        shared = shapely.intersection(outline.buffer(touch_m), geometry)
        if shared.area < 2 * touch_m * touch_m:  # a corner, not a side
            continue
        anchor = shared.centroid if not shared.is_empty else shapely.ops.nearest_points(geometry, centre)[0]
        angle = math.degrees(math.atan2(anchor.y - centre.y, anchor.x - centre.x)) % 360
        side = _SIDES[0] if angle < 45 or angle >= 315 else _SIDES[3] if angle < 135 else \
            _SIDES[2] if angle < 225 else _SIDES[1]
        sides[side].append(str(name))
    return sides


def structure_label(fwjg: object) -> str:
    """``混``, ``砼``… for a 房屋结构 code; empty when unknown.

    >>> structure_label("4"), structure_label(None)
    ('混', '')
    """
    return _STRUCTURE_SHORT.get(str(fwjg).strip(), "") if fwjg is not None else ""


def building_label(zrzh: str, fwjg: object, above: object, below: object = None) -> str:
    """A building as a 宗地图 labels it: 幢号, structure and floors above ground (``0001 混6``); a building wholly
    underground by its floors below (``0003 砼-1``).

    >>> building_label("0001", "4", 6), building_label("0003", "3", 0, 1), building_label("0002", None, None)
    ('0001 混6', '0003 砼-1', '0002')
    """
    def count(value) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    floors = f"{count(above)}" if count(above) else f"-{count(below)}" if count(below) else ""
    return f"{zrzh} {structure_label(fwjg)}{floors}".strip()


def sheet_numbers(outline: BaseGeometry, scale: int = 500) -> list[str]:
    """图幅号 of the square map sheets (50 cm × 50 cm: 250 m at 1:500) the outline meets, each named by its
    south-west corner in kilometres, X (northing) then Y (easting), to 0.01 km at 1:500 and 0.1 km at 1:1000 and
    1:2000 (GB/T 20257.1 square sheets); north to south, west to east.

    >>> sheet_numbers(shapely.box(37482049, 4061308, 37482199, 4061428))
    ['4061.25-37482.00']
    >>> sheet_numbers(shapely.box(37482200, 4061200, 37482300, 4061300))
    ['4061.25-37482.00', '4061.25-37482.25', '4061.00-37482.00', '4061.00-37482.25']
    """
    size = 0.5 * scale  # metres on the ground of a 50 cm sheet
    digits = 2 if scale <= 500 else 1
    minx, miny, maxx, maxy = outline.bounds
    names = []
    for row in range(int(math.floor(maxy / size)), int(math.floor(miny / size)) - 1, -1):
        for column in range(int(math.floor(minx / size)), int(math.floor(maxx / size)) + 1):
            sheet = shapely.box(column * size, row * size, (column + 1) * size, (row + 1) * size)
            if shapely.intersects(sheet, outline) and not shapely.touches(sheet, outline):
                names.append(f"{row * size / 1000:.{digits}f}-{column * size / 1000:.{digits}f}")
    return names


def floors_of(sjc: object, myc: object) -> list[int]:
    """The floors a unit occupies: its 名义层 range (``5-6`` for a 跃层 flat, ``-1``), else its 实际层.

    >>> floors_of(5, "5-6"), floors_of(1, "1"), floors_of(-1, "地下1"), floors_of(3, None)
    ([5, 6], [1], [-1], [3])
    """
    text = str(myc or "").strip()
    span = re.fullmatch(r"(-?\d+)\s*[-~至—]\s*(-?\d+)", text)
    if span:
        low, high = sorted((int(span.group(1)), int(span.group(2))))
        return list(range(low, high + 1))
    try:
        return [int(sjc)]
    except (TypeError, ValueError):
        return []


def floor_label(floor: int) -> str:
    """``6层``, ``地下1层``.

    >>> floor_label(6), floor_label(-1)
    ('6层', '地下1层')
    """
    return f"地下{-floor}层" if floor < 0 else f"{floor}层"


def crs_label(srid: int) -> str:
    """The storage CRS as a document names it (short enough for a table cell).

    >>> crs_label(4525)
    'CGCS2000 3°带第37带 EPSG:4525'
    """
    crs = CRS.from_epsg(srid)
    zone = re.search(r"zone (\d+)", crs.name)
    width = "3°带" if "3-degree" in crs.name else "6°带" if "6-degree" in crs.name else ""
    if crs.name.startswith("CGCS2000") and zone:
        return f"CGCS2000 {width}第{zone.group(1)}带 EPSG:{srid}"
    return f"{crs.name}（EPSG:{srid}）"


@dataclass
class ParcelSheet:
    """A parcel as its documents show it: the current (or ``as_of``) row and outline, its boundary points in
    order, neighbours, buildings and 四至. Owners' names already masked for the viewer."""

    zddm: str
    outline: BaseGeometry
    attributes: dict
    points: pd.DataFrame
    neighbours: pd.DataFrame
    buildings: pd.DataFrame
    sides: dict[str, list[str]]
    srid: int
    as_of: str
    extra: dict = field(default_factory=dict)


@dataclass
class UnitSheet:
    """A unit as its 房产分户图 shows it: its row and outline, its building's outline, the parcel's 坐落."""

    bdcdyh: str
    outline: BaseGeometry | None
    attributes: dict
    building_outline: BaseGeometry | None
    building: dict
    zl: str
    srid: int
    as_of: str
    #: the other units on the unit's floor (``shbw`` and outline), drawn around it for orientation
    floor_units: pd.DataFrame | None = None
