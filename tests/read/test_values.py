"""Column normalisation: numbers read the way surveyors write them; unreadable values flagged, never guessed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cadastre.read.values import is_blank, to_code, to_float, to_int, to_text


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234.5", 1234.5), ("12,345", 12345.0), ("１２３", 123.0), ("８８．５", 88.5), ("88.5㎡", 88.5),
     ("99 平方米", 99.0), ("12m2", 12.0), (" 12 ", 12.0), ("-3", -3.0), ("1e3", 1000.0)],
)
def test_numbers_normalised(text, value):
    values, bad = to_float(pd.Series([text], dtype=object))
    assert values.iat[0] == value and not bad[0]


@pytest.mark.parametrize("text", ["abc", "1,5", "1,23,4", "约100", "12.3.4"])
def test_unreadable_numbers_are_flagged_not_guessed(text):
    values, bad = to_float(pd.Series([text], dtype=object))
    assert np.isnan(values.iat[0]) and bad[0]


def test_blanks_are_missing_not_unreadable():
    values, bad = to_float(pd.Series(["", "  ", None], dtype=object))
    assert values.isna().all() and not bad.any()
    assert is_blank(pd.Series(["", " ", None, "x"], dtype=object)).tolist() == [True, True, True, False]


def test_integers():
    values, bad = to_int(pd.Series(["3", "3.0", "3.5", "-1", None, "x"], dtype=object))
    assert values.tolist()[:4] == [3, 3, pd.NA, -1] and bad.tolist() == [False, False, True, False, False, True]
    assert str(values.dtype) == "Int64"


def test_codes_and_text():
    assert to_code(pd.Series([3.0, np.nan, 10.0])).tolist()[::2] == ["3", "10"]
    assert to_code(pd.Series(["071", " 11 ", "３", "11.0", ""], dtype=object)).tolist()[:4] == ["071", "11", "3",
                                                                                              "11"]
    text = to_text(pd.Series([" 龙泉镇 ", "", None], dtype=object))
    assert text.iat[0] == "龙泉镇" and text.iloc[1:].isna().all()
