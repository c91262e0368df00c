"""``check``: read a package and run its checks, storing nothing. The same function the service runs on upload."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cadastre.core import findings as fnd
from cadastre.core.errors import InputError
from cadastre.core.geometry import UNDERGROUND
from cadastre.core.permit import Permit, load_permit, permit_differences, red_line_geometry
from cadastre.core.progress import Progress, safe, scaled
from cadastre.qa import planning
from cadastre.qa.report import Report
from cadastre.qa.rules import CheckContext, RegistryFacts, run_checks
from cadastre.qa.rules.base import PACKAGE_PHASE, REGISTRY_PHASE, rule_order
from cadastre.read.package import SurveyPackage, read_package

__all__ = ["check_package", "check_read_package", "check_package_alone", "check_against_registry", "PackageChecks",
           "read_for_check", "Facts", "READ_SHARE"]


#: share of the whole check taken by reading the package (the rules take the rest)
READ_SHARE = 0.3


@dataclass(frozen=True)
class PackageChecks:
    """What the rules over the package alone found (the package phase): everything but what compares the package
    with the registry, so that it can run before any lock is taken."""

    package: SurveyPackage
    findings: pd.DataFrame
    not_run: list[dict[str, str]]


def check_package_alone(package: SurveyPackage, *, progress: Progress | None = None,
                        span: tuple[float, float] = (0.0, 1.0)) -> PackageChecks:
    """Run every rule that reads the package only (the heavy part of a check: geometry, topology within the
    package, attributes). ``progress`` hears ``checking`` from ``span[0]`` to ``span[1]``."""
    context = CheckContext(package, package.county.tolerances, None)
    found, not_run = run_checks(context, progress=scaled(safe(progress), "checking", *span), phase=PACKAGE_PHASE)
    return PackageChecks(package, found, not_run)


def check_against_registry(alone: PackageChecks, *, registry: RegistryFacts | None = None,
                           permit: Permit | None = None) -> Report:
    """Finish a check: run the rules that compare the package with ``registry`` (what the registry knows around
    it, ``store.context.check_facts``; None: not connected, and the report says which rules did not run), the
    permit comparison and, for a building package, the planning verification; return the whole report.

    Ingest calls this inside the transaction that accepts, under the county's lock, so that what it decides
    (no overlap with registered land, the parcel a building stands on, the codes it names) still holds at commit.
    ``permit`` is the recorded permit: it wins over the package's own ``permit.json``, and every difference
    between the two is reported."""
    package = alone.package
    context = CheckContext(package, package.county.tolerances, registry)
    found, not_run = run_checks(context, phase=REGISTRY_PHASE)
    parts = [package.findings, rule_order(fnd.concat([alone.findings, found]))]
    if permit is not None and package.permit is not None:
        differences = permit_differences(permit, package.permit)
        parts.append(fnd.of_rule(
            "PKG-008", "package", [key for key, _, _ in differences],
            [f"成果包中的规划许可与登记的许可不一致：{key} 登记为 {a}，成果包为 {b}" for key, a, b in differences]))
    used = permit or package.permit
    indicators = []
    if package.stage in ("presale", "asbuilt"):
        indicators = _planning(package, used, permit is not None, registry)
        parts.append(planning.indicator_findings(indicators, package.storage_epsg, _places(package, registry)))
    report = Report.from_package(package, fnd.concat(parts))
    report.not_run = rule_order(alone.not_run + not_run)
    report.indicators = [i.to_dict() for i in indicators]
    if used is not None:
        report.package["permit"] = {"number": used.number, "source": "recorded" if permit else "package"}
    return report


def check_read_package(package: SurveyPackage, *, permit: Permit | None = None,
                       registry: RegistryFacts | None = None, progress: Progress | None = None,
                       span: tuple[float, float] = (0.0, 1.0)) -> Report:
    """Run every rule on a package already read, and for a building package the planning verification: the
    package phase (:func:`check_package_alone`) then the registry phase (:func:`check_against_registry`).

    ``registry`` is what the registry knows around the package (``store.context.check_facts``); without it the
    rules that compare with registered data are not run, and the report says so. ``progress`` hears ``checking``
    from ``span[0]`` to ``span[1]`` of the whole."""
    alone = check_package_alone(package, progress=progress, span=span)
    return check_against_registry(alone, registry=registry, permit=permit)


def _project_parcel(registry: RegistryFacts | None):
    """The project's land (the union of the surface parcels it stands on: a project may span two land grants; an
    underground parcel holds no land area) and its main parcel's code."""
    parcel = None if registry is None else registry.project_parcel
    if parcel is None or not len(parcel):
        return None, None
    surface = parcel[parcel["qlsdfs"].to_numpy(object) != UNDERGROUND] if "qlsdfs" in parcel else parcel
    land = surface if len(surface) else parcel
    geometry = land.geometry.iat[0] if len(land) == 1 else shapely.union_all(np.asarray(land.geometry.values,
                                                                                         dtype=object))
    return geometry, parcel["zddm"].iat[0]


def _planning(package: SurveyPackage, permit: Permit | None, recorded: bool, registry: RegistryFacts | None):
    geometry, code = _project_parcel(registry)
    return planning.verify(package, permit, package.county.tolerances, parcel=geometry, parcel_code=code,
                           red_line=red_line_geometry(permit) if permit is not None and recorded else None)


def _places(package: SurveyPackage, registry: RegistryFacts | None) -> dict:
    """Where planning findings sit on the map: each building at its footprint, the project at its parcel."""
    places = {}
    buildings = package.layers.get("ZRZ")
    if buildings is not None and len(buildings):
        usable = buildings["geometry_valid"].to_numpy(bool)
        points = shapely.point_on_surface(np.asarray(buildings.geometry.values, dtype=object)[usable])
        places.update(zip(buildings["ZRZH"].astype(str).to_numpy(object)[usable], points, strict=True))
        if usable.any():
            places[None] = shapely.point_on_surface(shapely.union_all(
                np.asarray(buildings.geometry.values, dtype=object)[usable]))
    geometry, _ = _project_parcel(registry)
    if geometry is not None:
        places[None] = shapely.point_on_surface(geometry)
    return places


def read_for_check(path: str | os.PathLike, *, county: str | None = None, storage_epsg: int | None = None,
                   name: str | None = None) -> SurveyPackage | Report:
    """The package read for checking, or — when it cannot be read as a whole (unsafe archive, broken zip, no way to
    tell its stage or county) — the report of its refusal. ``name``: the package as the surveyor named it."""
    try:
        return read_package(path, county=county, storage_epsg=storage_epsg, name=name)
    except InputError as e:
        return Report.refusal(name or Path(path).name, e)


#: what a check asks of a registry: (package, recorded permit or None) → (facts around it, the permit to use)
Facts = Callable[[SurveyPackage, Permit | None], tuple[RegistryFacts, Permit | None]]


def check_package(path: str | os.PathLike, *, county: str | None = None,
                  permit: Permit | str | os.PathLike | None = None, storage_epsg: int | None = None,
                  facts: Facts | None = None, progress: Progress | None = None,
                  span: tuple[float, float] = (0.0, 1.0), name: str | None = None) -> Report:
    """Read and check a survey package; nothing is stored.

    A package that cannot be read as a whole gives a refused report (``report.refused``, exit code 2) instead of
    raising. ``permit`` (a :class:`Permit` or a permit.json path) is the recorded permit: the package's own copy is
    compared with it. ``facts`` looks the package up in a registry (``Registry.check`` passes one): with it the
    rules against registered parcels, zoning and codes run; without it the report says they did not.
    ``progress`` hears ``reading`` then ``checking`` across ``span`` of the whole; ``name`` is the package as the
    surveyor named it (default: the file's own name).
    """
    if permit is not None and not isinstance(permit, Permit):
        permit = load_permit(permit)
    progress = safe(progress)
    start, end = span
    middle = start + (end - start) * READ_SHARE
    progress("reading", start)
    package = read_for_check(path, county=county, storage_epsg=storage_epsg, name=name)
    if isinstance(package, Report):
        return package
    progress("checking", middle)
    alone = check_package_alone(package, progress=progress, span=(middle, end))
    data = None
    if facts is not None:
        data, permit = facts(package, permit)
    return check_against_registry(alone, registry=data, permit=permit)
