"""Normalising attribute values, a whole column at a time.

Numbers arrive as text from many tools: ``"1,234.5"``, full-width ``"１２３"``, ``"88.5㎡"``. They are normalised;
what still is not a number is *reported* (the caller turns the mask into ATT-002 findings), never guessed. A comma
is read as a thousands separator only where it stands like one (``1,234`` / ``12,345.6``): ``"1,5"`` is refused.

Text stays in pandas' Arrow-backed ``str`` dtype (missing values are NA), so every step here runs in Arrow's
compute kernels rather than a Python loop; full-width folding, which Arrow lacks, touches only non-ASCII rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["to_float", "to_int", "to_code", "to_text", "is_blank"]

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，－＋　", "0123456789.,-+ ")
_UNIT_SUFFIX = r"\s*(?:㎡|m²|m2|平方米|平米|米|m|M)$"
_THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"


def _strings(series: pd.Series) -> pd.Series:
    """Trimmed text in the ``str`` dtype, blanks as NA, full-width digits and punctuation folded to ASCII."""
    text = series.astype("str").str.strip()
    text = text.where(text != "")
    # Arrow's ASCII test, not a regular expression over every value (a tenth of the time)
    wide = ~pc.string_is_ascii(pa.array(text)).fill_null(True).to_numpy(zero_copy_only=False)
    if wide.any():
        text = text.copy()
        text[wide] = text[wide].str.translate(_FULL_WIDTH).str.strip()
    return text


def is_blank(series: pd.Series) -> np.ndarray:
    """True where a value is missing or only white space."""
    if series.dtype.kind in "fiub":
        return series.isna().to_numpy(bool)
    text = series.astype("str").str.strip()
    return (text.isna() | (text == "")).to_numpy(bool)


def to_float(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(values as float64 with NaN for blanks, mask of non-blank values that are not numbers)."""
    if series.dtype.kind in "fiub":
        return series.astype("float64"), np.zeros(len(series), bool)
    text = _strings(series)
    blank = text.isna().to_numpy(bool)
    text = text.str.replace(_UNIT_SUFFIX, "", regex=True)
    thousands = text.str.fullmatch(_THOUSANDS, na=False).to_numpy(bool)
    if thousands.any():
        text = text.copy()
        text[thousands] = text[thousands].str.replace(",", "", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values, ~blank & values.isna().to_numpy(bool)


def to_int(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(values as nullable Int64, mask of non-blank values that are not whole numbers)."""
    values, bad = to_float(series)
    raw = values.to_numpy()
    fractional = ~np.isnan(raw) & (np.mod(np.nan_to_num(raw), 1) != 0)
    raw = np.where(fractional, np.nan, raw)
    return pd.Series(pd.array(np.round(raw), dtype="Float64").astype("Int64"), index=values.index), bad | fractional


def to_code(series: pd.Series) -> pd.Series:
    """Coded values as text: ``3.0`` → ``"3"``, full-width digits folded, blanks → NA."""
    if series.dtype.kind in "fiu":
        values = series.astype("float64").to_numpy()
        integral = ~np.isnan(values) & (np.mod(np.nan_to_num(values), 1) == 0)
        text = pd.Series(values, index=series.index).astype("str")
        text[integral] = pd.Series(values[integral].astype("int64"), index=series.index[integral]).astype("str")
        return text.where(~np.isnan(values))
    text = _strings(series)
    if pc.any(pc.match_substring(pa.array(text), ".")).as_py():  # ``3.0`` written as text: rare, looked for first
        text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text


def to_text(series: pd.Series) -> pd.Series:
    """Text values trimmed, blanks → NA; whole numbers read from numeric columns lose their ``.0``."""
    if series.dtype.kind in "fiu":
        return to_code(series)
    text = series.astype("str").str.strip()
    return text.where(text != "")
