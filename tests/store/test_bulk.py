"""SQLite's bulk insert (``bulk.sqlite_insert``): a column holding one value in every row is written into the
statement, and every row reads back exactly as the driver would have bound it — value and SQLite type."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from cadastre.store import bulk, pgcopy
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


#: columns as the accept hands them over: text, areas with gaps, and what the quick path must leave to Arrow
COLUMNS = [["1-101", "2-B102", "一单元101室", ""], [88.5, math.nan, 0.1 + 0.2, -0.0], [1.5, math.inf, -math.inf, 2.0],
           [1.5, None, 2.5, 3.0], [1.5, pd.NA, 2.5, 3.0], [np.float64(1.5), 2.5, 3.5, 4.5], [1, 2, 3, 4],
           ["a", None, "b", math.nan], ["a", pd.NA, "b", "c"], [True, False, True, True], [1.0, 2, 3.0, 4.0],
           [math.nan] * 4]


@pytest.mark.parametrize("values", COLUMNS, ids=repr)
@pytest.mark.parametrize("kind", [list, lambda v: np.asarray(v, dtype=object)], ids=["list", "array"])
def test_a_columns_values_are_arrows_with_or_without_the_quick_path(sqlite, values, kind):
    expected = pgcopy.arrow_column(np.asarray(values, dtype=object)).to_pylist()
    with sqlite.connect() as c:
        given = bulk.sqlite_values(c, kind(values), sa.Float())
    assert [(type(v), repr(v)) for v in given] == [(type(v), repr(v)) for v in expected]


#: one column varying, the others shared: the rows go in as one statement over a JSON array when they are texts or
#: integers (none of which JSON could change), else bound row by row
ALONE = [["a", "b", "c"], ["O'Brien", None, "a?b"], ["😀 多测合一", "\\", '"q"'], [1, None, 2 ** 63 - 1],
         [-(2 ** 63) + 1, 0, 7], [-(2 ** 63), 0, 7], ["x\x00y", "a", "b"], [1, "1", None], [1.5, 2.5, 3.5],
         [True, False, True], [None, None, "z"]]


@pytest.mark.parametrize("values", ALONE, ids=repr)
def test_one_varying_column_reads_back_as_bound(sqlite, values, monkeypatch):
    statements = []
    original = bulk.Connection.exec_driver_sql

    def spy(self, sql, parameters=None, *args, **kwargs):
        statements.append(sql)
        return original(self, sql, parameters, *args, **kwargs)

    lists = {"k": [4, 5, 6], "a": values, "b": ["same"] * 3, "c": [None] * 3, "d": [9] * 3}
    with sqlite.begin() as c:
        c.exec_driver_sql("INSERT INTO bound (k, a, b, c, d) VALUES (?, ?, ?, ?, ?)",
                          list(zip(*lists.values(), strict=True)))
        monkeypatch.setattr(bulk.Connection, "exec_driver_sql", spy)
        bulk.sqlite_insert(c, "written", {"k": ("?", [[None] * 3]), "a": ("?", [values]), "b": ("?", [lists["b"]]),
                                          "c": ("?", [lists["c"]]), "d": ("?", [lists["d"]])})
        monkeypatch.undo()
        c.exec_driver_sql("UPDATE written SET k = k + 3")  # rowids 1, 2, 3 in the order given
        assert _rows(c, "written") == _rows(c, "bound")
    as_json = all(isinstance(v, str) and "\x00" not in v or v is None for v in values) or all(
        type(v) is int and v > -(2 ** 63) or v is None for v in values)
    assert ("json_each" in statements[0]) == as_json, statements
