"""Moved to :mod:`cadastre.read.crs` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.read.crs as _moved

sys.modules[__name__] = _moved
