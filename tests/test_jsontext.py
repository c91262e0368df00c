"""The registry's JSON text (cadastre.core.jsontext): one encoder for the JSON columns and the API's bodies."""

import datetime as dt
import json

import numpy as np
import pandas as pd

from cadastre.core import jsontext

WHEN = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)
PLAIN = {"n": np.int64(3), "x": np.float32(2.5), "ok": np.bool_(True), "at": WHEN, "day": dt.date(2026, 1, 2),
         "pair": (1, "宗地"), "nested": [{"area": 1.25}], "stamp": pd.Timestamp("2026-01-01 10:00"), 7: "key",
         "areas": np.array([1.5, 2.0])}
EXPECTED = {"n": 3, "x": 2.5, "ok": True, "at": "2026-11-28T09:30:00+00:00", "day": "2026-01-02",
            "pair": [1, "宗地"], "nested": [{"area": 1.25}], "stamp": "2026-01-01T10:00:00", "7": "key",
            "areas": [1.5, 2.0]}


def test_values_are_written_as_the_registry_shows_them():
    assert json.loads(jsontext.dumps(PLAIN)) == EXPECTED
    assert "宗地" in jsontext.dumps(PLAIN)  # Chinese kept as is
    assert jsontext.dumps_bytes(PLAIN) == jsontext.dumps(PLAIN).encode("utf-8")


def test_nan_and_infinities_become_null_on_either_encoder():
    odd = {**PLAIN, "missing": float("nan"), "far": [np.float64("inf")], "deep": [{"v": np.float32("nan")}],
           "holes": np.array([np.nan, 1.0]), "stamps": np.array([WHEN], dtype=object)}
    nulls = {"missing": None, "far": [None], "deep": [{"v": None}], "holes": [None, 1.0],
             "stamps": ["2026-11-28T09:30:00+00:00"]}
    assert json.loads(jsontext.dumps(odd)) == {**EXPECTED, **nulls}
    # an integer beyond 64 bits goes through the standard encoder: same values
    assert json.loads(jsontext.dumps({**odd, "big": 2**70})) == {**EXPECTED, **nulls, "big": 2**70}


def test_text_stored_before_reads_with_its_nan_literals():
    assert jsontext.loads('{"a": [1, "宗地"]}') == {"a": [1, "宗地"]}
    assert np.isnan(jsontext.loads('{"ratio": NaN}')["ratio"])  # the standard encoder wrote these into reports


def test_stored_text_is_embedded_as_it_is_unless_it_holds_a_nan():
    stored = '{"units": [{"bdcdyh": "141031001002GB00001F00010001", "area": 88.5}]}'
    document = jsontext.dumps({"id": 1, "report": jsontext.embedded(stored)})
    assert stored in document and json.loads(document)["report"] == json.loads(stored)
    old = '{"ratio": NaN, "far": [Infinity, 1]}'
    assert json.loads(jsontext.dumps({"report": jsontext.embedded(old)})) == {"report": {"ratio": None,
                                                                                         "far": [None, 1]}}
