"""From a raw layer to its normalised form: canonical, typed columns, a ``feature`` key, geometry in the storage CRS.

Everything that cannot be read with certainty becomes a finding, as rows: unreadable numbers and missing required
values (ATT-002), null or empty geometries (GEO-002, including the row a truncated ``.shp`` yields), invalid ones
with the GEOS reason and a location (GEO-001), geometry of the wrong kind (GEO-006), dropped Z/M (GEO-005).
All work is on whole columns and geometry arrays.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.core.geometry import on_all_cores
from cadastre.read.crs import CRSDecision
from cadastre.read.layers import FieldSpec, LayerSpec
from cadastre.read.raw import RawLayer, to_storage
from cadastre.read.values import is_blank, to_code, to_float, to_int, to_text

__all__ = ["normalise_layer", "FEATURE", "ROW", "VALID"]

FEATURE = "feature"  # the feature's key in the surveyor's words: BSM, else the layer's natural key
ROW = "source_row"  # 0-based row of the feature in its file
VALID = "geometry_valid"  # the geometry is present, of the right kind and valid (else GEO-001/002/006 said why)
_GEOS_LOCATION = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\]")
_ZRZH_LONG = re.compile(r"^(\d{12}[A-Z]{2}\d{5})F(\d{4})$")
#: GEOS geometry type ids 0..7 → the names layers.toml uses (lower case)
_KIND_NAMES = np.array(["point", "linestring", "linearring", "polygon", "multipoint", "multilinestring",
                        "multipolygon", "geometrycollection"], dtype=object)
_KIND_IDS = {name: i for i, name in enumerate(_KIND_NAMES)}


def _typed(values: pd.Series, spec: FieldSpec) -> tuple[pd.Series, np.ndarray]:
    if spec.type == "float":
        return to_float(values)
    if spec.type == "int":
        return to_int(values)
    if spec.type == "code":
        return to_code(values), np.zeros(len(values), bool)
    return to_text(values), np.zeros(len(values), bool)


def _empty(spec: FieldSpec, n: int, index) -> pd.Series:
    if spec.type == "float":
        return pd.Series(np.full(n, np.nan), index=index)
    if spec.type == "int":
        return pd.Series(pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool)), index=index)  # all NA
    return _missing_text(n, index)


def _missing_text(n: int, index) -> pd.Series:
    return pd.Series(np.nan, index=index, dtype="str")


#: the ways a 幢号 is written: 1, 01, 0001, 1#, #1, 1#楼, 1号, 1号楼, 1栋, 1幢, 1座, 第1幢 (full-width digits folded)
_ZRZH_NUMBER = r"^(?:第|#)?\s*0*([0-9]{1,4})\s*(?:#楼|#|号楼|号|栋|幢|座|楼)?$"
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９＃", "0123456789#")


def _split_zrzh(columns: dict[str, pd.Series], layer: str) -> pd.DataFrame:
    """ZRZH as the 4-digit 幢号 (unit-code.md): the numeric forms surveyors write (``1``, ``01``, ``1#``, ``1号楼``,
    ``1栋`` …) become ``0001``; the 24-character form (宗地代码 + F + 幢号) gives ZDDM too. A 幢号 that is not a
    number (``A座``) stays as written: it is the building's label, and it gets the next free 幢号 when coded. Both
    are said (ATT-012), once per form."""
    zrzh = columns.get("ZRZH")
    if zrzh is None:
        return fnd.concat([])
    written = zrzh.astype("str").str.strip()
    # the common case — already 4 digits — decided in Arrow over the whole column; the rest, usually nothing, row by
    # row: full-width digits folded, the 24-character form split, the other forms read by a Python regex
    # each pattern tried only on values of its length (a regular expression over 500 000 values is 0.05–0.14 s)
    length = written.str.len().fillna(0).to_numpy(np.int64)
    standard, is_long = np.zeros(len(written), bool), np.zeros(len(written), bool)
    for mask, pattern, size in ((standard, r"[0-9]{4}", 4), (is_long, _ZRZH_LONG.pattern, 24)):
        rows = np.flatnonzero(length == size)
        mask[rows] = written.iloc[rows].str.fullmatch(pattern, na=False).to_numpy(bool)
    other = np.flatnonzero(~standard & ~is_long & written.notna().to_numpy(bool))
    folded = written.iloc[other]
    wide = folded.str.contains(r"[０-９＃]", regex=True, na=False).to_numpy(bool)
    if wide.any():
        folded = folded.copy()
        folded[wide] = folded[wide].str.translate(_FULL_WIDTH_DIGITS)
    now_standard = folded.str.fullmatch(r"[0-9]{4}", na=False).to_numpy(bool)
    standard[other[now_standard]] = True
    rest = ~now_standard
    number = folded[rest].str.extract(_ZRZH_NUMBER, expand=False)
    numeric_rest = (number.notna() & number.fillna("0").astype("int64").gt(0)).to_numpy(bool)
    out = written.copy()
    if is_long.any():  # the 24-character form: 宗地代码 + F + 幢号 (masked in Arrow: assigning rows is twice as slow)
        out = written.mask(is_long, written.str.slice(20, 24))
    if len(other):
        out.iloc[other] = folded.to_numpy()
        out.iloc[other[rest][numeric_rest]] = number[numeric_rest].str.zfill(4).to_numpy()
    columns["ZRZH"] = out
    if "ZDDM" in columns and is_long.any():
        zddm = columns["ZDDM"].astype("str")
        columns["ZDDM"] = zddm.mask(is_long & zddm.isna().to_numpy(bool), written.str.slice(0, 19))
    zero = standard & out.eq("0000").to_numpy(bool)  # 0000 is no 幢号: a label
    changed = np.zeros(len(written), bool)  # numbers written another way than 4 digits
    changed[other[now_standard]] = True
    changed[other[rest][numeric_rest]] = True
    label = zero.copy()
    label[other[rest][~numeric_rest]] = True
    label &= out.ne("").to_numpy(bool)
    forms = pd.DataFrame({"written": written[changed], "number": out[changed]}).drop_duplicates("written")
    labels = pd.unique(out[label])
    parts = []
    if len(forms):
        shown = "、".join(f"{w} → {n}" for w, n in zip(forms["written"][:8], forms["number"][:8], strict=True))
        more = f" 等 {len(forms)} 种写法" if len(forms) > 8 else ""
        parts.append(fnd.of_rule("ATT-012", layer, [None],
                                 [f"{layer} 的自然幢号已规范为 4 位幢号：{shown}{more}"]))
    if len(labels) and layer == "ZRZ":  # said once, for the buildings themselves
        parts.append(fnd.of_rule("ATT-012", layer, list(labels),
                                 [f"自然幢号“{w}”不是 0001–9999 的数字幢号：保留为该幢的名称，入库编码时取本宗地下一个空闲幢号"
                                  for w in labels]))
    return fnd.concat(parts)


def _feature_keys(columns: dict[str, pd.Series], spec: LayerSpec, n: int, index) -> pd.Series:
    """BSM where there is one, else the natural key (``0001/5/2-1-501``), else the row (``第12行``)."""
    bsm = columns.get("BSM")
    if bsm is not None and bsm.notna().all():  # the usual case: the natural keys would not be used
        return bsm.astype("str")
    keys = _missing_text(n, index)
    natural = None
    for name in spec.key:
        part = columns[name].astype("str")
        natural = part if natural is None else natural + "/" + part
    if natural is not None:
        keys = natural
    bsm = columns.get("BSM")
    if bsm is not None:
        keys = bsm.astype("str").where(bsm.notna().to_numpy(bool), keys)
    missing = np.flatnonzero(keys.isna().to_numpy(bool))
    if len(missing):
        keys = keys.copy()
        keys.iloc[missing] = [f"第{i + 1}行" for i in missing]
    return keys


def _attribute_findings(layer: str, spec: LayerSpec, raw: RawLayer, stage: str | None,
                        columns: dict[str, pd.Series], bad: dict[str, np.ndarray], features: pd.Series,
                        geometry: np.ndarray | None, storage_epsg: int) -> list[pd.DataFrame]:
    def lonlat(idx: np.ndarray) -> np.ndarray | None:
        return None if geometry is None else fnd.lonlat_points(geometry[idx], storage_epsg)

    out = []
    renamed = {canonical: original for canonical, original in raw.info.fields.items()}
    missing = [f for name, f in spec.fields.items() if f.required_in(stage) and name not in renamed]
    if missing:
        names = "、".join(f"{f.name}（{f.title}）" for f in missing)
        out.append(fnd.of_rule("ATT-002", layer, [None], [f"图层 {layer}（{raw.info.member}）缺少必填字段 {names}"]))
    for name, mask in bad.items():
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        f = spec.fields[name]
        original = raw.frame[renamed[name]].to_numpy(dtype=object)[idx]
        kind = "整数" if f.type == "int" else "数字"
        messages = [f"{layer} {features.iat[i]} 的 {f.name}（{f.title}）值“{v}”无法识别为{kind}"
                    for i, v in zip(idx, original, strict=True)]
        out.append(fnd.of_rule("ATT-002", layer, features.iloc[idx].to_numpy(), messages,
                               lonlat=lonlat(idx), figures=[{"field": name}] * len(idx)))
    for name, f in spec.fields.items():
        if not f.required_in(stage) or name not in renamed:
            continue
        blank = is_blank(columns[name]) & ~bad.get(name, np.zeros(len(features), bool))
        idx = np.flatnonzero(blank)
        if len(idx):
            messages = [f"{layer} {features.iat[i]} 缺少必填属性 {f.name}（{f.title}）" for i in idx]
            out.append(fnd.of_rule("ATT-002", layer, features.iloc[idx].to_numpy(), messages,
                                   lonlat=lonlat(idx), figures=[{"field": name}] * len(idx)))
    return out


def _geometry(raw: RawLayer, spec: LayerSpec, crs: CRSDecision | None, storage_epsg: int,
              features: pd.Series) -> tuple[np.ndarray | None, np.ndarray, list[pd.DataFrame]]:
    layer = spec.code
    out = []
    none_valid = np.zeros(len(raw.frame), bool)
    if not raw.has_geometry:
        return None, none_valid, out
    storage = np.asarray(to_storage(raw, crs, storage_epsg).values, dtype=object)
    n = len(storage)
    missing = shapely.is_missing(storage) | shapely.is_empty(storage)
    if spec.geometry_optional and missing.all():
        return None, none_valid, out  # an attribute table that happens to come as a shapefile of null shapes
    if raw.info.dropped_z:
        out.append(fnd.of_rule("GEO-005", layer, [None], [f"图层 {layer}（{raw.info.member}）含 Z/M 值，已去除"]))
    idx = np.flatnonzero(missing)
    out.append(fnd.of_rule("GEO-002", layer, features.iloc[idx].to_numpy(),
                           [f"{layer} {features.iat[i]} 的几何图形为空" for i in idx]))
    accepted = [_KIND_IDS[g.lower()] for g in spec.geometry if g != "none"]
    type_ids = shapely.get_type_id(storage)
    wrong = ~missing & ~np.isin(type_ids, accepted)
    idx = np.flatnonzero(wrong)
    out.append(fnd.of_rule(
        "GEO-006", layer, features.iloc[idx].to_numpy(),
        [f"{layer} {features.iat[i]} 的几何类型为 {_KIND_NAMES[type_ids[i]]}，该图层应为 {'/'.join(spec.geometry)}"
         for i in idx], lonlat=fnd.lonlat_points(storage[idx], storage_epsg)))
    present = ~missing & ~wrong
    valid = np.zeros(n, bool)
    valid[present] = on_all_cores(shapely.is_valid, storage[present])
    idx = np.flatnonzero(present & ~valid)
    if len(idx):
        reasons = shapely.is_valid_reason(storage[idx])
        xy = np.array([_reason_point(r, g) for r, g in zip(reasons, storage[idx], strict=True)], dtype=float)
        out.append(fnd.of_rule("GEO-001", layer, features.iloc[idx].to_numpy(),
                               [f"{layer} {features.iat[i]} 几何图形无效：{_reason_zh(r)}" for i, r in
                                zip(idx, reasons, strict=True)],
                               lonlat=fnd.lonlat(xy, storage_epsg), figures=[{"geos": r} for r in reasons]))
    storage[missing] = None
    return storage, valid, out


def _reason_point(reason: str, geometry) -> tuple[float, float]:
    """Where GEOS says the problem is, else the geometry's first vertex."""
    match = _GEOS_LOCATION.search(reason)
    if match:
        return float(match.group(1)), float(match.group(2))
    coordinates = shapely.get_coordinates(geometry)
    return (coordinates[0, 0], coordinates[0, 1]) if len(coordinates) else (np.nan, np.nan)


_REASONS_ZH = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points in geometry component": "节点过少",
    "Interior is disconnected": "内部不连通",
    "Hole lies outside shell": "洞位于外环之外",
    "Nested holes": "洞相互嵌套",
    "Nested shells": "外环相互嵌套",
    "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


def _reason_zh(reason: str) -> str:
    head = reason.split("[", 1)[0].strip()
    return f"{_REASONS_ZH.get(head, head)}（{reason}）"


def normalise_layer(raw: RawLayer, spec: LayerSpec, stage: str | None, crs: CRSDecision | None,
                    storage_epsg: int) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The normalised layer and the findings of reading it."""
    frame = raw.frame
    n, index = len(frame), pd.RangeIndex(len(frame))
    columns: dict[str, pd.Series] = {}
    bad: dict[str, np.ndarray] = {}
    empty: dict[str, pd.Series] = {}  # one all-missing column per type, shared by the fields the file lacks
    for name, field_spec in spec.fields.items():
        original = raw.info.fields.get(name)
        if original is None:
            kind = field_spec.type if field_spec.type in ("float", "int") else "text"
            if kind not in empty:
                empty[kind] = _empty(field_spec, n, index)
            columns[name] = empty[kind]
            continue
        values, unreadable = _typed(frame[original].reset_index(drop=True), field_spec)
        columns[name] = values.set_axis(index)
        bad[name] = unreadable
    numbering = _split_zrzh(columns, spec.code)
    features = _feature_keys(columns, spec, n, index)
    geometry, valid, geometry_findings = _geometry(raw, spec, crs, storage_epsg, features)
    attribute_findings = _attribute_findings(spec.code, spec, raw, stage, columns, bad, features, geometry,
                                             storage_epsg)
    data = pd.DataFrame({FEATURE: features, ROW: np.arange(n), **columns, VALID: valid}, index=index)
    out = gpd.GeoDataFrame(data, geometry=geometry if geometry is not None else [None] * n, crs=storage_epsg)
    return out, fnd.concat(geometry_findings + attribute_findings + [numbering])
