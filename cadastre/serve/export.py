"""Exports for other offices and desktop GIS: registry layers in the survey package's own layer and field names,
and unit lists as spreadsheets.

A layer export speaks the standard's words, so it goes back in through the package reader as it came out:
parcels are ``ZDJBXX``, buildings ``ZRZ``, units ``H``, with the fields of ``data/layers.toml`` (``ZDDM``, ``ZL``,
``SHBW``, …) and the registry's storage CRS. Formats:

- ``gpkg``: one GeoPackage, one table per layer;
- ``shp``: a zip of shapefiles with GBK ``.dbf`` files and ``.cpg`` files saying so (what Chinese desktop GIS
  reads), a ``.prj`` each, and a ``manifest.json`` naming the county and CRS;
- ``geojson``: one layer as an RFC 7946 FeatureCollection in lon/lat, coordinates to 9 decimals (0.1 mm).

Unit lists (``xlsx``) carry the columns the housing office (住建) and the tax office (税务) ask for, one row per
unit, coded values with their names.

>>> sorted(LAYERS), LAYERS["units"].layer
(['buildings', 'parcels', 'units'], 'H')
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from cadastre.core.catalogue import AREA_KINDS
from cadastre.core.codetables import table
from cadastre.core.errors import InputError, shown
from cadastre.read.layers import layer_specs

__all__ = ["LAYERS", "FORMATS", "OFFICES", "ExportLayer", "named_layer", "package_layer", "write_layers", "unit_list",
           "write_unit_list", "export_format"]


@dataclass(frozen=True)
class ExportLayer:
    name: str  # the registry's word: parcels, buildings, units
    table: str  # the registry's table
    layer: str  # the package's layer code
    title: str
    #: registry columns whose package field name is not simply the column in capitals
    renamed: tuple[tuple[str, str], ...] = ()


LAYERS: dict[str, ExportLayer] = {e.name: e for e in (
    ExportLayer("parcels", "parcel", "ZDJBXX", "宗地"),
    ExportLayer("buildings", "building", "ZRZ", "自然幢"),
    ExportLayer("units", "unit", "H", "户", renamed=(("fwyt", "FWYT1"),)),
)}

#: format → (file suffix, what it is, in Chinese)
FORMATS = {"gpkg": (".gpkg", "GeoPackage"), "shp": (".zip", "Shapefile（GBK 编码，zip）"),
           "geojson": (".geojson", "GeoJSON（经纬度）"), "xlsx": (".xlsx", "Excel 户清单")}


def export_format(fmt: str | None, path: str | os.PathLike | None = None) -> str:
    """The export format named, or read from the target's suffix (``.gpkg``, ``.zip`` for shapefiles,
    ``.geojson``/``.json``, ``.xlsx``)."""
    if fmt is None and path is not None:
        suffix = Path(path).suffix.lower()
        fmt = {".gpkg": "gpkg", ".zip": "shp", ".geojson": "geojson", ".json": "geojson", ".xlsx": "xlsx"}.get(suffix)
    if fmt not in FORMATS:
        raise InputError(f"导出格式 {shown(fmt)} 不支持：可用 {', '.join(FORMATS)}", f"unsupported export format {fmt!r}")
    return fmt


def named_layer(name: str) -> ExportLayer:
    """The export layer ``name`` (parcels, buildings, units); InputError for any other."""
    try:
        return LAYERS[name]
    except KeyError:
        raise InputError(f"没有可导出的图层 {shown(name)}：可用 {', '.join(LAYERS)}", f"no export layer {name}") from None


def package_layer(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """A registry layer (``Registry.parcels()`` / ``buildings()`` / ``units()``) as the package layer it came from:
    the layer's fields in its order, named as the standard names them; the registry's own columns (row ids,
    history, package) left out."""
    export = named_layer(name)
    spec = layer_specs()[export.layer]
    renamed = dict(export.renamed)
    columns = {}
    for column in frame.columns:
        field_name = renamed.get(column, str(column).upper())
        if field_name in spec.fields and field_name not in columns.values():
            columns[column] = field_name
    order = [f for f in spec.fields if f in columns.values()]
    out = frame[list(columns)].rename(columns=columns)[order]
    out = out.astype({name: _DTYPES.get(spec.fields[name].type, object) for name in order})
    return gpd.GeoDataFrame(out, geometry=frame.geometry.values, crs=frame.crs).reset_index(drop=True)


#: a field's type (data/layers.toml) as the column type written: a number stays a number when every value is empty
#: (an all-empty column would otherwise be written as text, and desktop GIS could not sum or filter it)
_DTYPES = {"float": "float64", "int": "Int64"}


def write_layers(layers: dict[str, gpd.GeoDataFrame], target: str | os.PathLike, *, fmt: str | None = None,
                 county_code: str | None = None) -> Path:
    """Write registry layers (``{"parcels": frame, …}``) to ``target`` as ``fmt`` (default: from the suffix).

    >>> import geopandas as gpd, shapely, tempfile, pathlib
    >>> parcels = gpd.GeoDataFrame({"zddm": ["141031001002GB00001"], "zl": ["隰县城关镇龙泉村"], "zdmj": [200.0],
    ...                             "id": [7]}, geometry=[shapely.box(0, 0, 10, 20)], crs=4524)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_layers({"parcels": parcels}, pathlib.Path(tmp) / "宗地.gpkg")
    ...     gpd.read_file(path, layer="ZDJBXX").columns.tolist()
    ['ZDDM', 'ZL', 'ZDMJ', 'geometry']
    """
    target = Path(target)
    fmt = export_format(fmt, target)
    if fmt == "xlsx":
        raise InputError("户清单请用 write_unit_list 导出为 xlsx", "use write_unit_list for xlsx")
    frames = {named_layer(name).layer: package_layer(frame, name) for name, frame in layers.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        if len(frames) != 1:
            raise InputError("GeoJSON 一次只能导出一个图层", "GeoJSON holds one layer")
        frame = next(iter(frames.values()))
        target.unlink(missing_ok=True)
        # the layer code as the collection's "name": the package reader finds the layer by it
        frame.to_crs(4326).to_file(target, driver="GeoJSON", engine="pyogrio", layer=next(iter(frames)),
                                   RFC7946="YES", COORDINATE_PRECISION=9)
        return target
    if fmt == "gpkg":
        target.unlink(missing_ok=True)
        for layer, frame in frames.items():  # GeoPackage 1.2: what GDAL 3.6 / QGIS 3.22 read without a warning
            frame.to_file(target, layer=layer, driver="GPKG", engine="pyogrio", VERSION="1.2")
        return target
    with tempfile.TemporaryDirectory(prefix="cadastre-export-") as tmp:
        folder = Path(tmp)
        epsg = None
        for layer, frame in frames.items():
            _check_gbk(frame, layer)
            with warnings.catch_warnings():  # GDAL's notes on field widths
                warnings.simplefilter("ignore", RuntimeWarning)
                frame.to_file(folder / f"{layer}.shp", driver="ESRI Shapefile", engine="pyogrio", encoding="GBK")
            (folder / f"{layer}.cpg").write_text("GBK", encoding="ascii")
            epsg = frame.crs.to_epsg() if frame.crs is not None else epsg
        manifest = {"county_code": county_code, "crs": f"EPSG:{epsg}" if epsg else None,
                    "exported_by": "cadastre"}
        (folder / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if v is not None},
                                                         ensure_ascii=False, indent=2), encoding="utf-8")
        target.unlink(missing_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(folder.iterdir()):
                zf.write(file, file.name)
    return target


def _check_gbk(frame: pd.DataFrame, layer: str) -> None:
    """Every text value must be representable in GBK: GDAL would silently drop what is not."""
    spec = layer_specs()[layer]
    for column in frame.columns:
        if column == frame.geometry.name or frame[column].dtype.kind not in "OUT":
            continue
        values = frame[column].to_numpy(object)
        try:  # the whole column at once; value by value only to name the one that fails
            "\n".join(v for v in values if isinstance(v, str)).encode("gbk")
            continue
        except UnicodeEncodeError:
            pass
        for row, value in enumerate(values):
            if not isinstance(value, str):
                continue
            try:
                value.encode("gbk")
            except UnicodeEncodeError as e:
                key = next((str(frame[k].iat[row]) for k in (*spec.key, "BDCDYH", "ZDDM") if k in frame), str(row))
                raise InputError(f"{spec.title} {key} 的 {column}“{value}”含 GBK 无法表示的字符“{value[e.start:e.end]}”，"
                                 "Shapefile 存不下；请导出为 GeoPackage 或 GeoJSON",
                                 f"{layer} {key} {column}: {value!r} is not representable in GBK") from None


#: office → the unit list's columns: (heading, source column)
OFFICES: dict[str, tuple[tuple[str, str], ...]] = {
    "housing": (("不动产单元代码", "bdcdyh"), ("宗地代码", "zddm"), ("自然幢号", "zrzh"), ("坐落", "zl"),
                ("幢名称", "jzwmc"), ("单元号", "dyh"), ("实际层", "sjc"), ("名义层", "myc"), ("室号", "shbw"),
                ("房屋用途代码", "fwyt"), ("房屋用途", "fwyt_name"), ("房屋类型", "fwlx_name"),
                ("房屋性质", "fwxz_name"), ("测绘阶段", "stage_name"),
                ("预测建筑面积", "ycjzmj"), ("预测套内建筑面积", "yctnjzmj"), ("预测分摊建筑面积", "ycftjzmj"),
                ("实测建筑面积", "scjzmj"), ("实测套内建筑面积", "sctnjzmj"), ("实测分摊建筑面积", "scftjzmj"),
                ("分摊系数", "ftxs")),
    "tax": (("不动产单元代码", "bdcdyh"), ("坐落", "zl"), ("室号", "shbw"), ("名义层", "myc"),
            ("房屋用途代码", "fwyt"), ("房屋用途", "fwyt_name"), ("建筑面积", "jzmj"), ("套内建筑面积", "tnjzmj"),
            ("分摊建筑面积", "ftjzmj"), ("面积来源", "stage_name")),
}
OFFICE_TITLES = {"housing": "住建", "tax": "税务"}


def unit_list(units: pd.DataFrame, buildings: pd.DataFrame, parcels: pd.DataFrame, *, office: str) -> pd.DataFrame:
    """One row per unit with the columns ``office`` (``housing`` 住建 or ``tax`` 税务) needs, headed in Chinese.

    Areas are the as-built ones once measured, else the pre-sale ones (``面积来源`` says which); 坐落 is the
    parcel's with the building's name. ``units``/``buildings``/``parcels``: ``Registry.units()`` etc.
    """
    if office not in OFFICES:
        raise InputError(f"没有部门 {shown(office)}：可用 housing（住建）、tax（税务）", f"no office {shown(office)}")
    out = pd.DataFrame(units.drop(columns=[units.geometry.name] if isinstance(units, gpd.GeoDataFrame) else []))
    out = out.merge(pd.DataFrame(buildings)[["id", "jzwmc"]].rename(columns={"id": "building_id"}),
                    on="building_id", how="left")
    out = out.merge(pd.DataFrame(parcels)[["zddm", "zl"]].drop_duplicates("zddm"), on="zddm", how="left")
    out["zl"] = [" ".join(str(p) for p in parts if isinstance(p, str) and p)
                 for parts in zip(out["zl"], out["jzwmc"], strict=True)]
    for column, key in (("fwyt", "FWYT"), ("fwlx", "FWLX"), ("fwxz", "FWXZ")):
        names = table(key)
        out[f"{column}_name"] = [names.name(v) if isinstance(v, str) else None for v in out[column]]
    measured = out["scjzmj"].notna().to_numpy()
    out["stage_name"] = np.where(measured, AREA_KINDS["asbuilt"], AREA_KINDS["presale"])
    for total, (yc, sc) in {"jzmj": ("ycjzmj", "scjzmj"), "tnjzmj": ("yctnjzmj", "sctnjzmj"),
                            "ftjzmj": ("ycftjzmj", "scftjzmj"), "ftxs": ("ycftxs", "scftxs")}.items():
        out[total] = np.where(measured, out[sc], out[yc])
    columns = OFFICES[office]
    listing = out[[source for _, source in columns]].copy()
    listing.columns = [heading for heading, _ in columns]
    return listing.sort_values("不动产单元代码", kind="stable").reset_index(drop=True)


def write_unit_list(listing: pd.DataFrame, target, *, office: str, title: str | None = None) -> None:
    """Write a :func:`unit_list` as a spreadsheet (a path or a binary file): the headings in the first row and one
    row per unit, as an Excel table (filters; GDAL, pandas and other offices' programs read the columns by name),
    the code column as text (so Excel never turns a 28-character code into a number). The title — office and
    count — is the workbook's title and each printed page's header; pages print landscape, fitted to the width,
    the heading row on every page."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    wb = Workbook()
    ws = wb.active
    ws.title = f"{OFFICE_TITLES[office]}户清单"
    heading = title or f"不动产单元户清单（{OFFICE_TITLES[office]}）  共 {len(listing)} 户"
    wb.properties.title = heading
    for c, name in enumerate(listing.columns, start=1):
        ws.cell(1, c, name).font = Font(bold=True)
        ws.column_dimensions[get_column_letter(c)].width = max(10, min(32, 2 * len(name) + 4))
    ws.column_dimensions["A"].width = 32
    values = listing.astype(object).where(listing.notna(), None).to_numpy()
    for r, row in enumerate(values, start=2):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(r, c, value.item() if hasattr(value, "item") else value)
            if isinstance(value, str):
                cell.number_format = "@"
    if len(listing):
        table = Table(displayName="户清单", ref=f"A1:{get_column_letter(len(listing.columns))}{len(listing) + 1}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)
    ws.freeze_panes = "B2"
    ws.oddHeader.center.text = heading
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    wb.save(target)
