"""``check``: read a package and run its checks, storing nothing. The same function the service runs on upload."""

from __future__ import annotations

import os
from pathlib import Path

from cadastre import findings as fnd
from cadastre.checks import CheckContext, RegistryData, run_checks
from cadastre.errors import InputError
from cadastre.package import SurveyPackage, read_package
from cadastre.permit import Permit, load_permit, permit_differences
from cadastre.report import Report

__all__ = ["check_package", "check_read_package"]


def check_read_package(package: SurveyPackage, *, permit: Permit | None = None,
                       registry: RegistryData | None = None) -> Report:
    """Run every rule on a package already read. ``registry`` is what the registry knows around the package
    (``store.context.registry_data``); without it the rules that compare with registered data are not run, and
    the report says so."""
    context = CheckContext(package, package.county.rules, registry)
    found, not_run = run_checks(context)
    parts = [package.findings, found]
    if permit is not None and package.permit is not None:
        differences = permit_differences(permit, package.permit)
        parts.append(fnd.of_rule(
            "PKG-008", "package", [key for key, _, _ in differences],
            [f"成果包中的规划许可与登记的许可不一致：{key} 登记为 {a}，成果包为 {b}" for key, a, b in differences]))
    report = Report.from_package(package, fnd.concat(parts))
    report.not_run = not_run
    used = permit or package.permit
    if used is not None:
        report.package["permit"] = {"number": used.number, "source": "recorded" if permit else "package"}
    return report


def check_package(path: str | os.PathLike, *, county: str | None = None,
                  permit: Permit | str | os.PathLike | None = None, registry=None) -> Report:
    """Read and check a survey package; nothing is stored.

    A package that cannot be read as a whole gives a refused report (``report.refused``, exit code 2) instead of
    raising. ``permit`` (a :class:`Permit` or a permit.json path) is the recorded permit: the package's own copy is
    compared with it. ``registry`` (a :class:`cadastre.registry.Registry`) adds the checks against registered
    parcels, zoning and codes.
    """
    if permit is not None and not isinstance(permit, Permit):
        permit = load_permit(permit)
    try:
        package = read_package(path, county=county, storage_epsg=registry.storage_srid if registry else None)
    except InputError as e:
        return Report.refusal(Path(path).name, e)
    data = None
    if registry is not None:
        from cadastre.store.context import registry_data

        with registry.engine.connect() as connection:
            data = registry_data(connection, registry.storage_srid, package)
    return check_read_package(package, permit=permit, registry=data)
