"""Moved to :mod:`cadastre.qa.rules.geometry` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.qa.rules.geometry as _moved

sys.modules[__name__] = _moved
