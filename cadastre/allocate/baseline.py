"""Numbering after the county's existing registry: the high-water mark each scope must reach so that no code the
old system issued — current or retired — is ever issued again (unit-code.md, "numbering scopes")."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["high_water_marks", "MULTI_BUILDING"]

#: 幢号 9999 marks a unit spanning several buildings: a valid code, but not a number the 幢号 counter hands out
MULTI_BUILDING = 9999


def high_water_marks(codes: pd.Series | np.ndarray) -> dict[str, int]:
    """The largest serial of every numbering scope among ``codes`` (宗地代码 and 不动产单元代码, any mix; malformed
    ones are the checks' business and ignored here):

    - 宗地代码: 地籍子区 + 特征码 (14 characters) → 宗地顺序号;
    - unit codes with ``F``: parcel + ``F`` → 幢号 (9999 excluded), parcel + ``F`` + 幢号 → 户号;
    - unit codes with ``L`` / ``Q``: parcel + letter → the 8-digit serial.

    >>> high_water_marks(["141031001002GB00017", "141031001002GB00017F00030012", "141031001002GB00009"])
    {'141031001002GB': 17, '141031001002GB00017F': 3, '141031001002GB00017F0003': 12}
    """
    text = pd.Series(np.asarray(codes, dtype=object), dtype="str").dropna().str.strip()
    text = text[text.str.fullmatch(r"\d{12}[A-Z]{2}\d{5}(?:[FLQW]\d{8})?", na=False)].drop_duplicates()
    parts = [_max(text.str.slice(0, 14), text.str.slice(14, 19))]
    units = text[text.str.len() == 28]
    fixture = units.str.slice(19, 20)
    buildings = units[fixture == "F"]
    number = buildings.str.slice(20, 24)
    automatic = number.astype("int64") != MULTI_BUILDING
    parts.append(_max(buildings.str.slice(0, 20)[automatic], number[automatic]))
    parts.append(_max(buildings.str.slice(0, 24), buildings.str.slice(24, 28)))
    others = units[fixture.isin(["L", "Q"])]
    parts.append(_max(others.str.slice(0, 20), others.str.slice(20, 28)))
    marks: dict[str, int] = {}
    for part in parts:
        marks.update({scope: value for scope, value in part.items() if value > 0})
    return marks


def _max(scopes: pd.Series, serials: pd.Series) -> dict[str, int]:
    if scopes.empty:
        return {}
    frame = pd.DataFrame({"scope": scopes.to_numpy(object), "serial": serials.astype("int64").to_numpy()})
    return {str(k): int(v) for k, v in frame.groupby("scope", sort=True)["serial"].max().items()}
