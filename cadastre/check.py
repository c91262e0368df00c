"""``check``: read a package and run its checks, storing nothing. The same function the service runs on upload."""

from __future__ import annotations

import os
from pathlib import Path

from cadastre import findings as fnd
from cadastre.errors import InputError
from cadastre.package import SurveyPackage, read_package
from cadastre.permit import Permit, load_permit, permit_differences
from cadastre.report import Report

__all__ = ["check_package", "check_read_package"]


def check_read_package(package: SurveyPackage, *, permit: Permit | None = None) -> Report:
    """Run the checks on a package already read."""
    parts = [package.findings]
    if permit is not None and package.permit is not None:
        differences = permit_differences(permit, package.permit)
        parts.append(fnd.of_rule(
            "PKG-008", "package", [key for key, _, _ in differences],
            [f"成果包中的规划许可与登记的许可不一致：{key} 登记为 {a}，成果包为 {b}" for key, a, b in differences]))
    report = Report.from_package(package, fnd.concat(parts))
    used = permit or package.permit
    if used is not None:
        report.package["permit"] = {"number": used.number, "source": "recorded" if permit else "package"}
    return report


def check_package(path: str | os.PathLike, *, county: str | None = None,
                  permit: Permit | str | os.PathLike | None = None) -> Report:
    """Read and check a survey package; nothing is stored.

    A package that cannot be read as a whole gives a refused report (``report.refused``, exit code 2) instead of
    raising. ``permit`` (a :class:`Permit` or a permit.json path) is the recorded permit: the package's own copy is
    compared with it.
    """
    if permit is not None and not isinstance(permit, Permit):
        permit = load_permit(permit)
    try:
        package = read_package(path, county=county)
    except InputError as e:
        return Report.refusal(Path(path).name, e)
    return check_read_package(package, permit=permit)
