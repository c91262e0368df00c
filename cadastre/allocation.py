"""Moved to :mod:`cadastre.allocate.policy` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.allocate.policy as _moved

sys.modules[__name__] = _moved
