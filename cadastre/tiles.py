"""Moved to :mod:`cadastre.serve.tiles` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.serve.tiles as _moved

sys.modules[__name__] = _moved
