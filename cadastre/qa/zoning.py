"""Checking cadastral zoning (地籍区 / 地籍子区) as pure functions: :func:`validate_zoning` returns findings (rows of
data) for malformed or duplicate codes, bad geometry, sub-districts outside their district and overlaps. The registry
refuses zoning with any error finding.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.core.model import Zoning
from cadastre.core.settings import County

__all__ = ["validate_zoning", "RULES"]

#: rule id → (severity, Chinese description)
RULES = {
    "ZON-001": ("error", "地籍区/地籍子区代码格式错误或不属于本登记库的县"),
    "ZON-002": ("error", "地籍区/地籍子区代码重复"),
    "ZON-003": ("error", "几何图形为空或无效"),
    "ZON-004": ("error", "地籍子区所属的地籍区不存在"),
    "ZON-005": ("error", "地籍子区超出所属地籍区"),
    "ZON-006": ("error", "地籍子区相互重叠"),
    "ZON-007": ("error", "地籍区相互重叠"),
    "ZON-008": ("warning", "使用临时编码 000（本县允许）"),
    "ZON-009": ("error", "要删除的地籍区/子区内仍有现势宗地"),
}


def _geometry_problems(frame: gpd.GeoDataFrame, code: str, layer: str, crs) -> tuple[pd.DataFrame, np.ndarray]:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    valid = ~missing & shapely.is_valid(geoms)
    bad = np.flatnonzero(~valid)
    reasons = shapely.is_valid_reason(geoms[bad])
    messages = [
        f"{'地籍区' if layer == 'DJQ' else '地籍子区'} {frame[code].iat[i]} 几何图形"
        + ("为空" if missing[i] else f"无效：{reason}")
        for i, reason in zip(bad, reasons, strict=True)
    ]
    lonlat = fnd.lonlat_points(np.where(missing[bad], None, geoms[bad]), crs)
    return fnd.frame("ZON-003", "error", layer, frame[code].to_numpy()[bad], messages, lonlat=lonlat), valid


def _overlaps(frame: gpd.GeoDataFrame, code: str, valid: np.ndarray, rule: str, layer: str, what: str,
              tolerance: float, crs) -> pd.DataFrame:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    idx = np.flatnonzero(valid)
    tree = shapely.STRtree(geoms[idx])
    left, right = tree.query(geoms[idx])  # bounding boxes in bulk; exact test on the candidate pairs below
    keep = left < right
    left, right = idx[left[keep]], idx[right[keep]]
    overlap = shapely.intersection(geoms[left], geoms[right])
    area = shapely.area(overlap)
    hit = area > tolerance
    codes = frame[code].to_numpy()
    a, b, area, overlap = codes[left[hit]], codes[right[hit]], area[hit], overlap[hit]
    messages = [f"{what} {x} 与 {y} 重叠 {s:.2f} ㎡" for x, y, s in zip(a, b, area, strict=True)]
    return fnd.frame(rule, "error", layer, a, messages, lonlat=fnd.lonlat_points(overlap, crs), measured=area,
                     limit=tolerance, figures=[{"other": y} for y in b])


_LAYERS = (("DJQ", "districts", "djqdm", 9, "地籍区"), ("DJZQ", "subdistricts", "djzqdm", 12, "地籍子区"))


def _code_findings(frame: gpd.GeoDataFrame, layer: str, code: str, length: int, what: str,
                   by_code: dict[str, County]) -> list[pd.DataFrame]:
    """ZON-001 (malformed, foreign or unapproved provisional codes), ZON-008 (approved provisional), ZON-002."""
    crs = frame.crs
    codes = frame[code].astype(str)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    well_formed = codes.str.fullmatch(rf"\d{{{length}}}").to_numpy(bool)
    county = codes.str[:6].map(by_code.get)
    known = county.notna().to_numpy(bool)
    provisional = well_formed & ((codes.str[6:9] == "000") | ((codes.str[9:12] == "000") & (length == 12))
                                 ).to_numpy(bool)
    allowed = county.map(lambda c: bool(c and c.allow_provisional_zoning)).to_numpy(bool)
    bad = ~well_formed | ~known | (provisional & ~allowed)
    messages = [
        f"{what}代码“{c}”应为{length}位数字" if not w
        else f"{what}代码 {c} 的县级代码 {c[:6]} 不属于本登记库（{'、'.join(by_code)}）" if not k
        else f"{what}代码 {c} 使用临时编码 000，本县未启用"
        for c, w, k in zip(codes[bad], well_formed[bad], known[bad], strict=True)
    ]
    warn = provisional & allowed & known
    duplicate = codes.duplicated(keep=False).to_numpy(bool) & (codes != "").to_numpy(bool)
    return [
        fnd.frame("ZON-001", "error", layer, codes[bad].to_numpy(), messages,
                  lonlat=fnd.lonlat_points(geoms[bad], crs)),
        fnd.frame("ZON-008", "warning", layer, codes[warn].to_numpy(),
                  [f"{what}代码 {c} 使用临时编码 000" for c in codes[warn]]),
        fnd.frame("ZON-002", "error", layer, codes[duplicate].to_numpy(),
                  [f"{what}代码 {c} 重复出现" for c in codes[duplicate]],
                  lonlat=fnd.lonlat_points(geoms[duplicate], crs)),
    ]


def validate_zoning(zoning: Zoning, counties: Sequence[County]) -> pd.DataFrame:
    """Findings for zoning that must not be loaded (and warnings for what may); see :data:`RULES`."""
    by_code = {c.code: c for c in counties}
    tolerances = counties[0].tolerances["zoning"]
    parts: list[pd.DataFrame] = []
    valid = {}
    for layer, attribute, code, length, what in _LAYERS:
        frame = getattr(zoning, attribute)
        parts += _code_findings(frame, layer, code, length, what, by_code)
        geometry_findings, valid[layer] = _geometry_problems(frame, code, layer, frame.crs)
        parts.append(geometry_findings)
        parts.append(_overlaps(frame, code, valid[layer], "ZON-007" if layer == "DJQ" else "ZON-006", layer, what,
                               tolerances["overlap_tolerance"], frame.crs))
    parts.append(_containment(zoning, valid["DJQ"], valid["DJZQ"], tolerances["containment_tolerance"]))
    warned = [read for read in zoning.layers if read.crs is not None and read.crs.warning]  # read as written
    parts.append(fnd.of_rule("PKG-006", "package", [r.member for r in warned], [r.crs.warning for r in warned]))
    return fnd.concat(parts)


def _containment(zoning: Zoning, district_valid: np.ndarray, sub_valid: np.ndarray, tolerance: float) -> pd.DataFrame:
    districts, subs = zoning.districts, zoning.subdistricts
    crs = districts.crs
    position = pd.Series(np.arange(len(districts)), index=districts["djqdm"].to_numpy())
    position = position[~position.index.duplicated()]
    parent = subs["djqdm"].map(position)
    orphan = parent.isna().to_numpy()
    sub_geoms = np.asarray(subs.geometry.values, dtype=object)
    codes = subs["djzqdm"].to_numpy()
    orphans = fnd.frame("ZON-004", "error", "DJZQ", codes[orphan],
                        [f"地籍子区 {c} 所属的地籍区 {c[:9]} 不在地籍区图层中" for c in codes[orphan]],
                        lonlat=fnd.lonlat_points(sub_geoms[orphan], crs))
    parent_idx = parent.fillna(-1).to_numpy(int)
    check = ~orphan & sub_valid & np.where(parent_idx >= 0, district_valid[np.maximum(parent_idx, 0)], False)
    idx = np.flatnonzero(check)
    district_geoms = np.asarray(districts.geometry.values, dtype=object)[parent_idx[idx]]
    outside = shapely.difference(sub_geoms[idx], district_geoms)
    area = shapely.area(outside)
    hit = area > tolerance
    messages = [f"地籍子区 {c} 有 {s:.2f} ㎡ 位于地籍区 {c[:9]} 之外" for c, s in zip(codes[idx][hit], area[hit],
                                                                            strict=True)]
    outside_findings = fnd.frame("ZON-005", "error", "DJZQ", codes[idx][hit], messages,
                                 lonlat=fnd.lonlat_points(outside[hit], crs), measured=area[hit], limit=tolerance)
    return fnd.concat([orphans, outside_findings])
