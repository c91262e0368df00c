"""Moved to :mod:`cadastre.core.files` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.core.files as _moved

sys.modules[__name__] = _moved
