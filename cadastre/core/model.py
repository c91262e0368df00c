"""Plain declarations of the data the layers hand each other: what the registry's zoning is, and what the registry
knows around a package. Defined here, below every layer, so that the store can return them and the checks take
them without either importing the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cadastre.read.raw import LayerRead

__all__ = ["Zoning", "RegistryFacts", "BaselineFacts"]


@dataclass
class Zoning:
    """地籍区 and 地籍子区 polygons in the storage CRS.

    ``districts``: columns ``djqdm``, ``djqmc``, ``county``, ``geometry``; ``subdistricts``: ``djzqdm``,
    ``djqdm``, ``djzqmc``, ``county``, ``geometry``. ``layers`` records how each layer was read (when it was).
    """

    districts: gpd.GeoDataFrame
    subdistricts: gpd.GeoDataFrame
    layers: tuple[LayerRead, ...] = field(default=())

    @property
    def counties(self) -> list[str]:
        return sorted(set(self.districts["county"]) | set(self.subdistricts["county"]))


@dataclass
class RegistryFacts:
    """What the registry knows around one package, read by the store (``store.context.registry_facts``) and
    handed to the rules of the registry phase (``cadastre.qa``)."""

    parcels: gpd.GeoDataFrame  # current registered parcels near the package: zddm, geometry
    subdistricts: gpd.GeoDataFrame | None  # current 地籍子区: djzqdm, geometry (None: zoning not loaded)
    code_status: dict[str, str] = field(default_factory=dict)  # supplied code → current | retired | (absent)
    # the parcels a pre-sale / as-built package stands on (zddm, qlsdfs, geometry), the main one first
    project_parcel: gpd.GeoDataFrame | None = None
    building_parcel: np.ndarray | None = None  # per ZRZ row: the zddm of the parcel it is coded under (None: none)


@dataclass
class BaselineFacts:
    """What the registry knows about the codes and land of one lot of the county's existing registry, read by the
    store under the county's lock (``store.baseline.baseline_facts``) for the checks of ``cadastre.qa.baseline``."""

    # the lot's codes the registry has issued already: code, kind, retired (bool), package_id, stage (baseline: an
    # earlier lot), filename, issued_at
    issued: pd.DataFrame
    parcels: frozenset[str]  # 宗地代码 of current registered parcels the lot's buildings name but does not carry
    subdistricts: gpd.GeoDataFrame | None  # current 地籍子区 (djzqdm, geometry); None: zoning not loaded
    registered: gpd.GeoDataFrame | None = None  # current parcels around the lot (zddm, qlsdfs, geometry)
