"""SQLite's bulk insert (``bulk.sqlite_insert``): a column holding one value in every row is written into the
statement, and every row reads back exactly as the driver would have bound it — value and SQLite type."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from cadastre.store import bulk
from cadastre.store.engine import create_engine


@pytest.fixture
def sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.sqlite'}")
    with engine.begin() as c:
        for name in ("bound", "written"):  # no declared types: what is stored is what was bound
            c.exec_driver_sql(f"CREATE TABLE {name} (k INTEGER PRIMARY KEY, a, b, c, d, e)")
    yield engine
    engine.dispose()


def _rows(connection, table):
    return connection.exec_driver_sql(f"SELECT k, a, typeof(a), b, typeof(b), c, typeof(c), d, typeof(d), e, typeof(e) "
                                      f"FROM {table} ORDER BY k").all()


#: columns each holding one value in all three rows (written into the statement or, when that could change the
#: value, still bound), and columns that differ in one row; the same rows also go in bound row by row
SHARED = [None, 7, -(2 ** 63) + 1, -(2 ** 63), 2 ** 63 - 1, "asbuilt", "O'Brien 的 '房'", "", "a?b", "x\x00y",
          "😀 多测合一", 0.1 + 0.2, math.pi, b"\x00\x01", True, "x" * 1001]
MIXED = [[1, 1.0, True], [1, 1, None], [None, None, 2], ["1", "1", 1], [0.5, 0.5, 1], ["a", "a", "b"],
         [b"a", b"a", "a"]]


@pytest.mark.parametrize("values", [[v] * 3 for v in SHARED] + MIXED, ids=repr)
def test_rows_read_back_as_bound(sqlite, values):
    lists = {"k": [1, 2, 3], "a": values, "b": ["same"] * 3, "c": [None] * 3, "d": [1.5, 2.5, 3.5], "e": values}
    with sqlite.begin() as c:
        c.exec_driver_sql("INSERT INTO bound (k, a, b, c, d, e) VALUES (?, ?, ?, ?, ?, ?)",
                          list(zip(*lists.values(), strict=True)))
        bulk.sqlite_insert(c, "written", {name: ("?", [v]) for name, v in lists.items() if name != "e"}
                           | {"e": ("coalesce(?, 'none')", [values])})
        c.exec_driver_sql("UPDATE bound SET e = coalesce(e, 'none')")
        assert _rows(c, "written") == _rows(c, "bound")


def test_shared_values_are_written_into_the_statement_and_others_bound(sqlite, monkeypatch):
    statements = []
    original = bulk.Connection.exec_driver_sql

    def spy(self, sql, parameters=None, *args, **kwargs):
        statements.append((sql, parameters))
        return original(self, sql, parameters, *args, **kwargs)

    monkeypatch.setattr(bulk.Connection, "exec_driver_sql", spy)
    with sqlite.begin() as c:
        bulk.sqlite_insert(c, "written", {"k": ("?", [[1, 2]]), "a": ("?", [["O'Brien", "O'Brien"]]),
                                          "b": ("?", [[None, None]]), "c": ("?", [[0.5, 0.5]]),
                                          "d": ("coalesce(?, ?)", [[None, None], [3, 3]])})
        assert c.exec_driver_sql("SELECT count(*) FROM written").scalar() == 2
    sql, rows = next(s for s in statements if s[0].startswith("INSERT"))
    assert sql == "INSERT INTO written (k, a, b, c, d) VALUES (?, 'O''Brien', NULL, ?, coalesce(NULL, 3))"
    assert rows == [(1, 0.5), (2, 0.5)]  # a float is always bound (its text read back might round otherwise)


def test_rows_of_constants_only_and_a_wrong_call(sqlite):
    with sqlite.begin() as c:
        bulk.sqlite_insert(c, "written", {"a": ("?", [["x"] * 4]), "b": ("?", [[None] * 4])})
        assert c.exec_driver_sql("SELECT count(*), count(DISTINCT k) FROM written").one() == (4, 4)
        bulk.sqlite_insert(c, "written", {"a": ("?", [[]])})  # no rows: nothing
        with pytest.raises(ValueError, match="parameters"):
            bulk.sqlite_insert(c, "written", {"a": ("?", [["x"], ["y"]])})
        with pytest.raises(ValueError, match="lengths"):
            bulk.sqlite_insert(c, "written", {"a": ("?", [["x"]]), "b": ("?", [["y", "z"]])})
    with sqlite.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM written")).scalar() == 4
