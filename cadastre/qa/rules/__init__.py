"""The rule catalogue's checks (qa-and-planning.md): PKG and the reading rules run in ``cadastre.package``; GEO, TOP
and ATT rules live here, one module per kind, registered in ``base.RULES``."""

from __future__ import annotations

from cadastre.checks.base import RULES, CheckContext, RegistryData, run_checks

__all__ = ["RULES", "CheckContext", "RegistryData", "run_checks", "load_rules"]


def load_rules() -> None:
    """Import the rule modules (registration happens on import)."""
    from cadastre.checks import attributes, geometry, topology  # noqa: F401
