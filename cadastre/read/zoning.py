"""Reading cadastral zoning (地籍区 / 地籍子区): the reference layers DJQ and DJZQ from a zip, folder or GeoPackage.

Zoning is loaded once by an administrator and updated rarely. :func:`read_zoning` turns the layers into a
:class:`cadastre.core.model.Zoning`; :func:`cadastre.qa.zoning.validate_zoning` checks it.
"""

from __future__ import annotations

import os

import geopandas as gpd
import pandas as pd

from cadastre.core.errors import InputError
from cadastre.core.geometry import as_multipolygons
from cadastre.core.model import Zoning
from cadastre.core.settings import County
from cadastre.read.container import open_container
from cadastre.read.raw import read_vector_layer
from cadastre.read.values import to_code, to_text

__all__ = ["read_zoning"]

def _normalise(frame: gpd.GeoDataFrame, code: str, name: str, length: int, source: str) -> gpd.GeoDataFrame:
    if code not in frame.columns:
        raise InputError(f"{source} 缺少字段 {code}", f"{source}: field {code} missing", rule="ATT-002")
    codes = to_code(frame[code]).fillna("").astype(object)  # numeric DBF fields lose their ".0"
    names = to_text(frame[name]).astype(object) if name in frame.columns else pd.Series(
        [None] * len(frame), index=frame.index, dtype=object)
    names = names.where(names.notna(), None)
    out = gpd.GeoDataFrame({code.lower(): codes, name.lower(): names,
                            "county": codes.str[:6]}, geometry=as_multipolygons(frame.geometry.values),
                           crs=frame.crs)
    if length == 12:
        out.insert(1, "djqdm", codes.str[:9].astype(object))
    return out


def read_zoning(path: str | os.PathLike, county: County, storage_epsg: int) -> Zoning:
    """Read DJQ and DJZQ layers from a zip, folder or GeoPackage into ``storage_epsg``.

    ``county`` decides the expected Gauss-Krüger zone (all counties of one registry share it).
    """
    with open_container(path) as container:
        sources = {code: container.find_layer(code) for code in ("DJQ", "DJZQ")}
        missing = [code for code, source in sources.items() if source is None]
        if missing:
            names = "、".join(f"{m}（{'地籍区' if m == 'DJQ' else '地籍子区'}）" for m in missing)
            raise InputError(f"{container.name} 中没有图层 {names}", f"layers {missing} not found",
                             rule="PKG-001")
        districts, djq_read = read_vector_layer(sources["DJQ"], county, storage_epsg)
        subdistricts, djzq_read = read_vector_layer(sources["DJZQ"], county, storage_epsg)
    return Zoning(
        _normalise(districts, "DJQDM", "DJQMC", 9, djq_read.member),
        _normalise(subdistricts, "DJZQDM", "DJZQMC", 12, djzq_read.member),
        (djq_read, djzq_read),
    )


