"""The check framework: rules registered with what they need, run over whole layers.

A rule is a plain function ``f(ctx: CheckContext) -> findings frame``. :func:`rule` registers it with its id (the
severity and description come from the catalogue in ``cadastre.core.catalogue``), the layers it needs, the stages it applies
to, the tolerance settings it reads and whether it needs data from the registry. :func:`run_checks` runs every rule
whose inputs are present and says which were not run and why.

Rules are pure: everything they need from the database (registered parcels nearby, zoning, the status of supplied
codes) is fetched by the pipeline beforehand and handed in as :class:`RegistryFacts`. A rule that reads it at all
(``uses_registry``) belongs to the *registry phase*: ingest runs that phase again inside the write transaction
that accepts, so what it decided still holds at commit (``run_checks(..., phase=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from cadastre.core import collector
from cadastre.core import findings as fnd
from cadastre.core.catalogue import CATALOGUE
from cadastre.core.model import RegistryFacts
from cadastre.read.structure import Structure

__all__ = ["CheckContext", "RegistryFacts", "RuleSpec", "rule", "RULES", "run_checks", "tolerance", "area_limit",
           "PACKAGE_PHASE", "REGISTRY_PHASE", "rule_order"]


_T = TypeVar("_T")


@dataclass
class CheckContext:
    """Everything a rule may read."""

    package: Any  # cadastre.read.package.SurveyPackage
    tolerances: dict[str, Any]  # the county's tolerances (settings.tolerances)
    registry: RegistryFacts | None = None
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def shared(self, key: str, make: Callable[[], _T]) -> _T:
        """What several rules compute alike from the package (the parcels' vertices and their KD-tree), made by
        ``make`` once for this check."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    @property
    def crs(self) -> int:
        return self.package.storage_epsg

    @property
    def stage(self) -> str:
        return self.package.stage

    def layer(self, code: str) -> gpd.GeoDataFrame | None:
        return self.package.layers.get(code)

    @property
    def structure(self) -> Structure:
        """Which building, floor(s) and unit each row is: one reading for every rule (``read.structure``)."""
        return self.package.structure

    def geometries(self, code: str) -> np.ndarray:
        """The layer's geometries as an object array (None where missing)."""
        return np.asarray(self.package.layers[code].geometry.values, dtype=object)

    def usable(self, code: str) -> np.ndarray:
        """Rows whose geometry is present, of the right kind and valid: the reader decided this once (the rows that
        are not were reported by GEO-001/002/006)."""
        return self.package.layers[code]["geometry_valid"].to_numpy(bool)

    def lonlat(self, geometries) -> np.ndarray:
        return fnd.lonlat_points(geometries, self.crs)


@dataclass(frozen=True)
class RuleSpec:
    id: str
    function: Callable[[CheckContext], pd.DataFrame]
    layers: tuple[str, ...]  # all must be present
    stages: tuple[str, ...]
    tolerances: tuple[str, ...]  # dotted keys into the rules file
    needs_registry: bool = False  # cannot run at all without the registry
    uses_registry: bool = False  # reads the registry when there is one (always true when it needs it)

    @property
    def severity(self) -> str:
        return CATALOGUE[self.id].severity

    @property
    def description(self) -> str:
        return CATALOGUE[self.id].description


RULES: dict[str, RuleSpec] = {}
ALL_STAGES = ("cadastral", "presale", "asbuilt", "baseline")  # the county's existing registry too


def rule(rule_id: str, *, layers: tuple[str, ...], stages: tuple[str, ...] = ALL_STAGES,
         tolerances: tuple[str, ...] = (), needs_registry: bool = False, uses_registry: bool = False):
    """Register a check function under ``rule_id`` (which must be in the catalogue). ``needs_registry``: the rule
    cannot run without registry data; ``uses_registry``: it reads that data when given (both put it in the
    registry phase)."""
    if rule_id not in CATALOGUE:
        raise KeyError(f"{rule_id} is not in the rule catalogue")

    def register(function):
        RULES[rule_id] = RuleSpec(rule_id, function, layers, stages, tolerances, needs_registry,
                                  needs_registry or uses_registry)
        return function

    return register


def rule_order(findings: pd.DataFrame | list[dict]) -> pd.DataFrame | list[dict]:
    """Findings (a frame) or notes on rules not run (a list of dicts with ``rule``) of both phases in the order
    the rules are registered (stable within a rule), as one run of every rule would have given them."""
    position = {rule_id: i for i, rule_id in enumerate(RULES)}
    if isinstance(findings, list):
        return sorted(findings, key=lambda note: position.get(note["rule"], len(position)))
    if findings.empty:
        return findings
    keys = findings["rule"].map(position).fillna(len(position))
    return findings.iloc[np.argsort(keys.to_numpy(), kind="stable")].reset_index(drop=True)


def tolerance(tolerances: dict[str, Any], key: str) -> Any:
    section, name = key.split(".", 1)
    return tolerances[section][name]


def area_limit(tolerances: dict[str, Any], area: np.ndarray) -> np.ndarray:
    """Permitted |declared − computed| for areas ``area`` m² (GB/T 17986.1, the county's level)."""
    level = str(tolerances["area"]["level"])
    a, b = tolerances["area"]["levels"][level]
    area = np.abs(np.asarray(area, dtype=float))
    return a * np.sqrt(area) + b * area


#: the two phases of a check: rules over the package alone, and rules that compare it with the registry
PACKAGE_PHASE, REGISTRY_PHASE = "package", "registry"


@collector.paused()
def run_checks(ctx: CheckContext, only: set[str] | None = None,
               progress: Callable[[float], None] | None = None,
               phase: str | None = None) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Run every applicable rule; returns (findings, rules not run with the reason in Chinese).

    ``phase``: only the rules over the package alone (:data:`PACKAGE_PHASE`), or only those that read the
    registry (:data:`REGISTRY_PHASE`); None runs both. ``progress`` is called with the fraction of rules done
    after each one."""
    from cadastre.qa.rules import load_rules

    load_rules()
    parts, skipped = [], []
    specs = [spec for spec in RULES.values()
             if phase is None or spec.uses_registry == (phase == REGISTRY_PHASE)]
    for done, spec in enumerate(specs, start=1):
        if progress is not None:
            progress((done - 1) / len(specs))
        if only is not None and spec.id not in only:
            continue
        if ctx.stage not in spec.stages:
            continue
        if any(ctx.layer(code) is None for code in spec.layers):
            continue  # an optional layer the package does not carry; missing required layers are PKG-001
        if spec.needs_registry and ctx.registry is None:
            skipped.append({"rule": spec.id, "reason": "未连接登记库，无法与现势数据比对"})
            continue
        result = spec.function(ctx)
        if isinstance(result, tuple):
            result, note = result
            if note:
                skipped.append({"rule": spec.id, "reason": note})
        parts.append(result)
    return fnd.concat(parts), skipped
