"""Reading one layer's file: the raw layer under the package reader (as pyogrio's ``raw`` sits under its
``read_dataframe``).

:func:`load_layer` reads what is in the file — original column names, coordinates in the file's own CRS — and says
how the text was decoded. :func:`decide_layer_crs` then decides the CRS once the county is known, and
:func:`read_vector_layer` does both and converts to storage for callers that need no more (the zoning import).
Field matching to canonical names lives here too (:func:`match_fields`), driven by ``data/layers.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from cadastre.core.errors import InputError
from cadastre.core.settings import County
from cadastre.read import pgdb
from cadastre.read.container import LayerSource
from cadastre.read.crs import GEOGRAPHIC_EPSG, CRSDecision, decide_crs
from cadastre.read.encoding import (
    UTF8,
    EncodingDecision,
    decide_dbf_encoding,
    decide_text_encoding,
    with_whole_field_names,
)
from cadastre.read.layers import layer_specs
from cadastre.read.sheets import SheetLayout, csv_rows, read_workbook, table_from_rows

__all__ = ["LayerRead", "RawLayer", "field_aliases", "match_fields", "load_layer", "decide_layer_crs",
           "read_vector_layer"]


@dataclass(frozen=True)
class LayerRead:
    """How a layer was read, for the report."""

    layer: str
    member: str
    kind: str  # shapefile | gpkg | geojson | filegdb | mdb | dbf | csv | workbook
    text_member: str | None = None  # the file whose text encoding was decided (a shapefile's .dbf)
    rows: int = 0
    columns: tuple[str, ...] = ()
    encoding: EncodingDecision | None = None
    crs: CRSDecision | None = None
    fields: dict[str, str] = field(default_factory=dict)  # canonical name → name in the file
    dropped_z: bool = False
    null_shapes: bool = False  # a shapefile of null shapes only, read as the attribute table it is
    sheets: tuple[SheetLayout, ...] = ()  # of a spreadsheet: where its header was and what was skipped


@dataclass
class RawLayer:
    """What was in a layer's file: original columns; geometry (if any) in the file's coordinates."""

    info: LayerRead
    frame: pd.DataFrame  # a GeoDataFrame when the file has geometry

    @property
    def has_geometry(self) -> bool:
        return isinstance(self.frame, gpd.GeoDataFrame)


def _truncations(alias: str) -> set[str]:
    """The forms a Chinese field name takes in a DBF: cut to 10 bytes in GBK or UTF-8 on a character boundary."""
    forms = {alias}
    for encoding in ("gb18030", "utf-8"):
        raw = alias.encode(encoding)
        if len(raw) > 10:
            forms.add(raw[:10].decode(encoding, errors="ignore"))
    return forms


@cache
def field_aliases(layer: str, *, numeric: bool = False) -> dict[str, str]:
    """Every accepted spelling (casefolded) of each canonical field of ``layer`` → the canonical name.

    With ``numeric``, the aliases that count only when the column holds numbers (``CH`` for 实际层).
    """
    out: dict[str, str] = {}
    for canonical, spec in layer_specs()[layer].fields.items():
        names = spec.numeric_aliases if numeric else (canonical, *spec.aliases)
        for alias in names:
            for form in _truncations(alias):
                out.setdefault(form.strip().casefold(), canonical)
    return out


def _numeric_column(values: pd.Series) -> bool:
    if values.dtype.kind in "iuf":
        return True
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    return len(present) > 0 and bool(present.str.fullmatch(r"[+-]?\d+(?:\.0*)?").all())


def match_fields(layer: str, columns, frame: pd.DataFrame | None = None) -> dict[str, str]:
    """Map the file's column names to canonical names (columns that match nothing are left out).

    An exact canonical name wins over an alias; numeric-only aliases (``CH``) are used when ``frame`` shows the
    column holds numbers and nothing else supplied the field.
    """
    fields = layer_specs()[layer].fields
    aliases = field_aliases(layer)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:  # exact canonical names first, so an alias never shadows the real field
        name = str(column).strip().upper()
        if name in fields and name not in taken:
            mapping[column] = name
            taken.add(name)
    for column in columns:
        canonical = aliases.get(str(column).strip().casefold())
        if column not in mapping and canonical and canonical not in taken:
            mapping[column] = canonical
            taken.add(canonical)
    if frame is not None:
        numeric = field_aliases(layer, numeric=True)
        for column in columns:
            canonical = numeric.get(str(column).strip().casefold())
            if canonical and canonical not in taken and column not in mapping and _numeric_column(frame[column]):
                mapping[column] = canonical
                taken.add(canonical)
    return mapping


def _read_csv(source: LayerSource) -> tuple[pd.DataFrame, EncodingDecision, SheetLayout]:
    data = source.path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        decision, text = EncodingDecision(UTF8, "bom"), data[3:].decode("utf-8", errors="strict")
    else:
        non_ascii = [line for line in data.splitlines() if any(b >= 0x80 for b in line)]
        decision = decide_text_encoding(non_ascii, None, "inferred", source.member)
        text = data.decode(decision.encoding)
    frame, layout = table_from_rows(csv_rows(text), [], field_aliases(source.layer), source.member)
    return frame, decision, layout


def load_layer(source: LayerSource) -> RawLayer:
    """Read a layer's file as it is. Raises :class:`InputError` (rule PKG-002 / PKG-003) naming the file."""
    encoding, sheets = None, ()
    try:
        if source.kind == "shapefile":
            for suffix in (".shx", ".dbf"):
                if source.sidecar(suffix) is None:
                    raise InputError(f"{source.member} 缺少 {suffix} 文件，shapefile 不完整",
                                     f"{source.member}: {suffix} missing, shapefile set incomplete",
                                     rule="PKG-002", layer=source.layer)
            encoding = _dbf_encoding(source, source.sidecar(".dbf"))
            with with_whole_field_names(source.path, source.sidecar(".dbf"), encoding.encoding) as path:
                frame = pyogrio.read_dataframe(path, encoding=encoding.encoding, use_arrow=True)
        elif source.kind in ("gpkg", "geojson", "filegdb"):  # a File Geodatabase's tables come without geometry
            frame = pyogrio.read_dataframe(source.path, layer=source.sublayer, use_arrow=True)
        elif source.kind == "mdb":
            frame = pgdb.read_table(source.path, source.sublayer, source.file_member)
        elif source.kind == "dbf":
            encoding = _dbf_encoding(source, source.path)
            with with_whole_field_names(source.path, source.path, encoding.encoding) as path:
                frame = pyogrio.read_dataframe(path, encoding=encoding.encoding, read_geometry=False)
        elif source.kind == "csv":
            frame, encoding, layout = _read_csv(source)
            sheets = (layout,)
        elif source.kind == "workbook":
            frame, sheets = read_workbook(source.path, source.sublayer, field_aliases(source.layer), source.member)
        else:
            raise ValueError(source.kind)
    except InputError as e:
        e.details.setdefault("layer", source.layer)
        raise
    except Exception as e:  # GDAL, pandas and openpyxl report unreadable data with their own exception classes
        raise InputError(f"无法读取 {source.member}：{e}", f"cannot read {source.member}: {e}",
                         rule="PKG-002", layer=source.layer) from None
    _check_text(frame, source)
    dropped_z = null_shapes = False
    if isinstance(frame, gpd.GeoDataFrame) and source.kind == "shapefile" and len(frame) \
            and "none" in layer_specs()[source.layer].geometry \
            and shapely.is_missing(np.asarray(frame.geometry.values, dtype=object)).all():
        # CASS and EPS write attribute-only layers (层, 户) as shapefiles of null shapes, without a .prj: a table,
        # with no coordinates to decide a CRS from
        frame, null_shapes = pd.DataFrame(frame.drop(columns=frame.geometry.name)), True
    if isinstance(frame, gpd.GeoDataFrame):
        geoms = np.asarray(frame.geometry.values, dtype=object)
        dropped_z = bool(shapely.has_z(geoms).any()) or bool(frame.attrs.get("dropped_z"))
        if dropped_z:
            frame = frame.set_geometry(shapely.force_2d(geoms), crs=frame.crs)
        if frame.geometry.name != "geometry":
            frame = frame.rename_geometry("geometry")
    columns = tuple(str(c) for c in frame.columns if c != "geometry")
    mapping = match_fields(source.layer, columns, frame)
    text_member = None
    if encoding is not None:
        text_member = source.member if source.kind != "shapefile" else str(
            PurePosixPath(source.member).with_name(source.sidecar(".dbf").name))
    info = LayerRead(source.layer, source.member, source.kind, text_member, len(frame), columns, encoding, None,
                     {canonical: original for original, canonical in mapping.items()}, dropped_z, null_shapes, sheets)
    return RawLayer(info, frame)


def _check_text(frame: pd.DataFrame, source: LayerSource) -> None:
    """Every text column must hold valid Unicode after decoding; a damaged file can yield bytes that are not."""
    for column in frame.columns:
        if column == "geometry" or frame[column].dtype != "str":
            continue
        try:
            pa.array(frame[column]).validate(full=True)
        except (pa.ArrowInvalid, pa.ArrowException):
            raise InputError(f"{source.member} 的字段 {column} 含有无法解码的文字（文件可能已损坏或编码有误）",
                             f"{source.member}: field {column} holds text that cannot be decoded",
                             rule="PKG-003", layer=source.layer) from None


def _dbf_encoding(source: LayerSource, dbf) -> EncodingDecision:
    try:
        return decide_dbf_encoding(dbf, source.sidecar(".cpg"))
    except InputError as e:
        e.details["rule"] = "PKG-003" if "编码" in e.message_zh else "PKG-002"
        raise


def decide_layer_crs(raw: RawLayer, county: County, declared_crs: str | None = None) -> CRSDecision:
    """Decide the CRS of a raw vector layer (the manifest's ``crs`` overrides the file's own)."""
    frame = raw.frame
    if declared_crs is not None:
        declared, how = declared_crs, "manifest"
    elif frame.crs is not None:
        declared, how = frame.crs, raw.info.kind if raw.info.kind in ("gpkg", "geojson", "filegdb", "mdb") else "prj"
        if how == "geojson" and frame.crs.to_epsg() == 4326:
            # RFC 7946 says WGS 84 lon/lat; registry exports (and Chinese GIS) write CGCS2000 lon/lat under it,
            # the two within centimetres: read as CGCS2000, and the report says so
            declared = GEOGRAPHIC_EPSG
    else:
        declared, how = None, "inferred"
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bounds = shapely.total_bounds(geoms[present]) if present.any() else np.full(4, np.nan)
    return decide_crs(declared, how, bounds, county, f"{raw.info.member}（图层 {raw.info.layer}）")


def to_storage(raw: RawLayer, crs: CRSDecision, storage_epsg: int) -> gpd.GeoSeries:
    """The raw layer's geometries converted to ``storage_epsg`` (always x = easting)."""
    # the decision is authoritative: the file's own CRS (if any) was only one input to it
    series = gpd.GeoSeries(np.asarray(raw.frame.geometry.values, dtype=object), crs=crs.epsg, index=raw.frame.index)
    return series if crs.epsg == storage_epsg else series.to_crs(storage_epsg)


def read_vector_layer(source: LayerSource, county: County, storage_epsg: int, *,
                      declared_crs: str | None = None) -> tuple[gpd.GeoDataFrame, LayerRead]:
    """Read a vector layer into ``storage_epsg`` with canonical column names (other columns keep their names)."""
    raw = load_layer(source)
    if not raw.has_geometry:
        raise InputError(f"{source.member} 没有几何图形，图层 {source.layer} 需要几何",
                         f"{source.member} has no geometry; layer {source.layer} needs it", layer=source.layer)
    crs = decide_layer_crs(raw, county, declared_crs)
    info = replace(raw.info, crs=crs)
    mapping = {original: canonical for canonical, original in info.fields.items()}
    frame = pd.DataFrame(raw.frame.drop(columns="geometry")).rename(columns=mapping)
    return gpd.GeoDataFrame(frame, geometry=to_storage(raw, crs, storage_epsg).values, crs=storage_epsg), info
