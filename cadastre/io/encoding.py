"""Moved to :mod:`cadastre.read.encoding` (issue 19); this name is kept while code still uses it."""

import sys

import cadastre.read.encoding as _moved

sys.modules[__name__] = _moved
