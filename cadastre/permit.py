"""Moved to :mod:`cadastre.core.permit` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.core.permit as _moved

sys.modules[__name__] = _moved
