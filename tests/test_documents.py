"""Registration documents (issue 24) read back as a person and a program would: each PDF opened with pdfplumber
(page size, text that equals the registry's figures, a scale bar as long as the scale says, the font embedded, no
raster images), rendered with Debian's pdftoppm and found not blank; the 界址点成果表 xlsx read by column name; the
same on both engines, through the library, the command line and HTTP."""

from __future__ import annotations

import io
import shutil
import subprocess

import pandas as pd
import pdfplumber
import pytest
from click.testing import CliRunner
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from cadastre.cli import cli
from cadastre.core.auth import mask_name
from cadastre.core.errors import NotFoundError
from cadastre.serve.documents.model import nice_length

PARCEL = "141031001002GB00001"
UNIT = f"{PARCEL}F00010005"
PDFTOPPM = shutil.which("pdftoppm") or "/usr/bin/pdftoppm"


def _pdf(body: bytes):
    assert body.startswith(b"%PDF-") and b"/FontFile2" in body  # the CJK font embedded (TrueType outlines)
    return pdfplumber.open(io.BytesIO(body))


def _text(page) -> str:
    """The page's text laid out, then each string as drawn (a side length along a vertical side is drawn rotated:
    the layout splits it, the content stream keeps it whole)."""
    return (page.extract_text() or "") + "\n" + "".join(c["text"] for c in page.chars)


def _scale_bar_pt(page) -> float:
    """The drawn scale bar: its four segments are the page's rectangles 1.2 mm high; their total width."""
    segments = [r for r in page.rects if abs(r["height"] - 1.2 * mm) < 0.05]
    assert len(segments) == 4, segments
    return max(r["x1"] for r in segments) - min(r["x0"] for r in segments)


def _not_blank(body: bytes, tmp_path) -> float:
    """pdftoppm's picture of the first page: the share of pixels that are not white."""
    from PIL import Image

    (tmp_path / "doc.pdf").write_bytes(body)
    subprocess.run([PDFTOPPM, "-r", "40", "-png", "-singlefile", str(tmp_path / "doc.pdf"), str(tmp_path / "doc")],
                   check=True, timeout=60)
    import numpy as np

    grey = np.asarray(Image.open(tmp_path / "doc.png").convert("L"))
    return float((grey < 200).mean())


def test_parcel_map_is_a_true_to_scale_vector_drawing_of_the_registry(loaded_registry, tmp_path):
    reg = loaded_registry
    sheet = reg.parcel_sheet(PARCEL)
    card = reg.parcel(PARCEL)["current"]
    with _pdf(reg.parcel_map(PARCEL)) as pdf:
        [page] = pdf.pages
        assert (round(page.width, 1), round(page.height, 1)) == (round(A4[0], 1), round(A4[1], 1))
        text = _text(page)
        assert not page.images and len(page.curves) + len(page.lines) + len(page.rects) > 10  # vector only
        for expected in (PARCEL, "宗地图", f"{card['zdmj']:.2f}", card["zl"], "0701 城镇住宅用地", "制图者", "审核者",
                         "北", "0001 砼6"):
            assert expected in text, expected
        # every boundary point's number, every side's length as computed from the stored coordinates
        assert set(sheet.points["jzdh"]) <= set(text.split())
        for length in sheet.points["length"]:
            assert f"{length:.2f}" in text
        # 图幅号: the 1:500 sheets (250 m squares named by their south-west corner in km) the parcel lies on
        from cadastre.serve.documents.model import sheet_numbers
        assert sheet_numbers(sheet.outline) and all(name in text for name in sheet_numbers(sheet.outline)[:3])
        # 四至 names the neighbours met along a side
        assert "141031001002GB00002" in text and "141031001002GB00004" in text
        # the scale bar is as long on paper as the stated scale makes its length on the ground
        scale = int(text.split("比例尺 1:")[1].split()[0])
        assert scale in (200, 500, 1000, 2000)
        bar_m = nice_length(40 * scale / 1000)
        assert _scale_bar_pt(page) == pytest.approx(bar_m * 1000 / scale * mm, rel=1e-3)
        assert f"{bar_m:g} 米" in text
    assert _not_blank(reg.parcel_map(PARCEL), tmp_path) > 0.01


def test_boundary_points_table_lists_every_point_to_the_millimetre(loaded_registry):
    reg = loaded_registry
    points = reg.parcel_sheet(PARCEL).points
    assert list(points["jzdh"]) == ["J1", "J2", "J3", "J4", "J5", "J6"]  # the surveyor's numbering, in order
    assert points["length"].sum() == pytest.approx(reg.parcel_sheet(PARCEL).outline.length)
    with _pdf(reg.boundary_points(PARCEL)) as pdf:
        text = "\n".join(_text(p) for p in pdf.pages)
        assert "界址点成果表" in text and "EPSG:4525" in text
        for p in points.itertuples():
            assert f"{p.jzdh} {p.x:.3f} {p.y:.3f} {p.length:.2f}" in text
    table = pd.read_excel(io.BytesIO(reg.boundary_points(PARCEL, fmt="xlsx")), header=3, engine="calamine")
    assert list(table.columns[:5]) == ["序号", "界址点号", "X（米）", "Y（米）", "至下一点边长（米）"]
    assert table["X（米）"].round(3).tolist() == points["x"].round(3).tolist()
    assert table["界标类型"].iloc[0] == "2 水泥桩"


def test_a_parcels_points_follow_one_numbering_across_neighbours(loaded_registry):
    """Parcel 4 shares its southern points J4–J6 with parcel 1: its table starts at J4 and runs J5, J6, J17…"""
    points = loaded_registry.parcel_sheet("141031001002GB00004").points
    assert list(points["jzdh"][:3]) == ["J4", "J5", "J6"] and len(set(points["jzdh"])) == len(points)


def test_unit_plan_shows_the_unit_with_its_sides_and_areas(loaded_registry, tmp_path):
    reg = loaded_registry
    unit = reg.unit(UNIT)["current"]
    body = reg.unit_plan(UNIT)
    with _pdf(body) as pdf:
        [page] = pdf.pages
        text = _text(page)
        for expected in ("房产分户图", UNIT, unit["shbw"], f"{unit['scjzmj']:.2f}", f"{unit['sctnjzmj']:.2f}",
                         f"{unit['scftjzmj']:.2f}", "建筑面积（实测）", "11 成套住宅", "隰县龙泉镇府前街2号"):
            assert expected in text, expected
        [outline] = getattr(reg.unit_sheet(UNIT).outline, "geoms", [reg.unit_sheet(UNIT).outline])
        sides = [((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5
                 for a, b in zip(outline.exterior.coords[:-1], outline.exterior.coords[1:], strict=True)]
        for side in sides:
            assert f"{side:.2f}" in text
        scale = int(text.split("比例尺 1:")[1].split()[0])
        assert _scale_bar_pt(page) == pytest.approx(nice_length(40 * scale / 1000) * 1000 / scale * mm, rel=1e-3)
    assert _not_blank(body, tmp_path) > 0.005


def test_a_document_as_it_was_issued(loaded_registry):
    """``as_of``: the unit as its pre-sale survey had it (预测 areas), the parcel before it existed: not found."""
    reg = loaded_registry
    versions = reg.unit(UNIT)["versions"]
    presale = min(versions, key=lambda v: str(v["valid_from"]))
    start, end = pd.Timestamp(presale["valid_from"]), pd.Timestamp(presale["valid_to"])
    moment = start + (end - start) / 2  # while the pre-sale version was current
    with _pdf(reg.unit_plan(UNIT, as_of=moment.isoformat())) as pdf:
        text = _text(pdf.pages[0])
        assert "建筑面积（预测）" in text and f"{presale['ycjzmj']:.2f}" in text
    with pytest.raises(NotFoundError):
        reg.parcel_map(PARCEL, as_of="2001-01-01")


def test_draft_is_watermarked(loaded_registry):
    with _pdf(loaded_registry.parcel_map(PARCEL, draft=True)) as pdf:
        assert "草稿" in _text(pdf.pages[0])
    with _pdf(loaded_registry.parcel_map(PARCEL)) as pdf:
        assert "草稿" not in _text(pdf.pages[0])


def test_documents_over_http_follow_the_roles(client, loaded_registry):
    owner = loaded_registry.parcel(PARCEL)["current"]["qlr"]
    for role in ("registrar", "analyst"):
        response = client.get(f"/api/parcels/{PARCEL}/documents/parcel-map",
                              headers={"Authorization": f"Bearer {client.tokens[role]}"})
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''%E5%AE%97%E5%9C%B0%E5%9B%BE" in response.headers["content-disposition"]
        with _pdf(response.content) as pdf:
            text = _text(pdf.pages[0])
        assert (owner in text) if role == "registrar" else (mask_name(owner) in text and owner not in text)
    log = loaded_registry.audit_log(action="owners.read")
    assert any(d == {"via": "document"} for d in log[log["actor"] == "test-registrar"]["detail"])
    xlsx = client.get(f"/api/parcels/{PARCEL}/documents/boundary-points?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert client.get(f"/api/units/{UNIT}/documents/unit-plan").status_code == 200
    missing = client.get("/api/parcels/141031001002GB09999/documents/parcel-map")
    assert missing.status_code == 404 and "没有宗地" in missing.json()["detail"]
    assert client.get(f"/api/parcels/{PARCEL}/documents/parcel-map",
                      headers={"Authorization": ""}).status_code == 401


def test_document_commands(registry, db_url, tmp_path, sample_files):
    runner = CliRunner()
    assert registry.ingest(sample_files["cadastral"]).status == "accepted"
    out = tmp_path / "宗地图.pdf"
    result = runner.invoke(cli, ["--db", db_url, "document", "parcel-map", PARCEL, "-o", str(out)])
    assert result.exit_code == 0 and "已生成宗地图" in result.output and out.read_bytes().startswith(b"%PDF")
    for suffix in ("pdf", "xlsx"):
        target = tmp_path / f"points.{suffix}"
        result = runner.invoke(cli, ["--db", db_url, "document", "boundary-points", PARCEL, "-o", str(target)])
        assert result.exit_code == 0 and target.stat().st_size > 1000
    wrong = runner.invoke(cli, ["--db", db_url, "document", "boundary-points", PARCEL, "-o", str(tmp_path / "x.txt")])
    assert wrong.exit_code == 2 and ".pdf 或 .xlsx" in wrong.output
    missing = runner.invoke(cli, ["--db", db_url, "document", "unit-plan", UNIT, "-o", str(tmp_path / "u.pdf")])
    assert missing.exit_code == 2 and "没有户" in missing.output


BUILDING = f"{PARCEL}F0001"


def test_floor_plan_labels_every_unit_of_the_floor(loaded_registry):
    reg = loaded_registry
    table = reg.building_table(BUILDING)
    on_floor_2 = [c for row in table.rows for c in row.cells if hasattr(c, "bdcdyh") and 2 in c.floors]
    with _pdf(reg.floor_plan(BUILDING, 2)) as pdf:
        text = _text(pdf.pages[0])
    assert "房产分层平面图" in text and "2层" in text
    for cell in on_floor_2:
        assert cell.shbw in text and cell.bdcdyh in text and f"{cell.area:.2f}" in text
    with pytest.raises(Exception, match="没有第 99 层的户"):
        reg.floor_plan(BUILDING, 99)


def test_first_registration_file_holds_every_document_with_its_checksum(loaded_registry, tmp_path):
    import hashlib
    import json
    import zipfile

    from cadastre.core.errors import ConflictError

    reg = loaded_registry
    table = reg.building_table(BUILDING)
    with zipfile.ZipFile(io.BytesIO(reg.first_registration_file(BUILDING))) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["ready_for_first_registration"] and not manifest["draft"]
        names = {f["name"] for f in manifest["files"]}
        assert names == set(archive.namelist()) - {"manifest.json"}
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
        assert {f"楼盘表-{BUILDING}.xlsx", f"宗地图-{PARCEL}.pdf", f"界址点成果表-{PARCEL}.pdf",
                f"房产分户图-{BUILDING}.pdf", f"房产分层平面图-{BUILDING}.pdf", "规划核实与首次登记条件.txt"} <= names
        # a page per unit, in the 楼盘表's order
        order = list(dict.fromkeys(c.bdcdyh for row in table.rows for c in row.cells if hasattr(c, "bdcdyh")))
        with _pdf(archive.read(f"房产分户图-{BUILDING}.pdf")) as pdf:
            assert len(pdf.pages) == table.unit_count == len(order)
            firsts = [next(code for code in order if code in _text(page)) for page in pdf.pages]
            assert firsts == order
        summary = archive.read("规划核实与首次登记条件.txt").decode("utf-8")
        assert "首次登记：可办理" in summary and "容积率：符合" in summary
    # a building not ready is refused, saying why; as a draft every drawing is watermarked
    with pytest.raises(ConflictError, match="PLN-009"):
        reg.first_registration_file(f"{PARCEL}F0002")
    with zipfile.ZipFile(io.BytesIO(reg.first_registration_file(f"{PARCEL}F0002", draft=True))) as archive:
        assert json.loads(archive.read("manifest.json"))["draft"]
        with _pdf(archive.read(f"宗地图-{PARCEL}.pdf")) as pdf:
            assert "草稿" in _text(pdf.pages[0])


def test_first_registration_over_http_and_the_command_line(client, loaded_registry, tmp_path):
    response = client.get(f"/api/buildings/{BUILDING}/documents/first-registration")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    refused = client.get(f"/api/buildings/{PARCEL}F0002/documents/first-registration")
    assert refused.status_code == 409 and "暂不能办理首次登记" in refused.json()["detail"]
    assert client.get(f"/api/buildings/{PARCEL}F0002/documents/first-registration?draft=true").status_code == 200
    floor = client.get(f"/api/buildings/{BUILDING}/documents/floor-plan?floor=1")
    assert floor.status_code == 200 and floor.content.startswith(b"%PDF")


def test_building_document_commands(loaded_registry, tmp_path):
    url = str(loaded_registry.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    target = tmp_path / "file.zip"
    result = runner.invoke(cli, ["--db", url, "document", "first-registration", BUILDING, "-o", str(target)])
    assert result.exit_code == 0 and "已生成首次登记资料包" in result.output and target.stat().st_size > 10_000
    refused = runner.invoke(cli, ["--db", url, "document", "first-registration", f"{PARCEL}F0002", "-o",
                                  str(tmp_path / "no.zip")])
    assert refused.exit_code == 2 and "暂不能办理首次登记" in refused.output and not (tmp_path / "no.zip").exists()
    floor = runner.invoke(cli, ["--db", url, "document", "floor-plan", BUILDING, "--floor", "1", "-o",
                                str(tmp_path / "f.pdf")])
    assert floor.exit_code == 0 and (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
