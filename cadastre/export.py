"""Moved to :mod:`cadastre.serve.export` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.serve.export as _moved

sys.modules[__name__] = _moved
