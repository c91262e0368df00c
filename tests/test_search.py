"""Search as clerks type (issue 23), on both engines: room labels, a name with a room, full-width digits, words with
blanks, codes with blanks; complete codes give exactly their parcel or unit; exact matches first."""

from __future__ import annotations

import pytest

from cadastre.core.search import parse_query

PARCEL = "141031001002GB00001"


@pytest.mark.parametrize("text, code, words, room, unit", [
    ("141031 001002 ＧＢ00001", PARCEL, (), None, None),
    ("龙泉苑1号楼1-101", None, ("龙泉苑1号楼",), "101", "1"),
    ("府前街２号", None, ("府前街2号",), None, None),
    ("隰县  府前街", None, ("隰县", "府前街"), None, None),
    ("1-101", None, (), "101", "1"),
    ("龙泉苑2号楼 2-602", None, ("龙泉苑2号楼",), "602", "2"),
    ("2-1-1501", None, (), "1501", "1"),
    ("1单元0101室", None, (), "101", "1"),
    ("隰县龙泉镇府前街12", None, ("隰县龙泉镇府前街12",), None, None),  # a house number, not a room
])
def test_what_a_clerk_typed_is_read_as_meant(text, code, words, room, unit):
    q = parse_query(text)
    assert (q.code, q.words, q.room, q.unit) == (code, words, room, unit)


def _codes(registry, text):
    return [(h["kind"], h["code"]) for h in registry.search(text)]


def test_search_finds_what_is_on_paper(loaded_registry):
    reg = loaded_registry
    rooms = _codes(reg, "1-101")
    assert ("unit", f"{PARCEL}F00010005") in rooms and all(kind == "unit" for kind, _ in rooms)
    assert _codes(reg, "龙泉苑1号楼1-101") == [("unit", f"{PARCEL}F00010005")]
    [hit] = reg.search("龙泉苑2号楼 2-602")
    assert hit["kind"] == "unit" and hit["label"] == "龙泉苑2号楼 2-602" and hit["code"].startswith(f"{PARCEL}F0002")
    assert _codes(reg, "府前街２号") == [("parcel", PARCEL)]
    assert ("parcel", PARCEL) in _codes(reg, "隰县 府前街")
    assert _codes(reg, "141031 001002 GB00001") == [("parcel", PARCEL)]  # complete: the parcel alone
    assert _codes(reg, f"{PARCEL}F00010005") == [("unit", f"{PARCEL}F00010005")]
    start = _codes(reg, "141031001002GB0000")
    assert start[0] == ("parcel", PARCEL) and len(start) > 1


def test_exact_matches_come_first(loaded_registry):
    hits = loaded_registry.search("龙泉苑2号楼")
    assert hits[0]["kind"] == "building" and hits[0]["label"] == "龙泉苑2号楼"
    hits = loaded_registry.search("隰县龙泉镇府前街2号")
    assert hits[0]["code"] == PARCEL


def test_the_address_index_is_kept_by_every_writer_and_used(loaded_registry):
    """坐落 words go through a trigram index (migration 0012): FTS5 on SQLite, kept by triggers, so the bulk writers
    of an ingest fill it; pg_trgm on PostgreSQL, which finds trigrams in Chinese only under a UTF-8 LC_CTYPE."""
    import sqlalchemy as sa

    reg = loaded_registry
    with reg.engine.connect() as connection:
        parcels = connection.execute(sa.text("SELECT count(*) FROM parcel")).scalar_one()
        if connection.dialect.name == "sqlite":
            indexed = connection.execute(sa.text(
                "SELECT count(*) FROM parcel_zl_search WHERE parcel_zl_search MATCH '\"隰县龙\"'")).scalar_one()
            assert indexed == connection.execute(sa.text(
                "SELECT count(*) FROM parcel WHERE zl LIKE '%隰县龙%'")).scalar_one() > 0
            assert connection.execute(sa.text("SELECT count(*) FROM parcel_zl_search")).scalar_one() == parcels
        else:
            index = connection.execute(sa.text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_parcel_zl_trgm_current'")).scalar_one()
            assert "gin_trgm_ops" in index and "valid_to IS NULL" in index  # (used at county scale: bench/http.py)
            assert connection.exec_driver_sql("SELECT cardinality(show_trgm('府前街'))").scalar_one() > 0  # Chinese has trigrams
    # a word of three characters or more (index) with a shorter one (checked on the rows the index gave)
    assert ("parcel", PARCEL) in _codes(reg, "隰县 龙泉镇府前街2号")
    assert _codes(reg, "府前街2号 隰县")[0] == ("parcel", PARCEL)
    assert _codes(reg, 'abc" OR "x') == []  # FTS5 query syntax in what was typed is text, not an operator
