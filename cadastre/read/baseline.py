"""Reading the county's existing registry (存量数据): the old system's export, in the containers and layer names of a
package, with its codes filled in (survey-package.md "The county's existing registry").

A baseline is read by :func:`cadastre.read.package.read_package` as stage ``baseline`` (ZDJBXX.ZDDM, ZRZ.ZDDM and
H.BDCDYH required; the table DYDM of every code ever issued optional). :func:`read_baseline` then completes what the
old systems leave out: a unit's 宗地代码 and 幢号 are parts of its code, so a legacy H table that carries only the
code still says which building it belongs to.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cadastre.read.package import SurveyPackage, read_package

__all__ = ["read_baseline", "BASELINE_STAGE", "RETIRED_STATES", "CURRENT_STATES", "code_states"]

BASELINE_STAGE = "baseline"
#: how old systems write a code's state in DYDM.ZT
CURRENT_STATES = frozenset({"现势", "有效", "正常", "0", "1"})
RETIRED_STATES = frozenset({"注销", "历史", "失效", "灭失", "2"})


def read_baseline(path: str | os.PathLike, *, county: str | None = None, storage_epsg: int | None = None,
                  name: str | None = None) -> SurveyPackage:
    """Read an export of the county's existing registry. Raises
    :class:`~cadastre.read.package.PackageRefused` when it cannot be read as a whole."""
    package = read_package(path, county=county, storage_epsg=storage_epsg, name=name, stage=BASELINE_STAGE)
    units = package.layers.get("H")
    if units is not None and "BDCDYH" in units:
        package.layers["H"] = _units_placed_by_code(units)
    return package


def _units_placed_by_code(units: pd.DataFrame) -> pd.DataFrame:
    """ZDDM and ZRZH of units that lack them, from their 不动产单元代码 (宗地代码 + F + 幢号 + 户号)."""
    code = units["BDCDYH"].astype("str").str.strip()
    building_code = code.str.fullmatch(r"\d{12}[A-Z]{2}\d{5}F\d{8}", na=False).to_numpy(bool)
    units = units.copy()
    for column, part in (("ZDDM", slice(0, 19)), ("ZRZH", slice(20, 24))):
        values = units[column].astype("str") if column in units else pd.Series(None, index=units.index, dtype="str")
        fill = building_code & values.isna().to_numpy(bool)
        if fill.any():
            values = values.copy()
            values[fill] = code[fill].str.slice(part.start, part.stop)
        units[column] = values
    return units


def code_states(states: pd.Series) -> np.ndarray:
    """DYDM.ZT as ``current`` / ``retired`` / None (a state this service does not know)."""
    text = states.astype("str").str.strip()
    out = np.full(len(text), None, dtype=object)
    out[text.isin(CURRENT_STATES).to_numpy(bool)] = "current"
    out[text.isin(RETIRED_STATES).to_numpy(bool)] = "retired"
    return out
