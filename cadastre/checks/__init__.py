"""Moved to :mod:`cadastre.qa.rules` (issue 19); this name is kept while code still uses it."""

from cadastre.qa.rules import RULES, CheckContext, RegistryData, load_rules, run_checks  # noqa: F401
