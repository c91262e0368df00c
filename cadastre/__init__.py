"""cadastre: check, code and serve 多测合一 survey packages for Chinese county land registries.

The library is the product: the command line and the HTTP API are thin layers over it. The public face is here —
:func:`open` and :func:`init` give a :class:`cadastre.registry.Registry`, :func:`check` checks a package without a
registry, :func:`rule_catalogue` lists the rules — with the code types (:mod:`cadastre.codes`), the sample data
(:mod:`cadastre.samples`) and the test helpers (:mod:`cadastre.testing`).

The packages follow the data, one direction only:

- ``core/``: what every layer uses and nothing else of cadastre — errors, settings and code tables, the 不动产单元代码
  types, geometry helpers, findings as rows and the rule catalogue, the planning-permit model, roles and tokens,
  progress, worker liveness, and the plain declarations the layers hand each other (``core.model``).
- ``read/``: a surveyor's package as it comes (containers, encodings, CRS, raw layers, values) into the normalised
  package model; zoning layers. Imports ``core`` only.
- ``qa/``: the checks — the rule framework and rules, planning verification, the report and its rendering, zoning
  validation, the registry's invariants. Imports ``core`` and ``read``; the registry's facts come in as data.
- ``allocate/``: code policy (scopes, order, 幢号, matching pre-sale units) and the 楼盘表, as pure functions.
  Imports ``core``, ``read`` and ``qa``.
- ``store/``: the database — engines, models, migrations, every SQL statement, bulk rows, counters, originals,
  backups. Imports ``core`` (and, for annotations only, the declarations it is handed).
- ``serve/``: what goes out — feature collections and GeoJSON, vector tiles and their encoder, exports for other
  offices and desktop GIS, the parcel card and the masking of owners' names, the printable 楼盘表. Imports the
  layers before it, never ``store`` or SQLAlchemy.
- ``registry/``: the :class:`~cadastre.registry.Registry` facade over topic modules; the only code that opens
  connections and transactions. ``cli/`` and ``api/`` (beside this package) call the registry, ``core``, ``serve``
  and this public face.

``tests/test_layout.py`` reads the imports and fails when a layer reaches above itself.

>>> from cadastre import UnitCode
>>> UnitCode.parse("141031001002GB00017F00030012").readable
'141031 001002 GB00017 F00030012'
"""

from cadastre.core import __version__
from cadastre.core.codes import ParcelCode, UnitCode
from cadastre.core.errors import CadastreError, CodeError

__all__ = ["ParcelCode", "UnitCode", "CadastreError", "CodeError", "open", "init", "check", "rule_catalogue",
           "__version__"]


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
    >>> units = registry.units(subdistrict="141031001002")
    >>> longquan = units[units["bdcdyh"].str.startswith("141031001002GB00001")]  # 龙泉苑, on parcel 1
    >>> longquan.groupby("zrzh")["scjzmj"].sum().round(2).to_dict()
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
    """Read and check a survey package without storing anything; returns a :class:`cadastre.qa.report.Report`
    (``report.write_html(path)``, ``report.write_xlsx(path)`` write it for people). Against a registry:
    ``Registry.check``."""
    from cadastre.qa.pipeline import check_package

    return check_package(path, county=county, permit=permit)


def rule_catalogue(county: str | None = None) -> list[dict]:
    """Every rule: id, severity, layer, Chinese description, and the tolerances it reads with their values (the
    county's, else the defaults)."""
    from cadastre.core import settings
    from cadastre.qa.rules import catalogue_rows

    return catalogue_rows(settings.county(county).tolerances if county else None)
