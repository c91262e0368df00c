"""Reading a survey package (成果包) into one normalised model: the input of every later step.

:func:`read_package` opens the container safely, reads ``manifest.json`` and ``permit.json``, finds each canonical
layer, decodes it (encoding decided per file), decides the county, the stage and each layer's CRS, and normalises
every layer into the storage CRS with canonical, typed columns. What it cannot read with certainty becomes a
finding; what makes the whole package unreadable (an unsafe or broken archive, an unknown stage or county) raises
:class:`PackageRefused`.

Example::

    pkg = read_package("data/samples/141031-cadastral.zip")
    pkg.stage, len(pkg.layers["ZDJBXX"])      # ('cadastral', 6)
    pkg.raw["ZDJBXX"].info.encoding            # how the .dbf text was decoded, and why
"""

from __future__ import annotations

import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import pandas as pd

from cadastre.core import collector, settings
from cadastre.core import findings as fnd
from cadastre.core.errors import ConfigError, InputError
from cadastre.core.files import sha256_of
from cadastre.core.permit import Permit, parse_permit
from cadastre.core.settings import County
from cadastre.read.container import Container, LayerSource, Limits, open_container
from cadastre.read.crs import CRSDecision
from cadastre.read.layers import SURVEY_STAGES, layer_specs, stages
from cadastre.read.normalise import normalise_layer
from cadastre.read.raw import RawLayer, decide_layer_crs, load_layer
from cadastre.read.structure import Structure, package_structure

__all__ = ["Manifest", "PackageFile", "SurveyPackage", "PackageRefused", "read_package", "PACKAGE_LAYERS"]

#: canonical layers a survey package may carry, in the order they are read and reported
PACKAGE_LAYERS = ("ZDJBXX", "JZD", "JZX", "ZRZ", "LJZ", "C", "H", "LD", "TCW", "GHHX", "DYDM")
_MANIFEST_KEYS = ("county_code", "stage", "project_name", "surveyor", "survey_date", "crs", "parcel_code",
                  "permit_number")


class PackageRefused(InputError):
    """The package as a whole cannot be read: nothing in it is checked."""

    kind = "refused"


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``; every field None when the package has none."""

    county_code: str | None = None
    stage: str | None = None
    project_name: str | None = None
    surveyor: str | None = None
    survey_date: str | None = None
    crs: str | None = None
    parcel_code: str | None = None
    permit_number: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    member: str | None = None  # where it was found

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _MANIFEST_KEYS if getattr(self, k) is not None}
        return {**out, **self.extra}


@dataclass(frozen=True)
class PackageFile:
    member: str
    size: int
    role: str  # layer | manifest | permit | other
    layer: str | None = None


@dataclass
class SurveyPackage:
    """One package, read and normalised. ``layers`` hold canonical, typed columns in the storage CRS (plus
    ``feature`` and ``source_row``); ``raw`` holds what was in the files and how it was decoded."""

    source: Path
    sha256: str
    size: int
    stage: str
    county: County
    storage_epsg: int
    manifest: Manifest
    permit: Permit | None
    files: list[PackageFile]
    raw: dict[str, RawLayer]
    layers: dict[str, gpd.GeoDataFrame]
    findings: pd.DataFrame
    inferred: dict[str, str] = field(default_factory=dict)  # what was inferred → how (Chinese)
    name: str = ""  # the package as the surveyor named it (an upload is kept under its checksum)

    def __post_init__(self) -> None:
        self.name = self.name or self.source.name

    @property
    def crs(self) -> CRSDecision | None:
        """The CRS most of the package's vector layers were read in."""
        decisions = [r.info.crs for r in self.raw.values() if r.info.crs is not None]
        if not decisions:
            return None
        epsg = Counter(d.epsg for d in decisions).most_common(1)[0][0]
        return next(d for d in decisions if d.epsg == epsg)

    def layer(self, code: str) -> gpd.GeoDataFrame | None:
        return self.layers.get(code)

    @cached_property
    def structure(self) -> Structure:
        """Which building, floor(s) and unit each row is (:mod:`cadastre.read.structure`), computed once."""
        return package_structure(self.layers)


def _refuse(zh: str, en: str, **details) -> PackageRefused:
    return PackageRefused(zh, en, **details)


def _read_json(container: Container, name: str) -> tuple[str | None, Any]:
    found = container.find(name)
    if not found:
        return None, None
    if len(found) > 1:
        raise _refuse(f"成果包中有多个 {name}：{'、'.join(found)}", f"several {name} files: {found}")
    member = found[0]
    try:
        return member, json.loads((container.root / member).read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError(f"{member} 不是 UTF-8 编码", f"{member} is not UTF-8", file=member) from None
    except json.JSONDecodeError as e:
        raise InputError(f"{member} 不是有效的 JSON（第 {e.lineno} 行第 {e.colno} 列：{e.msg}）",
                         f"{member} is not valid JSON (line {e.lineno} column {e.colno}: {e.msg})",
                         file=member) from None


def _manifest(container: Container, stage: str | None) -> Manifest:
    try:
        member, data = _read_json(container, "manifest.json")
    except PackageRefused:
        raise
    except InputError as e:
        raise _refuse(e.message_zh, e.message_en) from None
    if member is None:
        return Manifest()
    if not isinstance(data, dict):
        raise _refuse(f"{member} 应为 JSON 对象", f"{member} must be a JSON object")
    values = {k: (None if data.get(k) in (None, "") else str(data[k]).strip()) for k in _MANIFEST_KEYS}
    if stage is not None:  # read as the caller says (the county's existing registry)
        values["stage"] = stage
    elif values["stage"] == "baseline":
        raise _refuse(f"{member} 中的 stage 为 baseline：这是县里的存量数据，请用 cadastre baseline import 导入，"
                      "不能作为测绘成果包提交", f"{member}: a baseline (existing registry) is imported with "
                      "`cadastre baseline import`, not submitted as a package")
    elif values["stage"] is not None and values["stage"] not in SURVEY_STAGES:
        raise _refuse(f"{member} 中的 stage“{values['stage']}”无效（应为 cadastral、presale 或 asbuilt）",
                      f"{member}: invalid stage {values['stage']!r}")
    return Manifest(**values, extra={k: v for k, v in data.items() if k not in _MANIFEST_KEYS}, member=member)


def _codes_county(raw: dict[str, RawLayer]) -> str | None:
    """The county named by the codes in the data (ZDDM, BDCDYH …), when they agree."""
    counts: Counter[str] = Counter()
    for layer in raw.values():
        for name in ("ZDDM", "ZDZHDM", "BDCDYH"):
            original = layer.info.fields.get(name)
            if original is not None:
                codes = layer.frame[original].dropna().astype(str).str.strip()
                counts.update(codes[codes.str.fullmatch(r"\d{6}.*")].str[:6])
    known = [(code, n) for code, n in counts.most_common() if code in settings.counties()]
    return known[0][0] if known else None


def _infer_stage(raw: dict[str, RawLayer]) -> tuple[str | None, str]:
    if "ZRZ" in raw or "H" in raw:
        for layer in ("ZRZ", "H"):
            if layer in raw and any(
                    name in raw[layer].info.fields and raw[layer].frame[raw[layer].info.fields[name]].notna().any()
                    for name in ("SCJZMJ", "SCTNJZMJ")):
                return "asbuilt", f"图层 {layer} 含实测面积（SC*），按实测绘处理"
        return "presale", "自然幢/户只有预测面积（YC*），按预测绘处理"
    if "ZDJBXX" in raw:
        return "cadastral", "含宗地图层而无自然幢图层，按权籍调查处理"
    return None, ""


def _has_layer(container: Container, code: str) -> bool:
    try:
        return container.find_layer(code) is not None
    except InputError:  # two files claim it: it is there
        return True


def _layer_failure(code: str, error: InputError) -> pd.DataFrame:
    rule = error.details.get("rule") or "PKG-002"
    return fnd.of_rule(rule, code, [None], [error.message_zh])


@collector.paused()
def read_package(path: str | os.PathLike, *, county: str | None = None, storage_epsg: int | None = None,
                 limits: Limits | None = None, name: str | None = None, stage: str | None = None) -> SurveyPackage:
    """Read a survey package (a zip, a folder, a ``.gdb`` folder, a GeoPackage, a GeoJSON or a personal
    geodatabase — a single file by its content) into a :class:`SurveyPackage`.

    ``county`` is used when the manifest names none (then the codes in the data decide); ``storage_epsg`` defaults
    to the county's storage CRS; ``name`` is the package as the surveyor named it (an upload kept under its
    checksum), for every message and the report. Nothing is stored.
    """
    source = Path(path)
    name = name or source.name
    preset = settings.county(county) if county else None
    limits = limits or Limits.from_tolerances(preset.tolerances_name if preset else "default")
    if not source.exists():
        raise _refuse(f"找不到文件或文件夹：{name}", f"no such file or folder: {name}")
    # the checksum is computed in a thread of its own while the layers are read: hashing and GDAL's reading both let
    # go of the GIL, so on a county package its 0.4 s vanish from the wall time. A thread per call, not a shared
    # pool: a pool's idle thread does not survive a fork, and work queued to it in the child would never run
    checksum = ThreadPoolExecutor(1, thread_name_prefix="cadastre-checksum")
    sha256 = checksum.submit(sha256_of, source)
    checksum.shutdown(wait=False)  # the thread ends when the checksum is done
    size = source.stat().st_size if source.is_file() else sum(
        p.stat().st_size for p in source.rglob("*") if p.is_file())
    parts: list[pd.DataFrame] = []
    inferred: dict[str, str] = {}
    with open_container(source, limits, name=name) as container:
        manifest = _manifest(container, stage)
        permit = None
        try:
            member, data = _read_json(container, "permit.json")
            if member is not None:
                permit = parse_permit(data, member)
        except PackageRefused:
            raise
        except InputError as e:
            parts.append(fnd.of_rule("PKG-007", "package", ["permit.json"], [e.message_zh]))
        raw: dict[str, RawLayer] = {}
        roles: dict[str, tuple[str, str | None]] = {}
        present: set[str] = set()  # layers the package carries, read or not
        found: dict[str, LayerSource | InputError] = {}
        for code in PACKAGE_LAYERS:
            try:
                layer_source = container.find_layer(code)
            except InputError as e:
                layer_source = e
            if layer_source is not None:
                found[code] = layer_source
        # two layers read at a time, the largest files first: GDAL decodes a file with the GIL released, so a
        # county's units load beside its parcels and boundary points (each layer its own file or GDAL dataset).
        # A pool per call, as for the checksum
        sources = sorted((s for s in found.values() if isinstance(s, LayerSource)), key=_source_bytes, reverse=True)
        with ThreadPoolExecutor(2, thread_name_prefix="cadastre-read") as pool:
            loading = {s.layer: pool.submit(load_layer, s) for s in sources}
        for code, layer_source in found.items():  # findings and roles in the layers' order, as before
            present.add(code)
            try:
                if isinstance(layer_source, InputError):  # two files claiming the layer: nothing was loaded
                    parts.append(_layer_failure(code, layer_source))
                    continue
                raw[code] = loading[code].result()
            except InputError as e:
                parts.append(_layer_failure(code, e))
                continue
            roles[layer_source.member.split(":", 1)[0]] = ("layer", code)
        files = _files(container, manifest, roles)
        zoning = [code for code in ("DJQ", "DJZQ") if _has_layer(container, code)]
    if zoning and manifest.stage is None and not present & {"ZDJBXX", "ZRZ", "H"}:
        raise _refuse(f"这是地籍区划数据（{'、'.join(zoning)}），不是测绘成果包：地籍区划由管理员用 "
                      "cadastre zones import 导入", "zoning data (DJQ/DJZQ), not a survey package: use "
                      "`cadastre zones import`")
    county_obj = _decide_county(manifest, preset, raw, inferred)
    storage_epsg = storage_epsg or county_obj.storage_epsg
    stage = manifest.stage
    if stage is None:
        stage, how = _infer_stage(raw)
        if stage is None:
            raise _refuse("成果包没有 manifest.json，且无法从图层判断测绘阶段（未找到宗地或自然幢图层）",
                          "no manifest.json and no layer to infer the stage from")
        inferred["stage"] = how
    layers: dict[str, gpd.GeoDataFrame] = {}
    for code, layer in list(raw.items()):
        spec = layer_specs()[code]
        crs = None
        if layer.has_geometry:
            try:
                crs = decide_layer_crs(layer, county_obj, manifest.crs)
            except InputError as e:
                parts.append(_layer_failure(code, e))
                del raw[code]
                continue
            layer.info = replace(layer.info, crs=crs)
        frame, found = normalise_layer(layer, spec, stage, crs, storage_epsg)
        layers[code] = frame
        parts.append(found)
    parts.append(_decision_findings(raw, inferred))
    required = [code for code in stages()[stage].required if code not in present]
    parts.append(fnd.of_rule("PKG-001", "package", required,
                             [f"{stages()[stage].title}成果包缺少必需的图层 {code}（{layer_specs()[code].title}）"
                              for code in required]))
    return SurveyPackage(source, sha256.result(), size, stage, county_obj, storage_epsg, manifest, permit, files, raw,
                         layers, fnd.concat(parts), inferred, name)


def _source_bytes(source: LayerSource) -> int:
    """The size of a layer's own files (a shapefile's .shp and .dbf; 0 for a layer inside a database)."""
    if source.kind == "shapefile":
        return sum(p.stat().st_size for p in (source.path, source.sidecar(".dbf")) if p is not None and p.exists())
    return source.path.stat().st_size if source.sublayer is None and source.path.is_file() else 0


def _decide_county(manifest: Manifest, preset: County | None, raw: dict[str, RawLayer],
                   inferred: dict[str, str]) -> County:
    if manifest.county_code:
        try:
            return settings.county(manifest.county_code)
        except ConfigError as e:
            raise _refuse(f"manifest.json 中的 county_code 无法使用：{e.message_zh}",
                          f"manifest county_code: {e.message_en}") from None
    if preset is not None:
        inferred["county"] = f"manifest.json 未给出县，使用配置的县 {preset.name}（{preset.code}）"
        return preset
    code = _codes_county(raw)
    if code is None:
        raise _refuse("无法确定成果包所属的县：manifest.json 未给出 county_code，数据中也没有可识别的宗地代码；"
                      "请在 manifest.json 中填写 county_code 或使用 --county 指定",
                      "cannot decide the county: give county_code in manifest.json or --county")
    inferred["county"] = f"由数据中的宗地代码推断为 {settings.county(code).name}（{code}）"
    return settings.county(code)


def _decision_findings(raw: dict[str, RawLayer], inferred: dict[str, str]) -> pd.DataFrame:
    """PKG-005 for what was inferred rather than declared; PKG-006 for declarations (encoding, a zone prefix) the
    content contradicted and that were read as the content says; PKG-010 for spreadsheets that were not plain tables
    (titles above the header, rows skipped)."""
    features, messages, warn_features, warnings = [], [], [], []
    for key, how in inferred.items():
        features.append(key)
        messages.append(how)
    for layer in raw.values():
        info = layer.info
        if info.encoding is not None:
            if info.encoding.warning:
                warn_features.append(info.text_member)
                warnings.append(info.encoding.warning)
            elif info.encoding.how == "inferred":
                features.append(info.text_member)
                messages.append(f"{info.text_member} 未声明编码，按内容判断为 {info.encoding.encoding}")
        if info.crs is not None and info.crs.warning:
            warn_features.append(info.member)
            warnings.append(info.crs.warning)
        if info.null_shapes:
            features.append(info.member)
            messages.append(f"{info.member} 的图形全部为空，按属性表读取（不判断坐标系）")
        if info.crs is not None and info.crs.inferred:
            features.append(info.member)
            messages.append(f"{info.member} 未声明坐标系，{info.crs.detail}（EPSG:{info.crs.epsg}）")
    laid_out = [(layer.info.member, sheet.message) for layer in raw.values() for sheet in layer.info.sheets
                if sheet.message]
    return fnd.concat([fnd.of_rule("PKG-005", "package", features, messages),
                       fnd.of_rule("PKG-006", "package", warn_features, warnings),
                       fnd.of_rule("PKG-010", "package", [m for m, _ in laid_out], [s for _, s in laid_out])])


def _files(container: Container, manifest: Manifest, layers: dict[str, tuple[str, str | None]]) -> list[PackageFile]:
    """Every file of the package with its role; a shapefile's sidecars belong to its layer."""
    stems = {}
    for member, (_role, code) in layers.items():
        p = PurePosixPath(member)
        stems[(str(p.parent), p.stem.casefold())] = code
    folders = tuple(f"{m}/" for m in layers if (container.root / m).is_dir())  # File Geodatabases
    out = []
    for member in container.files:
        p = PurePosixPath(member)
        size = (container.root / member).stat().st_size
        code = stems.get((str(p.parent), p.stem.casefold()))
        if member.startswith(folders):
            out.append(PackageFile(member, size, "layer", None))
        elif member in layers or code is not None:
            out.append(PackageFile(member, size, "layer", code or layers[member][1]))
        elif member == manifest.member:
            out.append(PackageFile(member, size, "manifest"))
        elif p.name.casefold() == "permit.json":
            out.append(PackageFile(member, size, "permit"))
        else:
            out.append(PackageFile(member, size, "other"))
    return out
