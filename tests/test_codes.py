"""The unit-code type: every example of unit-code.md, every rule, and property tests for round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadastre.core.codes import ParcelCode, UnitCode, parcel_code_problems, unit_code_problems
from cadastre.core.errors import CodeError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("340123002004GB00011W00000000",
         dict(county="340123", djq="002", djzq="004", ownership="G", parcel_type="B", parcel_seq=11, fixture="W",
              building=None, unit=None)),
        ("330110119001GB04246F00080003",
         dict(county="330110", djq="119", djzq="001", ownership="G", parcel_type="B", parcel_seq=4246,
              fixture="F", building=8, unit=3)),
        ("340102201001GB00005F99990001",
         dict(county="340102", djq="201", djzq="001", parcel_seq=5, fixture="F", building=9999, unit=1)),
        ("141031001002JC00003W00000000",
         dict(county="141031", djq="001", djzq="002", ownership="J", parcel_type="C", parcel_seq=3, fixture="W")),
    ],
)
def test_spec_examples_parse(text, expected):
    code = UnitCode.parse(text)
    for attribute, value in expected.items():
        assert getattr(code, attribute) == value, attribute
    assert str(code) == text
    assert str(code.parcel_code) == text[:19]
    assert isinstance(code.parcel_code, ParcelCode)


def test_multi_building_code_is_recognised():
    assert UnitCode.parse("340102201001GB00005F99990001").spans_buildings
    assert not UnitCode.parse("330110119001GB04246F00080003").spans_buildings


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("141031001002GB00000W00000000", 15, "宗地顺序号"),
        ("141031001002GA00001W00000000", 14, "只能与所有权 J 搭配"),
        ("141031001002GB00001W00010001", 21, "00000000"),
        ("141031001002GB00001F00000001", 21, "幢号不能为 0000"),
        ("14103100100GB00001W00000000", None, "应为28位，实际为27位"),
        ("141031001002gb00001W00000000", 13, "大写"),
    ],
)
def test_spec_invalid_examples(text, position, fragment):
    with pytest.raises(CodeError) as info:
        UnitCode.parse(text)
    assert info.value.position == position
    assert fragment in info.value.message_zh
    assert isinstance(info.value, ValueError)
    assert info.value.message_en and info.value.message_en != info.value.message_zh


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("141031001002GB00001F00010000", 25, "户号不能为 0000"),
        ("141031001002GB00001L00000000", 21, "不能为 00000000"),
        ("141031001002GB00001X00000000", 20, "定着物特征码"),
        ("141031001002JA00001F00010001", None, None),  # A with J is fine
        ("141031001002GC00001W00000000", 14, "J"),  # C needs J
        ("141031001002QB00001W00000000", 13, "所有权"),
        ("141031001002GK00001W00000000", 14, "宗地类型"),
        ("1410310010a2GB00001W00000000", 11, "数字"),
        ("141031000002GB00001W00000000", 7, "临时编码"),
        ("141031001000GB00001W00000000", 10, "临时编码"),
        ("000000001002GB00001W00000000", 1, "县级"),
    ],
)
def test_rules(text, position, fragment):
    if fragment is None:
        UnitCode.parse(text)
        return
    with pytest.raises(CodeError) as info:
        UnitCode.parse(text)
    assert info.value.position == position
    assert fragment in info.value.message_zh


def test_provisional_zoning_is_accepted_only_when_allowed():
    text = "141031000000GB00001W00000000"
    with pytest.raises(CodeError):
        UnitCode.parse(text)
    assert UnitCode.parse(text, allow_provisional=True).parcel_code.is_provisional


def test_readable_form_and_parse_of_it():
    code = UnitCode.parse("141031001002GB00017F00030012")
    assert code.readable == "141031 001002 GB00017 F00030012"
    assert UnitCode.parse(code.readable) == code
    assert ParcelCode.parse("141031 001002 GB00017") == code.parcel_code
    with pytest.raises(CodeError):
        UnitCode.parse("141031 001002GB00017 F00030012")  # spaces must fall between levels


def test_parcel_code_helpers():
    parcel = ParcelCode.parse("141031001002GB00017")
    assert parcel.feature_code == "GB"
    assert parcel.zoning_code == "141031001002"
    assert parcel.sequence_scope == "141031001002GB"
    assert str(parcel.land_unit()) == "141031001002GB00017W00000000"
    assert str(parcel.building_unit(3, 12)) == "141031001002GB00017F00030012"
    assert UnitCode.parse("141031001002GB00017F00030012").building_code == "141031001002GB00017F0003"
    with pytest.raises(CodeError):
        parcel.building_unit(0, 1)


def test_non_text_and_empty():
    for value in (None, 141031001002, float("nan")):
        with pytest.raises(CodeError):
            UnitCode.parse(value)


# ----------------------------------------------------------------------------------------- property tests

OWNER_TYPE = st.sampled_from(["GB", "JB", "GS", "JS", "GX", "JX", "JA", "JC", "JD", "GD", "ZD", "JE", "JF", "GL",
                              "JN", "GH", "GG", "ZW", "GY"])
digits = st.integers


@st.composite
def parcel_codes(draw):
    county = draw(st.sampled_from(["141031", "231081", "330110", "340123"]))
    return (f"{county}{draw(digits(1, 999)):03d}{draw(digits(1, 999)):03d}{draw(OWNER_TYPE)}"
            f"{draw(digits(1, 99999)):05d}")


@st.composite
def unit_codes(draw):
    parcel = draw(parcel_codes())
    fixture = draw(st.sampled_from("WFLQ"))
    if fixture == "W":
        number = "00000000"
    elif fixture == "F":
        number = f"{draw(digits(1, 9999)):04d}{draw(digits(1, 9999)):04d}"
    else:
        number = f"{draw(digits(1, 99999999)):08d}"
    return parcel + fixture + number


@given(unit_codes())
def test_round_trip(text):
    code = UnitCode.parse(text)
    assert str(code) == text
    assert UnitCode.parse(code.readable) == code
    assert UnitCode.parse(str(code)) == code
    assert str(code.parcel_code) == text[:19]


@given(parcel_codes())
def test_parcel_round_trip(text):
    assert str(ParcelCode.parse(text)) == text


@given(unit_codes(), st.integers(0, 27), st.characters(codec="ascii"))
def test_column_validation_agrees_with_parse(text, position, char):
    mutated = text[:position] + char + text[position + 1:]
    try:
        UnitCode.parse(mutated)
        valid = True
    except CodeError:
        valid = False
    problem = unit_code_problems([mutated]).iat[0]
    assert (problem is None) == valid, (mutated, problem)


def test_column_validation_explains_failures():
    problems = unit_code_problems(["141031001002GB00017F00030012", "141031001002GB00000W00000000", None])
    assert problems.iat[0] is None
    assert "第15位" in problems.iat[1]
    assert "为空" in problems.iat[2]
    assert parcel_code_problems(["141031001002GB00017", "141031001002GA00017"]).tolist()[0] is None
