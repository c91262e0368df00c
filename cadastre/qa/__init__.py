"""Quality checks (质检) as pure functions over data: the rule framework and the rules (``rules/``), the two phases
of a check (``pipeline``: the package alone, then against what the registry knows, handed in as
:class:`cadastre.core.model.RegistryFacts`), planning verification, the report and its rendering, zoning
validation and the registry's invariants (``integrity``). Imports ``core`` and ``read``; opens nothing."""

from cadastre.qa.pipeline import (
    check_against_registry,
    check_package,
    check_package_alone,
    check_read_package,
)
from cadastre.qa.report import Report

__all__ = ["check_package", "check_read_package", "check_package_alone", "check_against_registry", "Report"]
