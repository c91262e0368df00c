"""CRS decisions: declared or inferred, and refused when they do not fit the county."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from cadastre.core import settings
from cadastre.core.errors import InputError
from cadastre.read.crs import decide_crs, epsg_zone

XIXIAN = settings.county("141031")
# around 隰县 (110.94°E 36.69°N) in zone 37, with and without the zone prefix
PREFIXED = np.array([37494000.0, 4061000.0, 37496000.0, 4063000.0])
UNPREFIXED = PREFIXED - [37_000_000, 0, 37_000_000, 0]
LONLAT = np.array([110.93, 36.68, 110.95, 36.70])

ESRI_ZONE_37 = (
    'PROJCS["CGCS2000_3_Degree_GK_Zone_37",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",37500000.0],'
    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",111.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


@pytest.mark.parametrize(
    ("bounds", "epsg", "fragment"),
    [(PREFIXED, 4525, "带号前缀 37"), (UNPREFIXED, 4546, "不带带号"), (LONLAT, 4490, "经纬度")],
)
def test_inferred_from_coordinates(bounds, epsg, fragment):
    decision = decide_crs(None, "inferred", bounds, XIXIAN, "ZD.shp")
    assert decision.epsg == epsg and decision.inferred and fragment in decision.detail


def test_declared_wins_and_esri_wkt_round_trips():
    decision = decide_crs(ESRI_ZONE_37, "prj", PREFIXED, XIXIAN, "ZD.shp")
    assert (decision.epsg, decision.how) == (4525, "prj")
    assert decide_crs("EPSG:4546", "manifest", UNPREFIXED, XIXIAN, "ZD.shp").epsg == 4546


@pytest.mark.parametrize(
    ("declared", "bounds", "fragment"),
    [
        ("EPSG:2361", PREFIXED, "西安80"),  # Xian 1980 / 3-degree GK zone 37
        ("EPSG:2431", UNPREFIXED, "北京54"),  # Beijing 1954 / 3-degree GK CM 111E
        ("EPSG:4526", PREFIXED + [1_000_000, 0, 1_000_000, 0], "第 38 带"),
        ("EPSG:4525", np.array([500_000.0, 4061000, 37_502_000, 4063000]), "不带带号"),  # mixed forms
        ("EPSG:4546", PREFIXED + [1_000_000, 0, 1_000_000, 0], "带有带号"),  # another zone's prefix
        ("EPSG:4326", LONLAT, "WGS84"),
        ("EPSG:25832", PREFIXED, "不是 CGCS2000"),  # ETRS89 / UTM 32N
        ("EPSG:4525", PREFIXED + [0, 2_000_000, 0, 2_000_000], "不在本县"),
        ("not a crs", PREFIXED, "无法识别"),
    ],
)
def test_refused(declared, bounds, fragment):
    with pytest.raises(InputError) as info:
        decide_crs(declared, "prj", bounds, XIXIAN, "ZD.shp")
    assert fragment in info.value.message_zh
    assert info.value.message_zh.startswith("ZD.shp")
    assert info.value.details["rule"] == "PKG-004"


def test_inference_refuses_six_degree_zones_wrong_zones_and_swapped_axes():
    six_degree = np.array([19_300_000.0, 4061000.0, 19_302_000.0, 4063000.0])
    with pytest.raises(InputError, match="6 度带"):
        decide_crs(None, "inferred", six_degree, XIXIAN, "ZD.shp")
    with pytest.raises(InputError, match="第 38 带"):
        decide_crs(None, "inferred", PREFIXED + [1_000_000, 0, 1_000_000, 0], XIXIAN, "ZD.shp")
    swapped = PREFIXED[[1, 0, 3, 2]] - [0, 37_000_000, 0, 37_000_000]
    with pytest.raises(InputError, match="颠倒"):
        decide_crs(None, "inferred", swapped, XIXIAN, "ZD.shp")


def test_zone_44_county():
    suifenhe = settings.county("231081")  # 131.15°E 44.41°N, zone 44 (central meridian 132°E)
    x, y = Transformer.from_crs(4490, 4532, always_xy=True).transform(131.15, 44.41)
    bounds = np.array([x, y, x + 2000, y + 2000])
    assert decide_crs(None, "inferred", bounds, suifenhe, "ZD.shp").epsg == 4532
    with pytest.raises(InputError, match="第 44 带"):
        decide_crs(None, "inferred", bounds, settings.county("231002"), "ZD.shp")


def test_epsg_zone_classification():
    assert epsg_zone(4525) == ("3deg", 37, True)
    assert epsg_zone(4546) == ("3deg", 37, False)
    assert epsg_zone(4497) == ("6deg", 19, True)
    assert epsg_zone(4490) == ("geographic", None, False)
    assert epsg_zone(3857)[0] == "other"


@pytest.mark.parametrize(("declared", "bounds", "read_as", "fragment"), [
    ("EPSG:4525", UNPREFIXED, 4546, "带有带号前缀，但坐标东值不带带号"),  # CASS: a prefixed .prj over plain eastings
    ("EPSG:4546", PREFIXED, 4525, "不带带号前缀，但坐标东值带有带号 37"),
])
def test_the_county_zone_declared_over_eastings_written_the_other_way_is_read_and_warned(declared, bounds, read_as,
                                                                                           fragment):
    decision = decide_crs(declared, "prj", bounds, XIXIAN, "ZD.shp")
    assert decision.epsg == read_as and decision.how == "prj"
    assert decision.warning.startswith("ZD.shp：") and fragment in decision.warning
