"""Registration documents (issue 24): the 首次登记 file of a 30-floor building with 180 units (pages per second)
beside building the same building's 楼盘表 in the same run, and the 宗地图 and 界址点成果表 of a parcel with 200
boundary points. SpatiaLite, in process: drawing is the same on both engines (tests/test_documents.py), the few
reads are not what costs.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely

from bench.common import save

COUNTY = "141031"
PARCEL = "141031001002GB09001"
BUILDING = f"{PARCEL}F0001"
FLOORS, PER_FLOOR, POINTS = 30, 6, 200


def _registry(workdir: Path, floors: int = FLOORS):
    """A registry with the sample zoning and cadastral package, a round parcel of 200 boundary points and on it a
    building of ``floors`` floors of 6 flats (30 in a full run), written with the bulk writer ingest uses."""
    from cadastre.registry import init_registry
    from cadastre.samples import sample_cadastral, sample_manifest, write_package, write_zoning_package
    from cadastre.store.engine import write_transaction
    from cadastre.store.registry_rows import insert_rows

    registry = init_registry(f"sqlite:///{workdir / 'documents.sqlite'}", [COUNTY])
    registry.import_zoning(write_zoning_package(workdir, COUNTY))
    package = write_package(workdir / "cadastral.zip", sample_cadastral(COUNTY),
                            manifest=sample_manifest("cadastral", COUNTY), county_code=COUNTY)
    accepted = registry.ingest(package)
    # the round parcel east of the sample's, inside the same sub-district
    first = registry.parcel_sheet("141031001002GB00001").outline
    cx, cy = first.bounds[0] + 75, first.bounds[1] - 200
    angles = np.linspace(0, 2 * np.pi, POINTS, endpoint=False)
    ring = np.column_stack([cx + 70 * np.cos(angles), cy + 70 * np.sin(angles)])
    outline = shapely.Polygon(ring)
    now = datetime.now(UTC)
    with write_transaction(registry.engine) as connection:
        [parcel_id] = insert_rows(connection, "parcel", {
            "zddm": [PARCEL], "zdtzm": ["GB"], "zl": ["隰县龙泉镇测速路1号"], "zdmj": [round(outline.area, 2)],
            "yt": ["0701"], "qllx": ["3"], "qlxz": ["102"], "qlr": ["测速房地产开发有限公司"]},
            [outline], registry.storage_srid, package_id=accepted.package_id, now=now)
        insert_rows(connection, "boundary_point", {
            "jzdh": [f"J{k + 1}" for k in range(POINTS)], "zddm": [PARCEL] * POINTS, "jblx": ["2"] * POINTS},
            shapely.points(ring), registry.storage_srid, package_id=accepted.package_id, now=now, multi=False)
        width, depth = 12.0, 9.0
        x0, y0 = cx - 1.5 * width, cy - depth
        footprint = shapely.box(x0, y0, x0 + 3 * width, y0 + 2 * depth)
        [building_id] = insert_rows(connection, "building", {
            "parcel_id": [parcel_id], "zddm": [PARCEL], "zrzh": ["0001"], "stage": ["asbuilt"], "jzwmc": ["测速楼"],
            "zcs": [floors], "dscs": [floors], "dxcs": [0], "zzdmj": [round(footprint.area * floors, 2)],
            "ghyt": ["11"], "fwjg": ["3"]}, [footprint], registry.storage_srid,
            package_id=accepted.package_id, now=now)
        cells = [(floor, k) for floor in range(1, floors + 1) for k in range(PER_FLOOR)]
        boxes = [shapely.box(x0 + (k % 3) * width, y0 + (k // 3) * depth, x0 + (k % 3 + 1) * width,
                             y0 + (k // 3 + 1) * depth) for _, k in cells]
        insert_rows(connection, "unit", {
            "bdcdyh": [f"{BUILDING}{n + 1:04d}" for n in range(len(cells))], "building_id": [building_id] * len(cells),
            "stage": ["asbuilt"] * len(cells), "sjc": [f for f, _ in cells], "myc": [str(f) for f, _ in cells],
            "dyh": ["1" if k < 3 else "2" for _, k in cells], "hh": [k % 3 + 1 for _, k in cells],
            "shbw": [f"{1 if k < 3 else 2}-{f}{k % 3 + 1:02d}" for f, k in cells], "fwyt": ["11"] * len(cells),
            "scjzmj": [108.0] * len(cells), "sctnjzmj": [92.5] * len(cells), "scftjzmj": [15.5] * len(cells)},
            boxes, registry.storage_srid, package_id=accepted.package_id, now=now)
    return registry


def _timed(function, runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def run(*, runs: int = 3, floors: int = FLOORS) -> dict:
    from cadastre.serve.tables import write_table_xlsx

    with tempfile.TemporaryDirectory(prefix="cadastre-bench-documents-") as tmp:
        registry = _registry(Path(tmp), floors)
        try:
            def table() -> None:
                write_table_xlsx(registry.building_table(BUILDING), io.BytesIO())

            table_s, _ = _timed(table, runs)
            file_s, body = _timed(lambda: registry.first_registration_file(BUILDING, draft=True), runs)
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                import pdfplumber

                pages = sum(len(pdfplumber.open(io.BytesIO(archive.read(n))).pages)
                            for n in archive.namelist() if n.endswith(".pdf"))
                size_kb = round(len(body) / 1024)
            map_s, _ = _timed(lambda: registry.parcel_map(PARCEL), runs)
            points_s, _ = _timed(lambda: registry.boundary_points(PARCEL), runs)
        finally:
            registry.close()
    median = statistics.median
    result = {"floors": floors, "units": floors * PER_FLOOR, "points": POINTS, "runs": runs,
              "file_s": file_s, "table_s": table_s, "pages": pages, "file_kb": size_kb,
              "pages_per_s": round(pages / median(file_s), 1),
              "file_vs_table": round(median(file_s) / median(table_s), 1),
              "parcel_map_s": map_s, "boundary_points_s": points_s}
    save("documents", result)
    return result


def report(r: dict) -> str:
    m = statistics.median
    return (f"documents: 首次登记 file of a {r['floors']}-floor building, {r['units']} units: {m(r['file_s']):.2f} s, "
            f"{r['pages']} pages ({r['pages_per_s']} pages/s, {r['file_kb']} KB) = {r['file_vs_table']}× its 楼盘表 "
            f"({m(r['table_s']):.3f} s); 宗地图 of a {r['points']}-point parcel {m(r['parcel_map_s']) * 1000:.0f} ms, "
            f"界址点成果表 {m(r['boundary_points_s']) * 1000:.0f} ms")
