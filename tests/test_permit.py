"""Planning permits from permit.json: validated with the key named, differences listed."""

from __future__ import annotations

import json

import pytest

from cadastre.core.errors import InputError
from cadastre.core.permit import load_permit, parse_permit, permit_differences
from cadastre.samples import sample_permit


def test_sample_permit_parses_and_round_trips():
    permit = parse_permit(sample_permit())
    assert permit.far_max == 1.6 and permit.parking_min == 50
    assert [b.zrzh for b in permit.buildings] == ["0001", "0002", "0003"]
    assert permit.facilities == {"物业用房": 300.0}
    assert parse_permit(permit.to_dict()) == permit


def test_every_key_is_optional_and_unknown_keys_are_kept():
    permit = parse_permit({"number": "X", "备注": "缓建"})
    assert permit.far_max is None and permit.buildings == () and permit.extra == {"备注": "缓建"}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [({"far_max": "2.5"}, "far_max 应为数字"), ({"parking_min": 10.5}, "parking_min 应为整数"),
     ({"buildings": [{"floor_area": 1}]}, "buildings[0] 应为含 zrzh 的对象"),
     ({"facilities": ["物业用房"]}, "facilities 应为对象"), ([], "应为 JSON 对象")],
)
def test_invalid_permits_name_the_key(data, fragment):
    with pytest.raises(InputError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_permit(data)


def test_differences_and_files(tmp_path):
    recorded = parse_permit(sample_permit())
    copy = parse_permit(dict(sample_permit(), far_max=1.8, green_min=None))
    assert permit_differences(recorded, copy) == [("far_max", 1.6, 1.8), ("green_min", 0.35, None)]
    (tmp_path / "p.json").write_text(json.dumps(sample_permit(), ensure_ascii=False), encoding="utf-8-sig")
    assert load_permit(tmp_path / "p.json") == recorded
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match="不是有效的 UTF-8 JSON"):
        load_permit(tmp_path / "bad.json")
