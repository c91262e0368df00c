"""Encoding decisions for .dbf files, in the spec's order, and contradictions detected."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from cadastre.core.errors import InputError
from cadastre.read.container import LayerSource
from cadastre.read.encoding import GB18030, UTF8, decide_dbf_encoding, normalise_codepage
from cadastre.read.raw import load_layer

NAMES = ["隰县龙泉镇", "城南路·12号", "午城镇"]


def write_dbf(tmp_path: Path, encoding: str, *, ldid: int | None = None, names=NAMES) -> Path:
    frame = gpd.GeoDataFrame({"ZL": names}, geometry=[shapely.Point(i, i) for i in range(len(names))], crs=4490)
    path = tmp_path / f"t_{encoding}.shp"
    frame.to_file(path, encoding=encoding)
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = 0 if ldid is None else ldid
    dbf.write_bytes(bytes(data))
    return dbf


@pytest.mark.parametrize(
    ("text", "expected"),
    [("936", GB18030), ("CP936", GB18030), ("GBK", GB18030), ("gb2312", GB18030), ("ANSI 936", GB18030),
     (" UTF-8\r\n", UTF8), ("utf8", UTF8), ("65001", UTF8), ("1252", "CP1252"), ("klingon", None)],
)
def test_cpg_names_are_normalised(text, expected):
    assert normalise_codepage(text) == expected


def test_cpg_decides(tmp_path):
    dbf = write_dbf(tmp_path, "GBK")
    dbf.with_suffix(".cpg").write_text("936")
    decision = decide_dbf_encoding(dbf, dbf.with_suffix(".cpg"))
    assert (decision.encoding, decision.how, decision.warning) == (GB18030, "cpg", None)


def test_cpg_contradicted_by_the_bytes_is_detected_and_warned(tmp_path):
    dbf = write_dbf(tmp_path, "GBK")
    dbf.with_suffix(".cpg").write_text("UTF-8")
    decision = decide_dbf_encoding(dbf, dbf.with_suffix(".cpg"))
    assert decision.encoding == GB18030 and decision.declared == UTF8
    assert "与内容不符" in decision.warning
    utf = write_dbf(tmp_path, "UTF-8")
    utf.with_suffix(".cpg").write_text("GBK")
    decision = decide_dbf_encoding(utf, utf.with_suffix(".cpg"))
    assert decision.encoding == UTF8 and decision.warning


def test_language_driver_byte_decides_without_cpg(tmp_path):
    decision = decide_dbf_encoding(write_dbf(tmp_path, "GBK", ldid=0x4D))
    assert (decision.encoding, decision.how) == (GB18030, "ldid")


def test_inferred_without_any_declaration(tmp_path):
    assert decide_dbf_encoding(write_dbf(tmp_path, "UTF-8")).encoding == UTF8
    decision = decide_dbf_encoding(write_dbf(tmp_path, "GBK"))
    assert (decision.encoding, decision.how) == (GB18030, "inferred") and decision.inferred


def test_gb18030_keeps_the_middle_dot(tmp_path):
    dbf = write_dbf(tmp_path, "GBK")
    frame = gpd.read_file(dbf.with_suffix(".shp"), encoding=decide_dbf_encoding(dbf).encoding)
    assert list(frame["ZL"]) == NAMES


def test_undecidable_text_is_refused_naming_the_file(tmp_path):
    dbf = write_dbf(tmp_path, "UTF-8", names=["abc"])
    data = bytearray(dbf.read_bytes())
    at = data.find(b"abc")
    data[at:at + 3] = b"\xff\xfe\xff"  # neither UTF-8 nor GB18030
    dbf.write_bytes(bytes(data))
    with pytest.raises(InputError) as info:
        decide_dbf_encoding(dbf)
    assert dbf.name in info.value.message_zh


def write_dbf_with_chinese_field_names(tmp_path: Path, encoding: str) -> Path:
    """Chinese only in the field names, digits and Latin letters in the values; no .cpg, no language byte."""
    frame = gpd.GeoDataFrame({"室号部位": ["1-101", "A-201"], "实际层": [1, 2], "预测建筑面积": [91.5, 88.0]},
                             geometry=[shapely.Point(0, 0), shapely.Point(1, 1)], crs=4525)
    path = tmp_path / "H.shp"
    with pytest.warns(RuntimeWarning):  # GDAL cuts names longer than 10 bytes (in UTF-8 inside a character)
        frame.to_file(path, encoding=encoding)
    path.with_suffix(".cpg").unlink()
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = 0
    dbf.write_bytes(bytes(data))
    return dbf


@pytest.mark.parametrize(("written", "decided"), [("GBK", GB18030), ("UTF-8", UTF8)])
def test_field_names_decide_when_the_values_are_ascii(tmp_path, written, decided):
    dbf = write_dbf_with_chinese_field_names(tmp_path, written)
    decision = decide_dbf_encoding(dbf)
    assert (decision.encoding, decision.how) == (decided, "inferred")
    # GDAL cut 室号部位 inside its fourth character in UTF-8, and could not read the names back: the reader can
    raw = load_layer(LayerSource("H", dbf.with_suffix(".shp"), "shapefile", "H.shp"))
    assert {"SHBW", "SJC", "YCJZMJ"} <= set(raw.info.fields)
    assert list(raw.frame[raw.info.fields["SHBW"]]) == ["1-101", "A-201"]


def test_a_field_name_cut_inside_a_character_still_decides(tmp_path):
    dbf = write_dbf_with_chinese_field_names(tmp_path, "GBK")
    data = bytearray(dbf.read_bytes())
    at = data.index("室号部位".encode("gbk"))
    data[at:at + 11] = b"X" + "室号部位".encode("gbk") + "预".encode("gbk")[:1] + b"\x00"  # a writer counting bytes
    dbf.write_bytes(bytes(data))
    assert decide_dbf_encoding(dbf).encoding == GB18030
