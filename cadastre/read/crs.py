"""Deciding a layer's coordinate reference system, in the order survey-package.md gives, and checking it against
the county.

1. a declared CRS (the manifest's ``crs``, else the ``.prj`` / GeoPackage SRS);
2. else inferred from the coordinates: easting ≥ 10 000 000 carries the zone in its first two digits (3° zones
   25–45, 6° zones 13–23); easting 200 000–800 000 is an unprefixed Gauss-Krüger easting in the county's zone;
   values within ±180/±90 are geographic CGCS2000.

Declared or inferred, the CRS must be CGCS2000 in the county's 3° zone (or geographic CGCS2000), and the
coordinates must fit it: Xian 1980, Beijing 1954, another zone, 6° zones, or northing/easting swapped are refused,
never transformed silently. All transformations use x = easting (``always_xy``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from cadastre.core.errors import InputError
from cadastre.core.settings import County, zone_epsg

__all__ = ["CRSDecision", "decide_crs", "epsg_zone", "GEOGRAPHIC_EPSG"]

GEOGRAPHIC_EPSG = 4490
_FOREIGN_DATUMS = {"xian 1980": "西安80坐标系", "beijing 1954": "北京54坐标系", "new beijing": "新北京54坐标系",
                   "world geodetic system 1984": "WGS84", "wgs 84": "WGS84"}
#: how far (degrees) coordinates may lie from the county's configured centre
COUNTY_REACH_DEG = 1.0


@dataclass(frozen=True)
class CRSDecision:
    """The CRS a layer is read in and how it was decided (for the report)."""

    epsg: int
    how: str  # manifest | prj | gpkg | geojson | filegdb | mdb | inferred
    detail: str  # Chinese, e.g. "由坐标推断：带号前缀 37（3度带）"
    warning: str | None = None  # Chinese, when the coordinates contradicted the declaration in an unambiguous way

    @property
    def crs(self) -> CRS:
        return CRS.from_epsg(self.epsg)

    @property
    def inferred(self) -> bool:
        return self.how == "inferred"


def epsg_zone(epsg: int) -> tuple[str, int | None, bool]:
    """Classify a CGCS2000 EPSG code: (kind, zone, prefixed) with kind ``geographic``, ``3deg``, ``6deg``, ``other``.

    For unprefixed codes the zone is the 3° (or 6°) zone number whose central meridian the code names.
    """
    if epsg == GEOGRAPHIC_EPSG:
        return "geographic", None, False
    if 4513 <= epsg <= 4533:
        return "3deg", epsg - 4513 + 25, True
    if 4534 <= epsg <= 4554:
        return "3deg", epsg - 4534 + 25, False
    if 4491 <= epsg <= 4501:
        return "6deg", epsg - 4491 + 13, True
    if 4502 <= epsg <= 4512:
        return "6deg", epsg - 4502 + 13, False
    return "other", None, False


def _refuse(zh: str, en: str, where: str) -> InputError:
    return InputError(f"{where}：{zh}", f"{where}: {en}", rule="PKG-004")


def _to_epsg(declared: CRS | str | int, where: str) -> int:
    try:
        crs = declared if isinstance(declared, CRS) else CRS.from_user_input(declared)
    except CRSError as e:
        raise _refuse(f"无法识别坐标系“{declared}”", f"cannot read CRS {declared!r}: {e}", where) from None
    datum = (crs.datum.name if crs.datum else "").lower()
    for key, label in _FOREIGN_DATUMS.items():
        if key in datum:
            raise _refuse(f"坐标系为{label}（{crs.name}），本系统只接受 CGCS2000，请转换后重新提交",
                          f"CRS is {crs.name} ({datum}); only CGCS2000 is accepted", where)
    epsg = crs.to_epsg(min_confidence=70)
    if epsg is None and crs.is_projected and "2000" in datum:
        # ESRI WKT of CGCS2000 Gauss-Krüger zones sometimes lacks an authority: match by central meridian
        params = {p.name.lower(): p.value for p in crs.coordinate_operation.params} if crs.coordinate_operation else {}
        cm = params.get("longitude of natural origin", params.get("central_meridian"))
        fe = params.get("false easting", 0.0)
        if cm is not None and float(cm) % 3 == 0:
            zone = int(round(float(cm) / 3))
            if 25 <= zone <= 45:
                epsg = zone_epsg(zone, prefixed=fe > 1_000_000)
    if epsg is None or epsg_zone(epsg)[0] == "other":
        raise _refuse(f"坐标系“{crs.name}”不是 CGCS2000 高斯-克吕格投影或 CGCS2000 地理坐标系",
                      f"CRS {crs.name!r} is not CGCS2000 Gauss-Krüger or geographic CGCS2000", where)
    return epsg


def _infer(bounds: np.ndarray, county: County, where: str) -> tuple[int, str]:
    minx, miny, maxx, maxy = bounds
    if -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90:
        return GEOGRAPHIC_EPSG, "由坐标推断：经纬度（CGCS2000 地理坐标）"
    if minx >= 10_000_000:
        zone = int(minx // 1_000_000)
        if int(maxx // 1_000_000) != zone:
            raise _refuse("坐标的带号前缀不一致", "coordinates carry different zone prefixes", where)
        if 25 <= zone <= 45:
            return zone_epsg(zone), f"由坐标推断：带号前缀 {zone}（3度带）"
        if 13 <= zone <= 23:
            return 4491 + zone - 13, f"由坐标推断：带号前缀 {zone}（6度带）"
        raise _refuse(f"坐标带号前缀 {zone} 不是有效的高斯-克吕格带号", f"zone prefix {zone} is not valid", where)
    if 200_000 <= minx and maxx <= 800_000:
        return zone_epsg(county.zone, prefixed=False), f"由坐标推断：不带带号的高斯-克吕格坐标，按本县 {county.zone} 带"
    if 200_000 <= miny and maxy <= 800_000 and minx >= 1_000_000:
        raise _refuse("坐标似乎把北坐标（X）放在了东坐标（Y）的位置，请检查 X/Y 是否颠倒",
                      "coordinates look northing-first (X/Y swapped)", where)
    raise _refuse(f"无法从坐标范围（{minx:.1f}, {miny:.1f}, {maxx:.1f}, {maxy:.1f}）推断坐标系，请在 manifest.json 中声明 crs",
                  "cannot infer the CRS from the coordinates; declare crs in manifest.json", where)


def decide_crs(declared: CRS | str | int | None, how: str, bounds, county: County, where: str) -> CRSDecision:
    """Decide and check the CRS of a layer with ``bounds`` (minx, miny, maxx, maxy in file coordinates).

    ``how`` says where ``declared`` came from (``manifest``, ``prj``, ``gpkg``); ``where`` names the file and layer
    for messages. Raises :class:`InputError` (rule PKG-004) when it cannot be decided or does not fit the county.
    """
    bounds = np.asarray(bounds, dtype=float)
    if declared is not None:
        epsg = _to_epsg(declared, where)
        detail = {"manifest": "由 manifest.json 声明", "prj": "由 .prj 文件声明",
                  "gpkg": "由 GeoPackage 声明", "geojson": "由 GeoJSON 声明（RFC 7946 经纬度按 CGCS2000 读取）",
                  "filegdb": "由文件地理数据库的要素类声明", "mdb": "由个人地理数据库的要素类声明"}.get(how, how) + f"：EPSG:{epsg}"
    else:
        epsg, detail = _infer(bounds, county, where)
        how = "inferred"
    kind, zone, prefixed = epsg_zone(epsg)
    if kind == "6deg":
        raise _refuse(f"坐标为 6 度带（带号 {zone}），本县使用 3 度带第 {county.zone} 带",
                      f"6-degree zone {zone}; the county uses 3-degree zone {county.zone}", where)
    if kind == "3deg" and zone != county.zone:
        raise _refuse(f"坐标系为 3 度带第 {zone} 带，与本县（{county.name}）的第 {county.zone} 带不符",
                      f"3-degree zone {zone} does not match the county's zone {county.zone}", where)
    warning = None
    if np.isfinite(bounds).all():
        if kind == "3deg" and how != "inferred":
            epsg, prefixed, warning = _prefix_as_written(epsg, zone, prefixed, bounds, where)
            if warning:
                detail += f"；坐标东值{'带' if prefixed else '不带'}带号，按 EPSG:{epsg} 读取"
        _check_fit(epsg, kind, prefixed, bounds, county, where)
    return CRSDecision(epsg, how, detail, warning)


def _prefix_as_written(epsg: int, zone: int, prefixed: bool, bounds: np.ndarray,
                       where: str) -> tuple[int, bool, str | None]:
    """A declared 3° zone of the county over eastings written the other way — without the zone prefix under a
    prefixed .prj (CASS does this), or with it under an unprefixed one — is unambiguous: the zone is known, so the
    eastings are read as written, in the same zone, and the report warns. Mixed forms stay refused (_check_fit)."""
    minx, _, maxx, _ = bounds
    if prefixed and 200_000 <= minx and maxx <= 800_000:
        read_as = zone_epsg(zone, prefixed=False)
        said = (f"{where}：声明的坐标系 EPSG:{epsg} 带有带号前缀，但坐标东值不带带号（{minx:.1f}–{maxx:.1f}）；"
                f"带号 {zone} 已知，按不带带号的第 {zone} 带（EPSG:{read_as}）读取")
        return read_as, False, said
    if not prefixed and int(minx // 1_000_000) == zone == int(maxx // 1_000_000):
        read_as = zone_epsg(zone)
        said = (f"{where}：声明的坐标系 EPSG:{epsg} 不带带号前缀，但坐标东值带有带号 {zone}（{minx:.1f}–{maxx:.1f}）；"
                f"按带带号的第 {zone} 带（EPSG:{read_as}）读取")
        return read_as, True, said
    return epsg, prefixed, None


def _check_fit(epsg: int, kind: str, prefixed: bool, bounds: np.ndarray, county: County, where: str) -> None:
    """The coordinates must be of the declared form and land near the county's central meridian."""
    minx, miny, maxx, maxy = bounds
    if kind == "3deg":
        if prefixed and minx < 10_000_000:
            raise _refuse(f"坐标系 EPSG:{epsg} 带有带号前缀，但坐标东值 {minx:.1f} 不带带号",
                          f"EPSG:{epsg} expects zone-prefixed eastings, got {minx:.1f}", where)
        if not prefixed and maxx >= 10_000_000:
            raise _refuse(f"坐标系 EPSG:{epsg} 不带带号前缀，但坐标东值 {maxx:.1f} 带有带号",
                          f"EPSG:{epsg} expects eastings without zone prefix, got {maxx:.1f}", where)
    transformer = Transformer.from_crs(epsg, GEOGRAPHIC_EPSG, always_xy=True)
    lon, lat = transformer.transform(np.array([minx, maxx]), np.array([miny, maxy]))
    cm = county.central_meridian
    if county.centre is not None:
        centre_lon, centre_lat = county.centre
        fits = np.all(np.abs(lon - centre_lon) <= COUNTY_REACH_DEG) and np.all(
            np.abs(lat - centre_lat) <= COUNTY_REACH_DEG)
    else:
        fits = np.all(np.abs(lon - cm) <= 2.0) and np.all((lat > 0) & (lat < 60))
    if not fits:
        raise _refuse(f"坐标换算后位于经度 {lon.min():.3f}–{lon.max():.3f}、纬度 {lat.min():.3f}–{lat.max():.3f}，"
                      f"不在本县（{county.name}，中央经线 {cm}°E）附近",
                      f"coordinates fall at lon {lon.min():.3f}–{lon.max():.3f}, lat {lat.min():.3f}–"
                      f"{lat.max():.3f}, outside the county's zone", where)
