"""cadastre: check, code and serve 多测合一 survey packages for Chinese county land registries.

The library is the product: the CLI and the HTTP API are thin layers over these functions.

>>> from cadastre import UnitCode
>>> UnitCode.parse("141031001002GB00017F00030012").readable
'141031 001002 GB00017 F00030012'
"""

from cadastre.core.codes import ParcelCode, UnitCode
from cadastre.core.errors import CadastreError, CodeError

__version__ = "0.1.0"

__all__ = ["ParcelCode", "UnitCode", "CadastreError", "CodeError", "open", "init", "check", "__version__"]


def open(url: str | None = None):  # noqa: A001 - cadastre.open(url), as issue 10 names it
    """Open an initialised registry database (``sqlite:///…`` or ``postgresql://…``): a
    :class:`cadastre.registry.Registry`, whose layers, findings and packages come back as (Geo)DataFrames.

    >>> import tempfile, pathlib, cadastre
    >>> from cadastre.samples import sample_registry
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = pathlib.Path(tmp.name)
    >>> sample_registry(folder / "sample.sqlite").close()   # the sample county, built once
    >>> registry = cadastre.open(f"sqlite:///{folder / 'sample.sqlite'}")
    >>> parcels = registry.parcels(subdistrict="141031001002")
    >>> len(parcels), parcels.crs.to_epsg(), parcels["zl"].iat[0]
    (12, 4525, '隰县龙泉镇府前街2号')
    >>> units = registry.units()
    >>> units.groupby("zrzh")["scjzmj"].sum().round(2).to_dict()
    {'0001': 3629.92, '0002': 3774.68, '0003': 3615.08}
    >>> registry.findings(severity="error").groupby("surveyor")["rule"].agg(list).to_dict()
    {'临汾市华测地理信息有限公司': ['GEO-001', 'ATT-002', 'TOP-006'], '山西晋图测绘有限公司': ['PLN-009']}
    >>> registry.close(); tmp.cleanup()
    """
    from cadastre.registry import open_registry

    return open_registry(url)


def init(url: str | None = None, counties=()):
    """Create (or migrate) a registry database for ``counties`` and open it."""
    from cadastre.registry import init_registry

    return init_registry(url, counties)


def check(path, *, county: str | None = None, permit=None):
    """Read and check a survey package without storing anything; returns a :class:`cadastre.qa.report.Report`."""
    from cadastre.qa.pipeline import check_package

    return check_package(path, county=county, permit=permit)
