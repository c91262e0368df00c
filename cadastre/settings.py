"""Moved to :mod:`cadastre.core.settings` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.core.settings as _moved

sys.modules[__name__] = _moved
