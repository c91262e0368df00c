"""Containers: a zip, a folder, a GeoPackage, a GeoJSON or a personal geodatabase, opened safely, with its layers
found by name — shapefiles, GeoPackage and File Geodatabase layers (``xxx.gdb/`` folders, at any depth), tables.

What a single file is comes from its content (zip, SQLite/GeoPackage, Access/personal geodatabase, JSON), not its
name: an upload kept under a checksum name reads as it would under its own, and every message names the file as the
surveyor called it (``name``). A zip is checked member by member **before** anything is extracted (absolute paths,
``..``, links, encryption, member count, total size, compression ratio, upload size) and again while streaming,
since sizes in a zip's directory can lie. Member names made on Chinese Windows arrive as GBK bytes without the UTF-8
flag and are decoded as such. Every refusal names the member, in Chinese.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

import pyogrio

from cadastre.core import settings
from cadastre.core.errors import InputError, UnsafeArchiveError
from cadastre.read import pgdb
from cadastre.read.layers import layer_specs
from cadastre.read.sheets import workbook_sheets

__all__ = ["Limits", "LayerSource", "Container", "open_container", "sniff"]

VECTOR_SUFFIXES = (".shp",)
TABLE_SUFFIXES = (".dbf", ".csv")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
STREAM_CHUNK = 1 << 20
MIN_RATIO_CHECK_BYTES = 1 << 20  # tiny members compress arbitrarily well; judge their ratio only in the total
#: what zipfile raises on damaged archives (headers, deflate streams, CRCs)
_CORRUPT = (zipfile.BadZipFile, EOFError, OSError, zlib.error, ValueError, struct.error)


@dataclass(frozen=True)
class Limits:
    """Upload limits (defaults: ``[package]`` of the rules file)."""

    max_upload_bytes: int = 1 << 30
    max_members: int = 10_000
    max_total_bytes: int = 2 << 30
    max_compression_ratio: float = 100.0

    @classmethod
    def from_tolerances(cls, tolerances_name: str = "default") -> Limits:
        section = settings.tolerances(tolerances_name).get("package", {})
        return cls(**{k: type(getattr(cls, k))(v) for k, v in section.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class LayerSource:
    """Where a layer was found: a shapefile set, a GeoPackage layer or an attribute table."""

    layer: str  # canonical code
    path: Path  # the .shp / .gpkg / .geojson / .gdb folder / .mdb / .dbf / .csv / workbook file
    kind: str  # shapefile | gpkg | geojson | filegdb | mdb | dbf | csv | workbook
    member: str  # path inside the container, as the surveyor named it
    sublayer: str | None = None  # the layer of a GeoPackage or geodatabase, or the workbook's sheet (None: all)

    @property
    def file_member(self) -> str:
        """The file's own member (``member`` less the ``:layer`` of a database layer or sheet)."""
        return self.member[:-len(self.sublayer) - 1] if self.sublayer is not None else self.member

    def sidecar(self, suffix: str) -> Path | None:
        """The file beside a shapefile with the same base name and ``suffix`` (any case), if present."""
        for candidate in self.path.parent.glob(f"{glob_escape(self.path.stem)}.*"):
            if candidate.suffix.lower() == suffix.lower() and candidate.stem == self.path.stem:
                return candidate
        return None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


@dataclass
class Container:
    """An opened package or reference-data upload; :attr:`root` is a folder holding its files."""

    source: Path
    root: Path
    kind: str  # zip | folder | gpkg | geojson | mdb
    files: list[str]  # relative POSIX paths of every regular file
    name: str = ""  # the container as the surveyor named it (an upload is kept under its checksum)
    _sublayers: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or self.source.name

    @cached_property
    def geodatabases(self) -> list[str]:
        """The File Geodatabase folders (``*.gdb``) among the files, at any depth."""
        found = {parent.as_posix() for m in self.files for parent in PurePosixPath(m).parents
                 if parent.suffix.lower() == ".gdb"}
        return sorted(found)

    def find(self, name: str) -> list[str]:
        """Members whose file name is ``name`` (case-insensitive), at any depth."""
        return [m for m in self.files if PurePosixPath(m).name.casefold() == name.casefold()]

    def find_layer(self, code: str) -> LayerSource | None:
        """The source of canonical layer ``code``, or None; two files claiming it is an :class:`InputError`."""
        spec = layer_specs()[code]
        vectors, tables = [], []
        for member in self.files:
            p = PurePosixPath(member)
            if p.stem.casefold() not in spec.names:
                continue
            suffix = p.suffix.lower()
            if suffix in VECTOR_SUFFIXES:
                vectors.append(LayerSource(code, self.root / member, "shapefile", member))
            elif suffix in TABLE_SUFFIXES:
                tables.append(LayerSource(code, self.root / member, suffix[1:], member))
        for kind in ("gpkg", "geojson", "mdb"):  # a GeoJSON's layer is its "name" member, else its file name
            for member in self.members_with_suffix(f".{kind}"):
                for name in self.sublayers(member):
                    if name.strip().casefold() in spec.names:
                        vectors.append(LayerSource(code, self.root / member, kind, f"{member}:{name}", name))
        for gdb in self.geodatabases:  # feature classes and tables of a File Geodatabase
            for name in self.sublayers(gdb):
                if name.strip().casefold() in spec.names:
                    vectors.append(LayerSource(code, self.root / gdb, "filegdb", f"{gdb}:{name}", name))
        every_layer = {n for other in layer_specs().values() for n in other.names}
        for workbook in (m for suffix in WORKBOOK_SUFFIXES for m in self.members_with_suffix(suffix)):
            sheets = self.sublayers(workbook)
            for name in sheets:
                if name.strip().casefold() in spec.names:
                    tables.append(LayerSource(code, self.root / workbook, "workbook", f"{workbook}:{name}", name))
            # a workbook named for the layer (户.xlsx, 房屋面积测算表.xls) whose sheets name no layer (1号楼, 2号楼 …):
            # its sheets together are the layer
            if PurePosixPath(workbook).stem.strip().casefold() in spec.names and not any(
                    n.strip().casefold() in every_layer for n in sheets):
                tables.append(LayerSource(code, self.root / workbook, "workbook", workbook))
        # a .dbf beside its own .shp belongs to that shapefile, not a separate table
        shp_stems = {(s.path.parent, s.path.stem.casefold()) for s in vectors if s.kind == "shapefile"}
        tables = [t for t in tables if (t.path.parent, t.path.stem.casefold()) not in shp_stems]
        found = vectors + tables
        if len(found) > 1:
            names = "、".join(s.member for s in found)
            raise InputError(f"多个文件都是图层 {code}（{spec.title}）：{names}",
                             f"several files claim layer {code}: {names}", layer=code)
        return found[0] if found else None

    def members_with_suffix(self, suffix: str) -> list[str]:
        inside_gdb = {f"{g}/" for g in self.geodatabases}
        return [m for m in self.files if m.lower().endswith(suffix) and not m.startswith(tuple(inside_gdb))]

    def sublayers(self, member: str) -> list[str]:
        """Layer names of a GeoPackage, GeoJSON or geodatabase, or sheet names of a workbook (cached)."""
        if member not in self._sublayers:
            path = self.root / member
            try:
                if member.lower().endswith(".mdb"):
                    self._sublayers[member] = pgdb.table_names(path, member)
                elif member.lower().endswith(WORKBOOK_SUFFIXES):
                    self._sublayers[member] = workbook_sheets(path)
                else:
                    self._sublayers[member] = [str(name) for name, _ in pyogrio.list_layers(path)]
            except Exception as e:  # corrupt workbook or GeoPackage: the library's own exception classes
                if member.lower().endswith(".geojson"):
                    # a GeoJSON is one layer: named by its file, it is a layer file only if that name is a layer's,
                    # and then reading it says what is wrong; any other unreadable .geojson is just another file
                    self._sublayers[member] = [PurePosixPath(member).stem]
                    return self._sublayers[member]
                raise InputError(f"无法读取 {member}：{e}", f"cannot read {member}: {e}", rule="PKG-002") from None
        return self._sublayers[member]


def _decode_member_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:  # the UTF-8 flag
        return info.filename
    raw = info.filename.encode("cp437")  # zipfile decoded the raw bytes as cp437; undo that
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


def _safe_member_path(name: str) -> PurePosixPath:
    normalised = name.replace("\\", "/")
    if "\x00" in normalised:
        raise UnsafeArchiveError(f"压缩包成员“{name}”的名称含有空字符", f"member {name!r} has a NUL in its name",
                                 member=name)
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        raise UnsafeArchiveError(f"压缩包成员“{name}”使用绝对路径，拒绝解压", f"member {name!r} has an absolute path",
                                 member=name)
    parts = [p for p in normalised.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"压缩包成员“{name}”含有“..”路径，拒绝解压", f"member {name!r} contains '..'",
                                 member=name)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _check_zip(zf: zipfile.ZipFile, limits: Limits) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeArchiveError(f"压缩包有 {len(infos)} 个成员，超过上限 {limits.max_members}",
                                 f"archive has {len(infos)} members, limit {limits.max_members}")
    members, total, compressed = [], 0, 0
    for info in infos:
        if not info.filename:
            raise InputError("压缩包中有名称为空的成员，压缩包已损坏", "archive has a member with an empty name")
        name = _decode_member_name(info)
        path = _safe_member_path(name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchiveError(f"压缩包成员“{name}”是符号链接，拒绝解压", f"member {name!r} is a link",
                                     member=name)
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(f"压缩包成员“{name}”已加密，无法读取", f"member {name!r} is encrypted",
                                     member=name)
        if info.is_dir():
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MIN_RATIO_CHECK_BYTES and ratio > limits.max_compression_ratio:
            raise UnsafeArchiveError(
                f"压缩包成员“{name}”压缩比 {ratio:.0f}:1 超过上限 {limits.max_compression_ratio:.0f}:1（疑似压缩炸弹）",
                f"member {name!r} compression ratio {ratio:.0f}:1 over {limits.max_compression_ratio:.0f}:1",
                member=name)
        total += info.file_size
        compressed += info.compress_size
        members.append((info, path))
    if total > limits.max_total_bytes:
        raise UnsafeArchiveError(f"压缩包解压后共 {total} 字节，超过上限 {limits.max_total_bytes} 字节",
                                 f"archive expands to {total} bytes, limit {limits.max_total_bytes}")
    if total > MIN_RATIO_CHECK_BYTES and total / max(compressed, 1) > limits.max_compression_ratio:
        raise UnsafeArchiveError(
            f"压缩包整体压缩比 {total / max(compressed, 1):.0f}:1 超过上限（疑似压缩炸弹）",
            f"archive compression ratio {total / max(compressed, 1):.0f}:1 over the limit")
    return members


def _extract(zf: zipfile.ZipFile, members, target: Path, limits: Limits) -> list[str]:
    written_total = 0
    files = []
    for info, path in members:
        destination = target.joinpath(*path.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with zf.open(info) as src, destination.open("wb") as out:
            while chunk := src.read(STREAM_CHUNK):
                written += len(chunk)
                written_total += len(chunk)
                if written > info.file_size or written_total > limits.max_total_bytes:
                    raise UnsafeArchiveError(f"压缩包成员“{path}”解压后超过其声明大小，拒绝解压",
                                             f"member {path} expands beyond its declared size", member=str(path))
                out.write(chunk)
        files.append(path.as_posix())
    return files


def _folder_files(root: Path) -> list[str]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                raise UnsafeArchiveError(f"文件夹中的“{rel}”是符号链接，拒绝读取", f"{rel} is a symbolic link",
                                         member=rel)
            files.append(rel)
    return sorted(files)


#: what a single file can be, by its first bytes
_MAGIC = ((b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"PK\x07\x08", "zip"), (b"SQLite format 3\x00", "gpkg"))


def sniff(path: Path) -> str | None:
    """What a file is from its content: ``zip``, ``gpkg`` (SQLite), ``mdb`` (an Access database: a personal
    geodatabase), ``geojson`` (JSON), or None."""
    with path.open("rb") as f:
        head = f.read(64)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[4:19] in (b"Standard Jet DB", b"Standard ACE DB"):
        return "mdb"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "geojson"
    return None


def _display_stem(name: str) -> str:
    """A file name's stem safe to use as a file name here (the surveyor's own name, for GDAL to open by)."""
    stem = PurePosixPath(name.replace("\\", "/")).stem
    return re.sub(r'[\x00-\x1f/:*?"<>|]', "_", stem).strip(". ") or "package"


@contextmanager
def open_container(path: str | os.PathLike, limits: Limits | None = None, *,
                   name: str | None = None) -> Iterator[Container]:
    """Open a zip, a folder (a ``.gdb`` folder included), a GeoPackage, a GeoJSON or a personal geodatabase for
    reading — a single file by its content, whatever its name — and give it as a :class:`Container`; a zip is
    extracted to a temporary folder that is removed on exit. ``name`` is the file as the surveyor named it, for
    every message (default: its own name)."""
    source = Path(path)
    name = name or source.name
    limits = limits or Limits.from_tolerances()
    if not source.exists():
        raise InputError(f"找不到文件或文件夹：{name}", f"no such file or folder: {name}")
    if source.is_dir():
        if source.suffix.lower() == ".gdb":  # a bare File Geodatabase: the folder itself is the layers' source
            files = [f"{source.name}/{f}" for f in _folder_files(source)]
            yield Container(source, source.parent, "folder", files, name)
        else:
            yield Container(source, source, "folder", _folder_files(source), name)
        return
    size = source.stat().st_size
    if size > limits.max_upload_bytes:
        raise UnsafeArchiveError(f"文件 {name} 大小 {size} 字节，超过上传上限 {limits.max_upload_bytes} 字节",
                                 f"{name} is {size} bytes, upload limit {limits.max_upload_bytes}")
    kind = sniff(source) or ("zip" if source.suffix.lower() == ".zip" or zipfile.is_zipfile(source) else None)
    if kind is None:
        raise InputError(f"无法识别的文件类型：{name}（应为 zip 压缩包、文件夹、GeoPackage、GeoJSON 或个人地理数据库 .mdb）",
                         f"unrecognised container {name} (expected a zip, folder, GeoPackage, GeoJSON or .mdb)")
    if kind in ("gpkg", "geojson", "mdb"):
        with tempfile.TemporaryDirectory(prefix="cadastre-pkg-") as tmp:
            # GDAL and the readers open the file by a name with its kind's suffix: the surveyor's name, linked
            member = f"{_display_stem(name)}.{kind}"
            (Path(tmp) / member).symlink_to(source.resolve())
            container = Container(source, Path(tmp), kind, [member], name)
            if kind != "geojson":  # a database that cannot list its layers is refused here, by the surveyor's name
                container.sublayers(member)
            yield container
        return
    with tempfile.TemporaryDirectory(prefix="cadastre-pkg-") as tmp:
        try:
            with zipfile.ZipFile(source) as zf:
                members = _check_zip(zf, limits)
                files = _extract(zf, members, Path(tmp), limits)
        except NotImplementedError as e:  # a compression method or zip version zipfile does not support
            raise InputError(f"压缩包 {name} 使用了不支持的压缩方式或版本：{e}",
                             f"{name} uses an unsupported compression method or version: {e}") from None
        except _CORRUPT as e:
            raise InputError(f"压缩包 {name} 已损坏，无法读取：{e}", f"{name} is not a valid zip: {e}") from None
        yield Container(source, Path(tmp), "zip", sorted(files), name)
