"""Code allocation policy, as pure functions over frames (unit-code.md "Allocation rules").

The policy decides *what* is numbered, in which scope and in which order; the store reserves the numbers
(``store.counters.reserve``, atomic) and the pipeline combines the two. Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["allocation_order", "ScopePlan", "plan_scopes", "unit_order", "UnitMatch", "match_units",
           "AREA_DEVIATION_LIMIT"]

AREA_DEVIATION_LIMIT = 0.03  # 面积误差比 beyond ±3 % is flagged (qa-and-planning.md)


def _natural(values: pd.Series) -> pd.Series:
    """A sort key that orders "2" before "10" (BSM are often numbers written as text)."""
    text = values.astype("str").fillna("")
    return text.str.zfill(12).where(text.str.fullmatch(r"\d+", na=False), text)


def allocation_order(frame: pd.DataFrame) -> np.ndarray:
    """Deterministic allocation order: by BSM (numbers numerically), else by position in the file."""
    key = pd.DataFrame({"bsm": _natural(frame["BSM"]) if "BSM" in frame else "", "row": frame["source_row"]})
    return np.lexsort((key["row"].to_numpy(), key["bsm"].to_numpy(dtype=object).astype(str)))


@dataclass(frozen=True)
class ScopePlan:
    """Which rows are numbered in which scope (code prefix), in allocation order."""

    scopes: pd.Series  # per row: the prefix it is numbered within (NA: not numbered here)
    rank: np.ndarray  # per row: 0-based position within its scope, in allocation order
    counts: dict[str, int]  # numbers needed per scope


def plan_scopes(scopes: pd.Series, order: np.ndarray) -> ScopePlan:
    """Group rows by scope and rank them within it following ``order``."""
    ordered = pd.Series(scopes.to_numpy(object)[order])
    rank_ordered = ordered.groupby(ordered, dropna=True).cumcount().to_numpy()
    rank = np.full(len(scopes), -1)
    present = ordered.notna().to_numpy(bool)
    rank[order[present]] = rank_ordered[present]
    counts = {str(k): int(v) for k, v in ordered.dropna().value_counts(sort=False).items()}
    return ScopePlan(scopes, rank, dict(sorted(counts.items())))


def unit_order(units: pd.DataFrame) -> np.ndarray:
    """户号 order within a building: floor (实际层), 单元, room order on the floor, room label, then BSM."""
    keys = [units["BSM"].astype("str").fillna("").to_numpy(object),
            _natural(units["SHBW"]).to_numpy(object),
            units["HH"].astype("Float64").fillna(1e9).to_numpy(float),
            _natural(units["DYH"]).to_numpy(object),
            units["SJC"].astype("Float64").fillna(1e9).to_numpy(float)]
    return np.lexsort([k.astype(str) if k.dtype == object else k for k in keys])


@dataclass(frozen=True)
class UnitMatch:
    """As-built units against the current pre-sale units of the same buildings."""

    kept: pd.Series  # per as-built unit: the pre-sale code it keeps (NA: a new unit)
    how: pd.Series  # "code" (supplied BDCDYH) | "position" (幢 + 单元 + 实际层 + 室号, normalised) | NA
    retired: pd.DataFrame  # pre-sale units with no as-built counterpart: bdcdyh, zrzh, sjc, shbw


def match_units(asbuilt: pd.DataFrame, presale: pd.DataFrame) -> UnitMatch:
    """Match the units of a new survey (canonical columns with ``identity``: 幢号 | 单元 | lowest floor | room, see
    ``read.structure.unit_identities``) to the current units of the same buildings (``bdcdyh``, ``identity``): the
    supplied BDCDYH first, else the identity — so ``0501`` at pre-sale and ``501`` at as-built are one unit."""
    index = asbuilt.index
    current = set(presale["bdcdyh"].to_numpy(object))
    # object strings, said explicitly (pandas infers its pyarrow-backed ``str`` from an array of strings, whose
    # membership test against a Python set is 20 times slower)
    supplied = pd.Series(asbuilt["BDCDYH"].astype("str").to_numpy(object), index=index, dtype=object)
    by_code = supplied.where(supplied.isin(current))
    lookup = pd.Series(presale["bdcdyh"].to_numpy(object), index=presale["identity"].to_numpy(object), dtype=object)
    lookup = lookup[~lookup.index.duplicated(keep=False)]
    by_position = pd.Series(asbuilt["identity"].to_numpy(object), index=index, dtype=object).map(lookup)
    kept = by_code.astype(object).where(by_code.notna(), by_position)
    # one pre-sale code goes to one as-built unit only: later claims become new units
    kept = kept.where(~kept.duplicated(keep="first") | kept.isna())
    how = pd.Series(np.where(by_code.notna(), "code", np.where(kept.notna(), "position", None)), index=index,
                    dtype=object)
    gone = ~pd.Series(presale["bdcdyh"].to_numpy(object), dtype=object).isin(set(kept.dropna())).to_numpy(bool)
    retired = presale[gone]
    return UnitMatch(kept, how, retired.reset_index(drop=True))
