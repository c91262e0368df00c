"""Reading one layer: fields by alias (DBF-truncated Chinese names too), Z dropped, incomplete sets refused."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from cadastre.core import settings
from cadastre.core.errors import InputError
from cadastre.read.container import open_container
from cadastre.read.raw import field_aliases, match_fields, read_vector_layer

XIXIAN = settings.county("141031")


def test_truncated_chinese_field_names_match():
    aliases = field_aliases("DJZQ")
    assert aliases["djzqdm"] == "DJZQDM"
    assert aliases["地籍子区代码"] == "DJZQDM"
    assert aliases["地籍子区代"] == "DJZQDM"  # 10 bytes of GBK
    assert aliases["地籍子"] == "DJZQDM"  # 10 bytes of UTF-8 (3 characters)
    assert match_fields("DJQ", [" djqdm ", "名称", "OTHER"]) == {" djqdm ": "DJQDM", "名称": "DJQMC"}


def test_read_drops_z_and_converts_to_storage_crs(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    frame = gpd.GeoDataFrame(
        {"地籍区代码": ["141031001"], "地籍区名称": ["龙泉镇"]},
        geometry=[shapely.Polygon([(110.93, 36.68, 5), (110.95, 36.68, 5), (110.95, 36.70, 5)])], crs=4490)
    frame.to_file(folder / "地籍区.shp", encoding="GBK")
    with open_container(folder) as container:
        layer, info = read_vector_layer(container.find_layer("DJQ"), XIXIAN, 4525)
    assert info.dropped_z and not layer.geometry.has_z.any()
    assert layer.crs.to_epsg() == 4525 and 37_400_000 < layer.geometry.iloc[0].centroid.x < 37_600_000
    assert list(layer.columns) == ["DJQDM", "DJQMC", "geometry"]
    assert info.fields["DJQDM"].startswith("地籍区代")  # the truncated name in the file
    assert layer["DJQMC"].iat[0] == "龙泉镇"


def test_incomplete_shapefile_set_is_refused(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    gpd.GeoDataFrame({"DJQDM": ["141031001"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4525).to_file(
        folder / "DJQ.shp")
    (folder / "DJQ.shx").unlink()
    with open_container(folder) as container:
        with pytest.raises(InputError) as info:
            read_vector_layer(container.find_layer("DJQ"), XIXIAN, 4525)
    assert ".shx" in info.value.message_zh and info.value.details["rule"] == "PKG-002"
