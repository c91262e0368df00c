"""The rule catalogue's checks (qa-and-planning.md): PKG and the reading rules run in ``cadastre.read.package``; GEO, TOP
and ATT rules live here, one module per kind, registered in ``base.RULES``."""

from __future__ import annotations

from cadastre.qa.rules.base import RULES, CheckContext, RegistryData, run_checks

__all__ = ["RULES", "CheckContext", "RegistryData", "run_checks", "load_rules"]


def load_rules() -> None:
    """Import the rule modules (registration happens on import)."""
    from cadastre.qa.rules import attributes, geometry, topology  # noqa: F401
