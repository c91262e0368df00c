"""Normalising attribute values, a whole column at a time.

Numbers arrive as text from many tools: ``"1,234.5"``, full-width ``"１２３"``, ``"88.5㎡"``. They are normalised;
what still is not a number is *reported* (the caller turns the mask into ATT-002 findings), never guessed. A comma
is read as a thousands separator only where it stands like one (``1,234`` / ``12,345.6``): ``"1,5"`` is refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["to_float", "to_int", "to_code", "to_text", "is_blank"]

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，－＋　", "0123456789.,-+ ")
_UNIT_SUFFIX = r"\s*(?:㎡|m²|m2|平方米|平米|米|m|M)$"
_THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"


def is_blank(series: pd.Series) -> np.ndarray:
    """True where a value is missing or only white space."""
    if series.dtype.kind in "fiub":
        return series.isna().to_numpy(bool)
    text = series.astype("string")
    return (text.isna() | (text.str.strip() == "")).to_numpy(bool)


def to_float(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(values as float64 with NaN for blanks, mask of non-blank values that are not numbers)."""
    if series.dtype.kind in "fiu":
        return series.astype("float64"), np.zeros(len(series), bool)
    if series.dtype.kind == "b":
        return series.astype("float64"), np.zeros(len(series), bool)
    blank = is_blank(series)
    text = series.astype("string").str.strip().str.translate(_FULL_WIDTH).str.replace(_UNIT_SUFFIX, "", regex=True)
    text = text.str.strip()
    thousands = text.str.fullmatch(_THOUSANDS).fillna(False).to_numpy(bool)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    values = pd.to_numeric(text.mask(pd.Series(blank, index=series.index)), errors="coerce").astype("float64")
    bad = ~blank & values.isna().to_numpy(bool)
    return values, bad


def to_int(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(values as nullable Int64, mask of non-blank values that are not whole numbers)."""
    values, bad = to_float(series)
    fractional = values.notna().to_numpy(bool) & (np.mod(values.fillna(0).to_numpy(), 1) != 0)
    bad = bad | fractional
    whole = values.where(~pd.Series(fractional, index=values.index))
    return whole.round().astype("Int64"), bad


def to_code(series: pd.Series) -> pd.Series:
    """Coded values as text: ``3.0`` → ``"3"``, full-width digits folded, blanks → None."""
    if series.dtype.kind in "fiu":
        values = series.astype("float64")
        out = pd.Series([None] * len(series), index=series.index, dtype=object)
        present = values.notna().to_numpy(bool)
        integral = present & (np.mod(values.fillna(0).to_numpy(), 1) == 0)
        out[integral] = values[integral].astype("int64").astype(str).to_numpy()
        out[present & ~integral] = values[present & ~integral].astype(str).to_numpy()
        return out
    text = series.astype("string").str.strip().str.translate(_FULL_WIDTH)
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return _objects(text)


def to_text(series: pd.Series) -> pd.Series:
    """Text values trimmed, blanks → None; whole numbers read from numeric columns lose their ``.0``."""
    if series.dtype.kind in "fiu":
        return to_code(series)
    return _objects(series.astype("string").str.strip())


def _objects(text: pd.Series) -> pd.Series:
    out = text.astype(object)
    return out.where(~(text.isna() | (text == "")).to_numpy(bool), None)
