"""Moved to :mod:`cadastre.qa.render` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.qa.render as _moved

sys.modules[__name__] = _moved
