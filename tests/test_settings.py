"""County settings and code tables come from data/, with the spec's facts."""

from __future__ import annotations

import pytest

from cadastre.core import settings
from cadastre.core.codetables import code_tables, table
from cadastre.core.errors import ConfigError


@pytest.mark.parametrize(
    ("code", "zone", "epsg", "unprefixed"),
    [("141031", 37, 4525, 4546), ("231002", 43, 4531, 4552), ("231025", 43, 4531, 4552),
     ("231081", 44, 4532, 4553), ("231086", 44, 4532, 4553)],
)
def test_counties_and_zones(code, zone, epsg, unprefixed):
    county = settings.county(code)
    assert county.zone == zone
    assert county.storage_epsg == epsg
    assert county.zone_epsg_codes == (epsg, unprefixed)
    assert county.central_meridian == zone * 3


def test_every_mudanjiang_division_is_configured():
    mudanjiang = [c for c in settings.counties().values() if c.city == "牡丹江市"]
    assert {c.code for c in mudanjiang} == {"231002", "231003", "231004", "231005", "231025", "231081", "231083",
                                            "231084", "231085", "231086"}


def test_zone_epsg_formula():
    assert settings.zone_epsg(25) == 4513 and settings.zone_epsg(45) == 4533
    assert settings.zone_epsg(25, prefixed=False) == 4534 and settings.zone_epsg(45, prefixed=False) == 4554
    with pytest.raises(ConfigError):
        settings.zone_epsg(46)


def test_unknown_county_names_the_code():
    with pytest.raises(ConfigError, match="999999"):
        settings.county("999999")


def test_rules_defaults():
    rules = settings.county("141031").tolerances
    assert rules["area"]["level"] == 2
    assert rules["geometry"]["vertex_tolerance"] == 0.05
    assert rules["package"]["max_compression_ratio"] == 100


def test_code_tables_from_data():
    assert table("QLLX").name("4") == "国有建设用地使用权/房屋（构筑物）所有权"
    assert table("GHYT").name("84") == "物管用房"  # GHYT shares the FWYT table
    assert table("FWYT").name("11") == "成套住宅"
    assert table("QLSDFS").values == {"1": "地上", "2": "地表", "3": "地下"}
    assert table("JXXZ").name("600003") == "争议界"
    assert "99" in table("QLLX") and "98" not in table("QLLX")
    assert len(table("QLLX").values) == 23
    assert {"QLLX", "QLXZ", "FWYT", "FWJG", "FWLX", "FWXZ", "JZWZT", "HX", "HXJG", "MJDW", "JZDLX", "JBLX", "JZXLB",
            "JZXWZ", "JXXZ", "QSZT", "DJLX", "YSDM", "ZDTZM_OWNERSHIP", "ZDTZM_TYPE", "DZWTZM"} <= set(code_tables())
    with pytest.raises(ConfigError):
        table("NOPE")
