"""``cadastre.codes``: the 不动产单元代码 and 宗地代码 types (:mod:`cadastre.core.codes`), at the import path users
and the README have always used (``from cadastre.codes import UnitCode``)."""

from cadastre.core.codes import *  # noqa: F403 - the public names, the same objects
from cadastre.core.codes import __all__  # noqa: F401
