"""Moved to :mod:`cadastre.qa.rules.base` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.qa.rules.base as _moved

sys.modules[__name__] = _moved
