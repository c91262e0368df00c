"""Coding a cadastral survey's parcels, as pure functions over frames: which 地籍子区 each parcel lies in, which
supplied codes a re-survey keeps, and the codes the numbers reserved make (unit-code.md "Allocation rules",
"When codes change"). The registry reserves the numbers and writes the rows (``registry.ingest``)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cadastre.allocate.policy import ScopePlan

__all__ = ["subdistrict_codes", "Resurvey", "resurvey", "parcel_codes", "SAME_SHAPE_M2"]

#: a re-surveyed parcel whose outline moved by less than this (symmetric difference, m²) keeps its code
SAME_SHAPE_M2 = 0.01


def subdistrict_codes(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.Series:
    """The 地籍子区代码 of the sub-district holding the largest part of each parcel (NA: in none)."""
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    zone_geoms = np.asarray(zones.geometry.values, dtype=object)
    left, right = shapely.STRtree(zone_geoms).query(geoms, predicate="intersects")
    area = shapely.area(shapely.intersection(geoms[left], zone_geoms[right]))
    best = pd.DataFrame({"p": left, "z": right, "a": area}).sort_values("a").groupby("p").last()
    codes = pd.Series(zones["djzqdm"].to_numpy(object)[best["z"].to_numpy()], index=best.index)
    return codes.reindex(range(len(parcels)))


@dataclass(frozen=True)
class Resurvey:
    """What a survey that names current parcels does to them."""

    kept: pd.Series  # per parcel of the package: the code it keeps (NA: it gets a new one)
    unchanged_ids: list[int]  # registered rows re-surveyed with type and outline unchanged (ended, code kept)
    changed_ids: list[int]  # registered rows whose type or outline changed (ended, codes retired)
    retirements: list[tuple[int, str, str | None, str]]  # (package row, old 宗地代码, old land code, reason)


def resurvey(parcels: gpd.GeoDataFrame, feature_codes: pd.Series, registered: gpd.GeoDataFrame) -> Resurvey:
    """Compare the package's parcels that name a current parcel (``ZDDM``) with it (``registered``: zddm, id,
    bdcdyh, geometry): same 特征码 and outline keeps the code; otherwise the old codes are retired."""
    kept = pd.Series([None] * len(parcels), dtype=object)
    supplied = parcels["ZDDM"].astype("str")
    old = registered.set_index("zddm")
    rows = np.flatnonzero(supplied.isin(old.index).to_numpy(bool))
    if not len(rows):
        return Resurvey(kept, [], [], [])
    before = old.loc[supplied.iloc[rows]]
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    same_type = (supplied.iloc[rows].str[12:14] == feature_codes.iloc[rows]).to_numpy(bool)
    same_shape = shapely.area(shapely.symmetric_difference(np.asarray(before.geometry.values, dtype=object),
                                                           geoms[rows])) <= SAME_SHAPE_M2
    unchanged = same_type & same_shape
    kept.iloc[rows[unchanged]] = supplied.iloc[rows[unchanged]].to_numpy(object)
    retirements = [(int(rows[k]), supplied.iat[rows[k]], before["bdcdyh"].iat[k],
                    "宗地界址变化" if same_type[k] else "宗地特征码变化") for k in np.flatnonzero(~unchanged)]
    return Resurvey(kept, [int(i) for i in before["id"][unchanged]], [int(i) for i in before["id"][~unchanged]],
                    retirements)


def parcel_codes(kept: pd.Series, plan: ScopePlan, starts: dict[str, int]) -> np.ndarray:
    """Each parcel's 宗地代码: the one it keeps, else its scope and the number reserved for it (``starts``: the
    first number reserved in each scope of ``plan``)."""
    return np.array([kept.iat[i] if pd.isna(plan.scopes.iat[i]) else
                     f"{plan.scopes.iat[i]}{starts[plan.scopes.iat[i]] + plan.rank[i]:05d}"
                     for i in range(len(kept))], dtype=object)
