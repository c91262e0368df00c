"""Moved to :mod:`cadastre.core.auth` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.core.auth as _moved

sys.modules[__name__] = _moved
