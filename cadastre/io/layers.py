"""Moved to :mod:`cadastre.read.layers` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.read.layers as _moved

sys.modules[__name__] = _moved
