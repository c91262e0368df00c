"""Moved to :mod:`cadastre.core.progress` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.core.progress as _moved

sys.modules[__name__] = _moved
