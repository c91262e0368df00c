"""Moved to :mod:`cadastre.read.normalise` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.read.normalise as _moved

sys.modules[__name__] = _moved
