"""Moved to :mod:`cadastre.allocate.buildingtable` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.allocate.buildingtable as _moved

sys.modules[__name__] = _moved
