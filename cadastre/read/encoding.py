"""Deciding the text encoding of a ``.dbf`` (and ``.csv``), in the order survey-package.md gives.

1. a ``.cpg`` decides (names normalised: 936 / CP936 / GBK / GB2312 / ANSI 936 → GB18030; UTF-8 / 65001 → UTF-8);
2. else the DBF header's language-driver byte (LDID), when it names a code page;
3. else strict UTF-8 over all text, then GB18030; text that decodes only to Latin letters is refused.

Whatever is declared, the bytes are checked: a declaration they contradict (a ``.cpg`` saying UTF-8 over GBK data)
is overridden by what decodes cleanly, and the decision carries a warning. GB2312 and GBK are read as GB18030, a
superset that decodes them identically (and keeps ``·`` as ``·``).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from cadastre.core.errors import InputError

__all__ = ["EncodingDecision", "decide_dbf_encoding", "decide_text_encoding", "normalise_codepage",
           "with_whole_field_names"]

UTF8, GB18030 = "UTF-8", "GB18030"

_CPG_NAMES = {
    "936": GB18030, "cp936": GB18030, "gbk": GB18030, "gb2312": GB18030, "ansi936": GB18030, "gb18030": GB18030,
    "ms936": GB18030, "windows936": GB18030,
    "utf8": UTF8, "65001": UTF8, "cp65001": UTF8,
}
# DBF language driver ids that name a code page (after the xBase / ESRI tables)
_LDID = {0x4D: GB18030, 0x7A: GB18030, 0x01: "CP437", 0x02: "CP850", 0x03: "CP1252", 0x57: "CP1252",
         0x58: "CP1252", 0x59: "CP1252", 0x64: "CP852", 0xC8: "CP1250", 0xC9: "CP1251"}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_LATIN_HIGH = re.compile(r"[\u00c0-\u00ff]")


@dataclass(frozen=True)
class EncodingDecision:
    """The encoding a file is read with and how it was decided (for the report)."""

    encoding: str
    how: str  # cpg | ldid | inferred | ascii
    declared: str | None = None
    warning: str | None = None  # Chinese, when the declaration was contradicted by the bytes

    @property
    def inferred(self) -> bool:
        return self.how in ("inferred", "ascii")


def normalise_codepage(name: str) -> str | None:
    """A ``.cpg`` content → UTF-8, GB18030, or another Python codec name; None when unrecognised."""
    key = re.sub(r"[\s_\-]", "", name.strip().lower())
    if key in _CPG_NAMES:
        return _CPG_NAMES[key]
    if key.startswith("ansi") and key[4:] in _CPG_NAMES:
        return _CPG_NAMES[key[4:]]
    if re.fullmatch(r"(cp|windows)?125\d", key):
        return "CP" + key[-4:]
    if key in ("iso88591", "latin1"):
        return "ISO-8859-1"
    return None


def _whole_characters(name: bytes) -> bytes:
    """A field name cut to its 11 bytes by a writer that counted bytes, not characters, less the broken last
    character (at most 3 bytes of UTF-8, 1 of GBK) — what remains tells the encoding as well as the whole name."""
    for encoding, longest in ((UTF8, 3), (GB18030, 1)):  # UTF-8 first: GBK bytes are rarely valid UTF-8
        for cut in range(longest + 1):
            if _decodes([name[:len(name) - cut]], encoding):
                return name[:len(name) - cut]
    return name


def dbf_text_values(path: Path) -> list[bytes]:
    """The raw text of a DBF that is not plain ASCII: the field names in its header (a GBK file whose Chinese is
    only in its field names is still GBK), then per character field the rows holding non-ASCII bytes, one after
    another (fixed width, so each row's padding keeps values apart). Decoding these few blobs tells the encoding;
    there is no per-row Python loop."""
    data = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
    if len(data) < 32:
        raise InputError(f"{path.name} 不是有效的 DBF 文件（文件过短）", f"{path.name} is not a DBF (too short)",
                         file=path.name)
    n_records = int.from_bytes(data[4:8].tobytes(), "little")
    header_len = int.from_bytes(data[8:10].tobytes(), "little")
    record_len = int.from_bytes(data[10:12].tobytes(), "little")
    fields, names, offset, pos = [], [], 1, 32  # each record starts with the deletion flag byte
    while pos + 32 <= min(header_len, len(data)) and int(data[pos]) != 0x0D:
        kind, length = chr(int(data[pos + 11])), int(data[pos + 16])
        name = data[pos:pos + 11].tobytes().split(b"\x00", 1)[0]
        if any(b >= 0x80 for b in name):
            names.append(_whole_characters(name))
        if kind == "C":
            fields.append((offset, length))
        offset += length
        pos += 32
    available = max(0, (len(data) - header_len) // max(record_len, 1))
    n = min(n_records, available)
    if n == 0 or not fields:
        return names
    records = data[header_len:header_len + n * record_len]
    values = names
    if int(records.max()) < 0x80:  # all ASCII, as most layers' records are: one pass over the bytes, no field loop
        return values
    records = records.reshape(n, record_len)
    for start, length in fields:
        block = records[:, start:start + length]
        rows = (block >= 0x80).any(axis=1)
        if rows.any():
            # a space between rows, so a multi-byte character is never read across two values
            spaced = np.full((int(rows.sum()), length + 1), 0x20, np.uint8)
            spaced[:, :length] = block[rows]
            values.append(spaced.tobytes())
    return values


def _decodes(values: list[bytes], encoding: str) -> bool:
    try:
        for v in values:
            v.decode(encoding, errors="strict")
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _looks_chinese(values: list[bytes], encoding: str) -> bool:
    text = "".join(v[:20_000].decode(encoding, errors="replace") for v in values)
    return bool(_CJK.search(text)) and not _LATIN_HIGH.search(text)


def decide_text_encoding(values: list[bytes], declared: str | None, how_declared: str, file: str) -> EncodingDecision:
    """Decide the encoding of ``values`` (the non-ASCII raw text of a file) given its declaration, if any."""
    if not values:  # pure ASCII: any declaration reads it the same
        return EncodingDecision(declared or UTF8, how_declared if declared else "ascii", declared)
    # What the bytes themselves say. CJK text in GBK is practically never valid UTF-8, so UTF-8 is tried first.
    if _decodes(values, UTF8):
        actual = UTF8
    elif _decodes(values, GB18030) and _looks_chinese(values, GB18030):
        actual = GB18030
    else:
        actual = None
    if declared is None:
        if actual is None:
            raise InputError(
                f"无法确定 {file} 的文字编码（既不是 UTF-8 也不是 GBK/GB18030），请附带 .cpg 文件说明编码",
                f"cannot decide the encoding of {file} (neither UTF-8 nor GBK/GB18030); add a .cpg", file=file)
        return EncodingDecision(actual, "inferred")
    if actual is None or actual == declared:
        if _decodes(values, declared):
            return EncodingDecision(declared, how_declared, declared)
        raise InputError(f"{file} 声明编码为 {declared}，但内容无法按 {declared}、UTF-8 或 GB18030 正确解码",
                         f"{file}: declared {declared}, but the text decodes as neither it, UTF-8 nor GB18030",
                         file=file)
    return EncodingDecision(actual, "inferred", declared, f"{file} 声明的编码 {declared} 与内容不符，已按 {actual} 读取")


def decide_dbf_encoding(dbf: Path, cpg: Path | None = None) -> EncodingDecision:
    """Decide how to read ``dbf``; ``cpg`` is its ``.cpg`` sidecar when there is one."""
    values = dbf_text_values(dbf)
    if cpg is not None:
        content = cpg.read_bytes().decode("ascii", errors="replace").strip()
        declared = normalise_codepage(content)
        if declared is None:
            decision = decide_text_encoding(values, None, "inferred", dbf.name)
            return EncodingDecision(decision.encoding, decision.how, content,
                                    f"{cpg.name} 中的编码名“{content}”无法识别，已按内容判断为 {decision.encoding}")
        return decide_text_encoding(values, declared, "cpg", dbf.name)
    with dbf.open("rb") as f:
        ldid = f.read(32)[29:30]
    declared = _LDID.get(ldid[0]) if ldid else None
    return decide_text_encoding(values, declared, "ldid", dbf.name) if declared else decide_text_encoding(
        values, None, "inferred", dbf.name)


def _cut_field_names(dbf: Path, encoding: str) -> dict[int, bytes]:
    """Header offset → whole-character name, for the field names of ``dbf`` that do not decode in ``encoding``
    because the writer cut them inside a character (GDAL and QGIS cut UTF-8 names at 10 bytes)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        header_len = int.from_bytes(head[8:10], "little") if len(head) >= 10 else 0
        header = f.read(max(0, header_len - 32))
    out, pos = {}, 0
    while pos + 32 <= len(header) and header[pos] != 0x0D:
        name = header[pos:pos + 11].split(b"\x00", 1)[0]
        if not _decodes([name], encoding):
            whole = _whole_characters(name)
            if whole != name and _decodes([whole], encoding):
                out[32 + pos] = whole
        pos += 32
    return out


@contextmanager
def with_whole_field_names(shapefile_or_dbf: Path, dbf: Path, encoding: str) -> Iterator[Path]:
    """The file to open so that every field name decodes in ``encoding``: the file itself, or — when a name was cut
    inside a character — a temporary copy of its ``.dbf`` with the broken character dropped from those names (the
    ``.shp``, ``.shx`` and ``.prj`` beside it linked), which GDAL would otherwise refuse to read at all."""
    cuts = _cut_field_names(dbf, encoding)
    if not cuts:
        yield shapefile_or_dbf
        return
    with TemporaryDirectory(prefix="cadastre-dbf-") as tmp:
        stem = Path(tmp) / "layer"
        for sidecar in shapefile_or_dbf.parent.iterdir():
            if sidecar.stem == shapefile_or_dbf.stem and sidecar != dbf:
                stem.with_suffix(sidecar.suffix.lower()).symlink_to(sidecar.resolve())
        copy = stem.with_suffix(".dbf")
        shutil.copyfile(dbf, copy)
        with copy.open("r+b") as f:
            for offset, name in cuts.items():
                f.seek(offset)
                f.write(name.ljust(11, b"\x00"))
        yield stem.with_suffix(shapefile_or_dbf.suffix.lower())
