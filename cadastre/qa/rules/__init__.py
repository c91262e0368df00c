"""The rule catalogue's checks (qa-and-planning.md): PKG and the reading rules run in ``cadastre.read.package``; GEO, TOP
and ATT rules live here, one module per kind, registered in ``base.RULES``."""

from __future__ import annotations

from dataclasses import asdict

from cadastre.core import settings
from cadastre.core.catalogue import CATALOGUE
from cadastre.qa.rules.base import RULES, CheckContext, RegistryFacts, run_checks, tolerance

__all__ = ["RULES", "CheckContext", "RegistryFacts", "run_checks", "load_rules", "catalogue_rows"]


def load_rules() -> None:
    """Import the rule modules (registration happens on import)."""
    from cadastre.qa.rules import attributes, geometry, topology  # noqa: F401


def catalogue_rows(tolerances: dict | None = None) -> list[dict]:
    """The rule catalogue as rows: id, severity, layer, description, and the tolerances each rule reads with their
    values (``tolerances``: a county's, default ``settings.tolerances()``)."""
    load_rules()
    tolerances = tolerances or settings.tolerances()
    return [{**asdict(r), "tolerance": {k: tolerance(tolerances, k) for k in (RULES[r.id].tolerances
                                                                              if r.id in RULES else ())}}
            for r in CATALOGUE.values()]
