"""Moved to :mod:`cadastre.read.raw` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.read.raw as _moved

sys.modules[__name__] = _moved
