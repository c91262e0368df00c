"""Moved to :mod:`cadastre.qa.planning` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.qa.planning as _moved

sys.modules[__name__] = _moved
