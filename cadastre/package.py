"""Moved to :mod:`cadastre.read.package` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.read.package as _moved

sys.modules[__name__] = _moved
