"""Packages as vendors' tools deliver them: File Geodatabases (zipped and bare), personal geodatabases (.mdb), single
files recognised by their content whatever they are called."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from cadastre.core.errors import InputError
from cadastre.read import pgdb
from cadastre.read.container import open_container, sniff
from cadastre.read.package import read_package
from cadastre.samples import Quirks, sample_manifest, sample_project, write_package

PRESALE = sample_project("presale")
ACCESS_SAMPLE = Path(__file__).parents[1] / "data" / "access" / "meza-test.mdb"


# --- File Geodatabase -------------------------------------------------------------------------------------------


def test_zipped_file_geodatabase_reads_like_shapefiles(tmp_path):
    path = write_package(tmp_path / "成果.zip", PRESALE, manifest=sample_manifest("presale"),
                         quirks=Quirks(container="filegdb"))
    pkg = read_package(path)
    assert len(pkg.findings) == 0
    assert {code: len(frame) for code, frame in pkg.layers.items()} == {"ZRZ": 3, "C": 21, "H": 84}
    assert pkg.raw["H"].info.kind == "filegdb" and pkg.raw["H"].info.member == "成果/矢量/成果.gdb:H"
    assert pkg.raw["H"].info.crs.how == "filegdb" and pkg.raw["H"].info.crs.epsg == 4525
    assert {f.role for f in pkg.files if ".gdb/" in f.member} == {"layer"}
    expected = PRESALE["H"].sort_values(["ZRZH", "SJC", "SHBW"]).reset_index(drop=True)
    got = pkg.layers["H"].sort_values(["ZRZH", "SJC", "SHBW"]).reset_index(drop=True)
    assert shapely.equals(np.asarray(got.geometry.values), np.asarray(expected.geometry.values)).all()


def test_bare_gdb_folder_with_chinese_field_names_and_tables(tmp_path):
    path = write_package(tmp_path / "龙泉苑.gdb", PRESALE, quirks=Quirks(container="gdb", chinese_fields=True,
                                                                        tables="dbf"))
    pkg = read_package(path, county="141031")
    assert pkg.stage == "presale" and len(pkg.layers["H"]) == 84
    assert pkg.raw["C"].info.kind == "filegdb" and not pkg.raw["C"].has_geometry  # a table in the geodatabase
    assert pkg.raw["H"].info.fields["SHBW"] == "室号部位"


def test_geodatabase_feature_classes_match_by_alias(tmp_path):
    target = tmp_path / "p.gdb"
    for layer, name in (("ZRZ", "自然幢"), ("H", "FCSL_H"), ("C", "层")):
        frame = PRESALE[layer]  # ArcGIS 10 keeps 32-bit integers
        frame = frame.astype({c: "int32" for c in frame.columns if frame[c].dtype.kind == "i"})
        pyogrio.write_dataframe(frame, target, layer=name, driver="OpenFileGDB")
    pkg = read_package(target, county="141031")
    assert {code: len(frame) for code, frame in pkg.layers.items()} == {"ZRZ": 3, "C": 21, "H": 84}


# --- single files: the content decides ------------------------------------------------------------------------


@pytest.mark.parametrize(("quirks", "kind"), [(Quirks(container="gpkg"), "gpkg"), (Quirks(), "zip")])
def test_single_files_are_recognised_by_content_and_named_as_uploaded(tmp_path, quirks, kind):
    path = write_package(tmp_path / f"p.{kind}", PRESALE, manifest=sample_manifest("presale"), quirks=quirks)
    stored = tmp_path / "0123abcd.bin"  # how the service keeps an upload: under its checksum
    stored.write_bytes(path.read_bytes())
    assert sniff(stored) == kind
    pkg = read_package(stored, county="141031", name=f"龙泉苑.{kind}")
    assert pkg.name == f"龙泉苑.{kind}" and len(pkg.layers["H"]) == 84


def test_unrecognised_and_broken_files_are_refused_with_their_own_name(tmp_path):
    junk = tmp_path / "0123.bin"
    junk.write_bytes(b"\x00\x01 not a package")
    with pytest.raises(InputError, match="无法识别的文件类型：成果.rar"):
        read_package(junk, name="成果.rar")
    zipped = write_package(tmp_path / "p.zip", PRESALE, manifest=sample_manifest("presale"))
    junk.write_bytes(zipped.read_bytes()[:2000])  # a truncated upload
    with pytest.raises(InputError, match="压缩包 龙泉苑.zip 已损坏"):
        read_package(junk, name="龙泉苑.zip")


# --- personal geodatabase: the shape buffers -------------------------------------------------------------------


def shape_buffers(shp: Path) -> list[bytes]:
    """The record contents of a shapefile: exactly what a personal geodatabase keeps in its shape column."""
    data = shp.read_bytes()
    out, at = [], 100
    while at < len(data):
        _number, words = struct.unpack(">2i", data[at:at + 8])
        out.append(data[at + 8:at + 8 + 2 * words])
        at += 8 + 2 * words
    return out


def buffers_of(tmp_path: Path, geometries, name: str = "g") -> list[bytes]:
    path = tmp_path / f"{name}.shp"
    gpd.GeoDataFrame({"n": range(len(geometries))}, geometry=list(geometries), crs=4525).to_file(path)
    return shape_buffers(path)


def test_shape_buffers_decode_polygons_with_holes_and_several_parts(tmp_path):
    hole = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (2, 4), (4, 4), (4, 2)]])
    two = shapely.MultiPolygon([shapely.box(20, 0, 25, 5), shapely.box(30, 0, 35, 5)])
    two_with_hole = shapely.MultiPolygon([hole, shapely.box(40, 0, 45, 5)])
    polygons = [hole, two, shapely.box(0, 0, 1, 1), two_with_hole]
    decoded = pgdb.decode_shapes(buffers_of(tmp_path, polygons))
    for got, want in zip(decoded, polygons, strict=True):
        assert shapely.equals(got, want) and got.geom_type == want.geom_type
        assert shapely.normalize(got).equals_exact(shapely.normalize(want), 1e-9)


def test_shape_buffers_points_lines_nulls_and_z(tmp_path):
    lines = [shapely.LineString([(0, 0), (1, 1), (2, 0)]),
             shapely.MultiLineString([[(0, 0), (1, 0)], [(5, 5), (6, 6)]])]
    assert all(shapely.equals(a, b) for a, b in zip(pgdb.decode_shapes(buffers_of(tmp_path, lines, "l")), lines,
                                                    strict=True))
    points = [shapely.Point(1, 2), shapely.Point(3, 4)]
    buffers = buffers_of(tmp_path, points, "p")
    decoded = pgdb.decode_shapes([buffers[0], None, buffers[1]])
    assert decoded[1] is None and shapely.equals(decoded[2], points[1])
    polygon_z = shapely.Polygon([(0, 0, 5), (10, 0, 5), (10, 10, 6), (0, 10, 5)])
    decoded = pgdb.decode_shapes(buffers_of(tmp_path, [polygon_z], "z"))
    assert shapely.equals(decoded[0], shapely.force_2d(polygon_z))


def test_curves_and_damaged_buffers_are_refused_with_the_advice(tmp_path):
    curve = struct.pack("<i", 51) + b"\x00" * 40  # an extended shape type (curves): not read with certainty
    with pytest.raises(InputError, match="无法确定读取的几何类型.*文件地理数据库"):
        pgdb.decode_shapes([curve], "p.mdb:ZRZ")
    polygon = buffers_of(tmp_path, [shapely.box(0, 0, 1, 1)])[0]
    with pytest.raises(InputError, match="p.mdb:ZRZ 的几何数据已损坏"):
        pgdb.decode_shapes([polygon[:30]], "p.mdb:ZRZ")


# --- personal geodatabase: the Access side ---------------------------------------------------------------------


def test_a_real_access_file_that_is_not_a_geodatabase_is_refused_by_name(tmp_path):
    assert sniff(ACCESS_SAMPLE) == "mdb"
    assert pgdb._tables(ACCESS_SAMPLE, "x.mdb") == ("merchant_taylors",)  # MDB Tools reads the real file
    assert len(pgdb._export(ACCESS_SAMPLE, "merchant_taylors", "x.mdb")) == 20
    stored = tmp_path / "abc.bin"
    stored.write_bytes(ACCESS_SAMPLE.read_bytes())
    with pytest.raises(InputError) as refused:
        read_package(stored, county="141031", name="宗地成果.mdb")
    message = refused.value.message_zh
    assert "个人地理数据库 宗地成果.mdb 不是 ESRI 个人地理数据库" in message and "文件地理数据库" in message


def test_a_damaged_access_file_is_refused_by_name(tmp_path):
    damaged = tmp_path / "p.mdb"
    damaged.write_bytes(ACCESS_SAMPLE.read_bytes()[:4096])
    with pytest.raises(InputError, match="个人地理数据库 p.mdb 无法读取"):
        read_package(damaged, county="141031")


def _export_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


@pytest.fixture
def personal_geodatabase(tmp_path, monkeypatch):
    """A personal geodatabase of the pre-sale layers as MDB Tools would export it: feature classes with their shape
    buffers in hex (cut from shapefiles written here), attribute tables, ESRI's GDB_GeomColumns and GDB_SpatialRefs.
    No tool here writes an .mdb, so MDB Tools' output is what the test provides."""
    # ArcGIS keeps a feature class's coordinate system as ESRI WKT, the text of a .prj
    wkt = (write_package(tmp_path / "w", {"ZRZ": PRESALE["ZRZ"]}, quirks=Quirks(container="folder", folder=""))
           / "ZRZ.prj").read_text()
    tables: dict[str, str] = {}
    columns = []
    for layer, frame in PRESALE.items():
        name = {"ZRZ": "自然幢", "C": "C", "H": "H"}[layer]
        if layer == "C":  # an attribute table
            tables[name] = _export_csv(pd.DataFrame(frame.drop(columns="geometry")))
            continue
        shp = tmp_path / f"{layer}.shp"
        frame.to_file(shp)
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table.insert(0, "OBJECTID", range(1, len(frame) + 1))
        table["SHAPE"] = [b.hex().upper() for b in shape_buffers(shp)]
        tables[name] = _export_csv(table)
        columns.append({"TableName": name, "FieldName": "SHAPE", "ShapeType": 4, "SRID": 1})
    tables["GDB_GeomColumns"] = _export_csv(pd.DataFrame(columns))
    tables["GDB_SpatialRefs"] = _export_csv(pd.DataFrame([{"SRID": 1, "SRTEXT": wkt}]))
    tables["MSysObjects"] = "Id\n1\n"

    def fake_mdb(tool, *args, member):
        if tool == "mdb-tables":
            return "\n".join(tables) + "\n"
        return tables[args[-1]]

    monkeypatch.setattr(pgdb, "_mdb", fake_mdb)
    path = tmp_path / "龙泉苑.mdb"
    path.write_bytes(ACCESS_SAMPLE.read_bytes()[:64])  # an Access header: the content says "personal geodatabase"
    return path


def test_personal_geodatabase_feature_classes_and_tables_are_read(personal_geodatabase):
    assert pgdb.table_names(personal_geodatabase, "p.mdb") == ["自然幢", "C", "H"]
    pkg = read_package(personal_geodatabase, county="141031")
    assert set(pkg.findings["rule"]) == {"PKG-005"}  # county and stage inferred: a lone database has no manifest
    assert {code: len(frame) for code, frame in pkg.layers.items()} == {"ZRZ": 3, "C": 21, "H": 84}
    assert pkg.raw["ZRZ"].info.kind == "mdb" and pkg.raw["ZRZ"].info.member == "龙泉苑.mdb:自然幢"
    assert pkg.raw["H"].info.crs.how == "mdb" and pkg.raw["H"].info.crs.epsg == 4525
    expected = PRESALE["H"].sort_values(["ZRZH", "SJC", "SHBW"]).reset_index(drop=True)
    got = pkg.layers["H"].sort_values(["ZRZH", "SJC", "SHBW"]).reset_index(drop=True)
    assert shapely.equals(np.asarray(got.geometry.values), np.asarray(expected.geometry.values)).all()
    assert np.allclose(got["YCJZMJ"], expected["YCJZMJ"]) and list(got["SHBW"]) == list(expected["SHBW"])


def test_personal_geodatabase_in_a_zip(personal_geodatabase, tmp_path):
    archive = tmp_path / "成果.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(personal_geodatabase, "成果/龙泉苑.mdb")
    with open_container(archive) as container:
        assert container.find_layer("H").member == "成果/龙泉苑.mdb:H"
