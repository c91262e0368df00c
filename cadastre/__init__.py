"""cadastre: check, code and serve 多测合一 survey packages for Chinese county land registries.

The library is the product: the CLI and the HTTP API are thin layers over these functions.

>>> from cadastre import UnitCode
>>> UnitCode.parse("141031001002GB00017F00030012").readable
'141031 001002 GB00017 F00030012'
"""

from cadastre.codes import ParcelCode, UnitCode
from cadastre.errors import CadastreError, CodeError

__version__ = "0.1.0"

__all__ = ["ParcelCode", "UnitCode", "CadastreError", "CodeError", "open", "init", "check", "__version__"]


def open(url: str | None = None):  # noqa: A001 - cadastre.open(url), as issue 10 names it
    """Open an initialised registry database (``sqlite:///…`` or ``postgresql://…``)."""
    from cadastre.registry import open_registry

    return open_registry(url)


def init(url: str | None = None, counties=()):
    """Create (or migrate) a registry database for ``counties`` and open it."""
    from cadastre.registry import init_registry

    return init_registry(url, counties)


def check(path, *, county: str | None = None, permit=None):
    """Read and check a survey package without storing anything; returns a :class:`cadastre.report.Report`."""
    from cadastre.checking import check_package

    return check_package(path, county=county, permit=permit)
