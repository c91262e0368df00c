"""Moved to :mod:`cadastre.qa.rules.topology` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.qa.rules.topology as _moved

sys.modules[__name__] = _moved
