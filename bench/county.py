"""A county-scale registry for the service benchmarks, on either engine.

The parcels go the whole way a surveyor's upload goes: the synthetic county (``cadastre.samples.synthetic_county``)
is written as a GBK shapefile package with blank 宗地代码, checked, coded and stored by ``Registry.ingest``. Its
buildings and units are written with the bulk writer ingest itself uses (``store.registry_rows.insert_rows``),
all under that package: a building package is one project on one parcel, and 10 000 of them would take the
benchmark an hour without exercising anything the parcels did not.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from cadastre.registry import Registry, init_registry
from cadastre.samples import inside_subdistricts, synthetic_county, write_package, write_zoning_package
from cadastre.store.engine import write_transaction
from cadastre.store.registry_rows import insert_rows

COUNTY = "141031"


def layers(*, parcels: int, buildings: int, units: int) -> dict:
    """The synthetic county without what lies across a sub-district boundary; its parcels with the generator's
    宗地代码, which name the buildings' parcels."""
    return inside_subdistricts(synthetic_county(parcels, buildings, units), COUNTY)


def write_packages(workdir: Path, county: dict) -> tuple[Path, Path]:
    """The county's cadastral package (blank 宗地代码: a first survey, the registry assigns the codes) and the
    sample zoning package, written in ``workdir`` once for every registry built from them."""
    parcels = county["ZDJBXX"].copy()
    parcels["ZDDM"] = ""
    package = write_package(workdir / "county-cadastral", {"ZDJBXX": parcels, "JZD": county["JZD"]},
                            manifest={"county_code": COUNTY, "stage": "cadastral"})
    return package, write_zoning_package(workdir, COUNTY)


def build(url: str, county: dict, package: Path, zoning: Path) -> dict:
    """Create the registry at ``url``, import the zoning, ingest the county's package (from
    :func:`write_packages`) and store the buildings and units of ``county``; returns sizes and timings."""
    registry = init_registry(url, [COUNTY])
    try:
        registry.import_zoning(zoning)
        start = time.perf_counter()
        result = registry.ingest(package, submitted_by="bench")
        ingest_s = time.perf_counter() - start
        if result.status != "accepted":
            raise RuntimeError(f"the county package was {result.status}: {result.report.get('summary')}")
        start = time.perf_counter()
        _buildings_and_units(registry, result.package_id, county)
        _vacuum(registry.engine)
        return {"parcels": len(county["ZDJBXX"]), "buildings": len(county["ZRZ"]), "units": len(county["H"]),
                "ingest_parcels_s": round(ingest_s, 1), "bulk_buildings_units_s": round(time.perf_counter() - start, 1)}
    finally:
        registry.close()


def _buildings_and_units(registry: Registry, package_id: int, layers: dict) -> None:
    zrz, h = layers["ZRZ"], layers["H"]
    now = datetime.now(UTC)
    with write_transaction(registry.engine) as connection:
        rows = connection.execute(sa.text("SELECT bsm, id, zddm FROM parcel WHERE valid_to IS NULL")).all()
        stored = {bsm: parcel_id for bsm, parcel_id, _ in rows}
        codes = {bsm: zddm for bsm, _, zddm in rows}
        # the synthetic buildings name their parcel by the code the generator gave it: back to the parcel's BSM
        bsm_of = dict(zip(layers["ZDJBXX"]["ZDDM"], layers["ZDJBXX"]["BSM"], strict=True))
        owner_bsm = np.array([bsm_of[code[:19]] for code in zrz["ZRZH"]], dtype=object)
        owner_zddm = np.array([codes[b] for b in owner_bsm], dtype=object)
        building_ids = insert_rows(connection, "building", {
            "parcel_id": np.array([stored[b] for b in owner_bsm]), "zddm": owner_zddm,
            "zrzh": np.full(len(zrz), "0001", dtype=object), "stage": np.full(len(zrz), "asbuilt", dtype=object),
            "bsm": zrz["BSM"].to_numpy(object), "jzwmc": np.char.add("合成楼", np.arange(1, len(zrz) + 1).astype(str)),
            "zcs": zrz["ZCS"].to_numpy(), "zzdmj": zrz["ZZDMJ"].to_numpy(), "ghyt": zrz["GHYT"].to_numpy(object),
        }, zrz.geometry.values, registry.storage_srid, package_id=package_id, now=now)
        which = {code: i for i, code in enumerate(zrz["ZRZH"])}
        b = np.array([which[code] for code in h["ZRZH"]])
        number = np.arange(len(h)) - np.searchsorted(b, b)  # position of the unit within its building
        bdcdyh = np.char.add(np.char.add(owner_zddm[b].astype(str), "F0001"),
                             np.char.zfill((number + 1).astype(str), 4)).astype(object)
        insert_rows(connection, "unit", {
            "bdcdyh": bdcdyh, "building_id": np.asarray(building_ids)[b], "stage": np.full(len(h), "asbuilt", object),
            "bsm": h["BSM"].to_numpy(object), "sjc": h["SJC"].to_numpy(), "myc": h["MYC"].to_numpy(object),
            "dyh": h["DYH"].to_numpy(object), "hh": h["HH"].to_numpy(), "shbw": h["SHBW"].to_numpy(object),
            "fwyt": h["FWYT1"].to_numpy(object), "scjzmj": h["SCJZMJ"].to_numpy(),
            "sctnjzmj": h["SCTNJZMJ"].to_numpy(), "scftjzmj": h["SCFTJZMJ"].to_numpy(),
        }, h.geometry.values, registry.storage_srid, package_id=package_id, now=now)


def _vacuum(engine) -> None:
    """Statistics for the planner, and on PostgreSQL the freshly loaded tables vacuumed and checkpointed now, as a
    county's server would have them: left to autovacuum and the checkpointer, the vacuum of a million new rows and
    the writing of the pages it dirties would run during the measurements."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
            connection.exec_driver_sql("CHECKPOINT")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def sample_codes(url: str, n: int, seed: int = 7) -> dict[str, list[str]]:
    """``n`` random current parcel codes (and the same parcels' row ids) and unit codes."""
    from cadastre.registry import open_registry

    rng = np.random.default_rng(seed)
    with open_registry(url) as registry, registry.engine.connect() as connection:
        parcels = connection.execute(sa.text("SELECT zddm, id FROM parcel WHERE valid_to IS NULL")).all()
        units = [r[0] for r in connection.execute(sa.text("SELECT bdcdyh FROM unit WHERE valid_to IS NULL"))]
    picked = [parcels[i] for i in rng.integers(0, len(parcels), n)]
    return {"parcels": [p[0] for p in picked], "parcel_ids": [p[1] for p in picked],
            "units": [units[i] for i in rng.integers(0, len(units), n)]}


def search_queries(codes: dict[str, list[str]], n: int = 2_000, seed: int = 11) -> list[str]:
    """What clerks type, in equal parts: a complete 宗地代码 with blanks as printed, the start of one, words of a
    坐落 (``隰县 合成路123``), a room label alone (``1-301``: every building of the county has one)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        zddm = codes["parcels"][k % len(codes["parcels"])]
        kind = k % 4
        if kind == 0:
            out.append(f"{zddm[:6]} {zddm[6:12]} {zddm[12:]}")
        elif kind == 1:
            out.append(zddm[:16])
        elif kind == 2:
            out.append(f"隰县 合成路{int(rng.integers(1, 100_000))}")
        else:
            out.append(f"1-{int(rng.integers(1, 10))}0{int(rng.integers(1, 6))}")
    return out
