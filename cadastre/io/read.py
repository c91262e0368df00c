"""Reading one layer: decide its encoding and CRS, match its fields to canonical names, convert to storage CRS.

This is the raw layer under the package reader (as pyogrio's ``raw`` sits under its ``read_dataframe``): it knows
files, encodings and coordinate systems, not the rules of a stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from cadastre.errors import InputError
from cadastre.io.container import LayerSource, layer_specs
from cadastre.io.crs import CRSDecision, decide_crs
from cadastre.io.encoding import EncodingDecision, decide_dbf_encoding
from cadastre.settings import County

__all__ = ["LayerRead", "field_aliases", "match_fields", "read_vector_layer"]


@dataclass(frozen=True)
class LayerRead:
    """How a layer was read, for the report."""

    layer: str
    member: str
    rows: int
    encoding: EncodingDecision | None
    crs: CRSDecision | None
    fields: dict[str, str] = field(default_factory=dict)  # canonical name → name in the file
    dropped_z: bool = False


def _truncations(alias: str) -> set[str]:
    """The forms a Chinese field name takes in a DBF: cut to 10 bytes in GBK or UTF-8 on a character boundary."""
    forms = {alias}
    for encoding in ("gb18030", "utf-8"):
        raw = alias.encode(encoding)
        if len(raw) > 10:
            forms.add(raw[:10].decode(encoding, errors="ignore"))
    return forms


@cache
def field_aliases(layer: str) -> dict[str, str]:
    """Every accepted spelling (casefolded) of each canonical field of ``layer`` → the canonical name."""
    out: dict[str, str] = {}
    for canonical, spec in layer_specs()[layer].fields.items():
        for alias in (canonical, *spec.get("aliases", ())):
            for form in _truncations(alias):
                out.setdefault(form.strip().casefold(), canonical)
    return out


def match_fields(layer: str, columns) -> dict[str, str]:
    """Map the file's column names to canonical names (columns that match nothing are left out)."""
    aliases = field_aliases(layer)
    mapping: dict[str, str] = {}
    for column in columns:
        canonical = aliases.get(str(column).strip().casefold())
        if canonical and canonical not in mapping.values():
            mapping[column] = canonical
    return mapping


def read_vector_layer(source: LayerSource, county: County, storage_epsg: int, *,
                      declared_crs: str | None = None) -> tuple[gpd.GeoDataFrame, LayerRead]:
    """Read a vector layer into ``storage_epsg`` with canonical column names.

    ``declared_crs`` (the manifest's ``crs``) overrides any ``.prj``. Columns that match no canonical field are
    kept under their own names. Z and M values are dropped (``LayerRead.dropped_z`` says so).
    """
    where = f"{source.member}（图层 {source.layer}）"
    encoding = None
    kwargs = {}
    if source.kind == "shapefile":
        for suffix in (".shx", ".dbf"):
            if source.sidecar(suffix) is None:
                raise InputError(f"{source.member} 缺少 {suffix} 文件，shapefile 不完整",
                                 f"{source.member}: {suffix} missing, shapefile set incomplete",
                                 rule="PKG-002", layer=source.layer)
        encoding = decide_dbf_encoding(source.sidecar(".dbf"), source.sidecar(".cpg"))
        kwargs["encoding"] = encoding.encoding
    elif source.kind == "gpkg":
        kwargs["layer"] = source.gpkg_layer
    try:
        frame = pyogrio.read_dataframe(source.path, **kwargs)
    except Exception as e:  # GDAL reports unreadable data with its own exception classes
        raise InputError(f"无法读取 {source.member}：{e}", f"cannot read {source.member}: {e}",
                         rule="PKG-002", layer=source.layer) from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{source.member} 没有几何图形，图层 {source.layer} 需要几何",
                         f"{source.member} has no geometry; layer {source.layer} needs it", layer=source.layer)
    geometry = frame.geometry.values
    dropped_z = bool(shapely.has_z(np.asarray(geometry, dtype=object)).any())
    if dropped_z:
        frame = frame.set_geometry(shapely.force_2d(np.asarray(geometry, dtype=object)), crs=frame.crs)
    if declared_crs is not None:
        declared, how = declared_crs, "manifest"
    elif frame.crs is not None:
        declared, how = frame.crs, ("gpkg" if source.kind == "gpkg" else "prj")
    else:
        declared, how = None, "inferred"
    present = ~(frame.geometry.isna() | frame.geometry.is_empty)
    bounds = frame.geometry[present].total_bounds if present.any() else np.full(4, np.nan)
    crs = decide_crs(declared, how, bounds, county, where)
    frame = frame.set_crs(crs.epsg, allow_override=True)
    if crs.epsg != storage_epsg:
        frame = frame.to_crs(storage_epsg)
    mapping = match_fields(source.layer, [c for c in frame.columns if c != frame.geometry.name])
    frame = frame.rename(columns=mapping)
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    info = LayerRead(source.layer, source.member, len(frame), encoding, crs,
                     {canonical: original for original, canonical in mapping.items()}, dropped_z)
    return frame, info
