"""The map and the upload page in a real browser: Debian's Chromium driven by Playwright (never a downloaded
browser). Screenshots are kept in ``tests/artifacts/`` for people to look at."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PARCEL = "141031001002GB00001"
# WebGL without a GPU: ANGLE on SwiftShader (software rendering)
CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]

pytestmark = pytest.mark.parametrize("loaded_registry", ["spatialite"], indirect=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"{r.url} {r.failure}"))
    # the pages must work under their own Content-Security-Policy (api.security): a violation fails the test
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name.split('[')[0]}.png"))
    context.close()
    assert not errors, errors


def _sign_in(page, name: str = "test-registrar"):
    """Fill in the pages' login form (the accounts come from cadastre.testing.role_tokens)."""
    page.wait_for_selector("#login-form", timeout=15_000)
    page.fill("#login-name", name)
    page.fill("#login-password", f"{name}-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#sign-out", timeout=15_000)


def _until(page, expression: str, timeout: float = 10.0):
    """Wait until ``expression`` is true in the page. Polled through page.evaluate (DevTools evaluation, which the
    page's CSP does not govern; Playwright's wait_for_function evaluates strings with eval, which it forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true after {timeout} s: {expression}"
        time.sleep(0.1)


def _wait_for_map(page):
    _until(page, "window.cadastreMapReady === true && window.cadastreMap.areTilesLoaded()", 30)


def test_map_draws_parcels_and_a_click_opens_the_card(page, server):
    page.goto(server + "/")
    _sign_in(page)
    _wait_for_map(page)
    _until(page, "window.cadastreMap.queryRenderedFeatures({layers: ['parcels-fill']}).length > 0", 20)
    codes = page.evaluate("[...new Set(window.cadastreMap.queryRenderedFeatures({layers: ['parcels-fill']})"
                          ".map(f => f.properties.zddm))]")
    assert PARCEL in codes
    # click the middle of the parcel as the map draws it
    point = page.evaluate("""(code) => {
        const m = window.cadastreMap;
        const f = m.queryRenderedFeatures({layers: ['parcels-fill']}).find(f => f.properties.zddm === code);
        const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
        const xs = ring.map(c => c[0]), ys = ring.map(c => c[1]);
        const p = m.project([(Math.min(...xs) + Math.max(...xs)) / 2, Math.min(...ys) + (Math.max(...ys) - Math.min(...ys)) * 0.85]);
        const box = m.getCanvas().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", PARCEL)
    page.mouse.click(*point)
    card = page.wait_for_selector(f".card[data-zddm='{PARCEL}']", timeout=10_000)
    text = card.inner_text()
    assert "坐落" in text and "自然幢（3）" in text and "首次登记" in text
    # codes with their names; each building's readiness (building 0002 is not ready: PLN-009); lineage grouped
    assert "0701 城镇住宅用地" in text and "3 国有建设用地使用权" in text and "102 出让" in text
    page.wait_for_function("() => !document.querySelector('#buildings-readiness').innerText.includes('核对中')",
                           timeout=10_000)
    assert "1 幢暂不可办理" in card.inner_text() and "已注销" in card.inner_text()
    assert "84 个户代码" in card.inner_text()


def _centre_of(page, layer: str, key: str, value: str) -> list[float]:
    return page.evaluate("""([layer, key, value]) => {
        const m = window.cadastreMap;
        const f = m.queryRenderedFeatures({layers: [layer]}).find(f => f.properties[key] === value);
        const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
        const xs = ring.map(c => c[0]), ys = ring.map(c => c[1]);
        const p = m.project([(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2]);
        const box = m.getCanvas().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", [layer, key, value])


def test_map_tools_a_clerk_expects(page, server):
    """Issue 23: a building opens its 楼盘表; legend and layer switcher; labels at large scales; north arrow;
    distance measurement; printing the current view; usable at 1024 px."""
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(server + "/")
    _sign_in(page)
    _wait_for_map(page)
    header = page.locator("header").bounding_box()
    scale = page.locator(".maplibregl-ctrl-scale").bounding_box()
    assert header["height"] <= 50 and scale["y"] + scale["height"] <= 768  # no wrapped header, scale bar in view
    page.evaluate("window.cadastreMap.jumpTo({center: window.cadastreMap.getCenter(), zoom: 18})")
    page.fill("#q", "龙泉苑2号楼")
    page.click("#search button")
    page.wait_for_selector("#building-grid", timeout=10_000)
    page.click("#table-close")
    _until(page, "window.cadastreMap.queryRenderedFeatures({layers: ['buildings-fill']}).length > 0", 20)
    _until(page, "document.querySelectorAll('.map-label').length > 0", 20)
    assert "幢" in page.inner_text(".map-label.building >> nth=0")
    page.mouse.click(*_centre_of(page, "buildings-fill", "zrzh", "0003"))
    page.wait_for_function("() => document.querySelector('#table-title').innerText.includes('F0003')", timeout=10_000)
    page.click("#table-close")
    assert page.locator(".north").is_visible() and "图例" in page.inner_text(".legend")
    page.uncheck(".legend input[data-group='2']")  # 宗地 off
    assert page.evaluate("window.cadastreMap.getLayoutProperty('parcels-fill', 'visibility')") == "none"
    page.check(".legend input[data-group='2']")
    page.click("button[data-measure='line']")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + 300, box["y"] + 300)
    page.mouse.click(box["x"] + 500, box["y"] + 300)
    assert "长度" in page.inner_text("#measure-result") and " m" in page.inner_text("#measure-result")
    page.click("button[data-measure='clear']")
    page.click("#print-open")
    page.select_option("#print-paper", "A3")
    with page.context.expect_page(timeout=10_000) as printed:
        page.click("#print-form button[type=submit]")
    sheet = printed.value
    sheet.wait_for_load_state()
    text = sheet.inner_text("body")
    assert "不动产测绘成果图" in text and "比例尺 1:" in text and "制图日期" in text and "图例" in text
    assert sheet.locator("img").evaluate("i => i.naturalWidth") > 100 and sheet.get_attribute("body", "data-paper") == "A3"
    ARTIFACTS.mkdir(exist_ok=True)
    sheet.screenshot(path=str(ARTIFACTS / "map_print_view.png"))
    sheet.close()


def test_the_findings_box_says_what_it_found(page, server, loaded_registry):
    cadastral = next(p for p in loaded_registry.packages() if p.package_stage == "cadastral")
    page.goto(server + "/")
    _sign_in(page, "test-analyst")
    _wait_for_map(page)
    page.fill("#package-id", "9999")
    page.click("#findings-form button")
    page.wait_for_function("() => document.querySelector('#card').innerText.includes('不存在')", timeout=10_000)
    page.fill("#package-id", str(cadastral.id))
    page.click("#findings-form button")
    page.wait_for_function("() => document.querySelector('#card').innerText.includes('无问题')", timeout=10_000)


def test_search_finds_a_parcel_and_opens_its_building_table(page, server):
    page.goto(server + "/")
    _sign_in(page)
    _wait_for_map(page)
    page.fill("#q", "府前街2号")
    page.click("#search button")
    page.wait_for_selector(f".card[data-zddm='{PARCEL}']", timeout=10_000)
    page.click(f"button[data-building='{PARCEL}F0001']")
    grid = page.wait_for_selector("#building-grid", timeout=10_000)
    assert "1-601" in grid.inner_text() and "141031001002GB00001F0001" in grid.inner_text()
    assert page.locator("#table-body").inner_text().count("可办理首次登记") == 1
    # 打印版 opens the printable 楼盘表 in a new window (a page global named `open` once replaced window.open)
    with page.context.expect_page(timeout=10_000) as printable:
        page.click("#table-html")
    printable.value.wait_for_load_state()
    assert "141031001002GB00001F0001" in printable.value.content()
    printable.value.close()
    # the documents (issue 24): the 首次登记 file downloads as a zip; each unit's 分户图 and each floor's 平面图 open
    with page.expect_download(timeout=20_000) as download:
        page.click("#table-first")
    assert download.value.suggested_filename == "首次登记资料-141031001002GB00001F0001.zip"
    links = page.eval_on_selector_all("#building-grid a[data-authed]", "els => els.map(e => e.getAttribute('href'))")
    assert f"/api/units/{PARCEL}F00010005/documents/unit-plan" in links
    assert f"/api/buildings/{PARCEL}F0001/documents/floor-plan?floor=1" in links
    media = page.evaluate("async (u) => (await fetch(u, {headers: cad.authHeaders()})).headers.get('content-type')",
                          f"/api/units/{PARCEL}F00010005/documents/unit-plan")
    assert media == "application/pdf"
    page.click("#table-close")
    card = page.locator(".card .documents")
    assert "宗地图" in card.inner_text() and "界址点成果表" in card.inner_text()


def test_search_finds_what_clerks_type(page, server):
    """Room labels, a building's name with a room, full-width digits, words with blanks, a code with blanks; a
    complete code opens its unit directly."""
    page.goto(server + "/")
    _sign_in(page)
    _wait_for_map(page)
    for text, expected in (("龙泉苑1号楼1-101", "141031001002GB00001F00010005"), ("府前街２号", PARCEL),
                           ("隰县 府前街", PARCEL), ("141031 001002 GB00001", PARCEL)):
        page.fill("#q", text)
        page.click("#search button")
        page.wait_for_function("(code) => document.querySelector('#results').innerText.includes(code)", arg=expected,
                               timeout=10_000)
    page.fill("#q", "141031001002GB00001F00010005")
    page.click("#search button")
    grid = page.wait_for_selector("#building-grid", timeout=10_000)  # the unit's 楼盘表 opens at once
    assert "141031001002GB00001F0001" in page.inner_text("#table-title") and "1-101" in grid.inner_text()


def test_findings_of_a_package_are_drawn(page, server, loaded_registry):
    asbuilt = next(p for p in loaded_registry.packages() if p.package_stage == "asbuilt")
    page.goto(f"{server}/?package={asbuilt.id}")
    _sign_in(page, "test-analyst")
    _wait_for_map(page)
    page.wait_for_selector(".findings table", timeout=10_000)
    assert "PLN-009" in page.inner_text(".findings")
    _until(page, "window.cadastreMap.queryRenderedFeatures({layers: ['findings-point']}).length > 0")


def test_upload_page_shows_progress_then_the_report(page, server, tmp_path):
    from cadastre.samples import sample_cadastral, sample_manifest, write_package

    # a package this registry has not seen: the sample cadastral survey under another project name
    manifest = {**sample_manifest("cadastral"), "project_name": "浏览器上传测试"}
    package = write_package(tmp_path / "upload-test.zip", sample_cadastral(), manifest=manifest)
    page.goto(server + "/upload")
    _sign_in(page, "test-surveyor")
    assert "test-surveyor" in page.inner_text("#who")
    asked = []
    page.on("request", lambda r: asked.append(r) if re.search(r"/api/packages/\d+$", r.url) else None)
    page.set_input_files("#file", str(package))
    page.wait_for_selector("#verdict", timeout=60_000)
    assert page.locator("#progress").evaluate("p => p.value") == 100
    # the page follows the state by waiting for its next version, not by asking twice a second
    following = [r.headers for r in asked[1:]]
    assert following and all(h.get("prefer") == "wait=25" and h.get("if-none-match") for h in following)
    # the title follows the outcome; the mini-map's tiles come with the token (they were 401: dots on blank)
    verdict = page.inner_text("#verdict")
    assert page.inner_text("#progress-title").endswith(verdict) and "处理中" not in page.inner_text("#progress-title")
    if page.locator("#finding-map:not([hidden])").count():
        # parcels drawn under the dots: the tiles came (MapLibre fetches them in a worker, with the token)
        _until(page, "window.cadastreFindingMap && window.cadastreFindingMap.queryRenderedFeatures("
                     "{layers: ['parcels']}).length > 0", 20)
    assert page.locator("#findings-table").count() == 1
    assert page.locator("#report-link").get_attribute("href").endswith("/report.html")
    _until(page, "document.querySelectorAll('#packages tr').length > 1")
    assert "upload-test.zip" in page.inner_text("#packages")
    with page.context.expect_page() as report:  # the report opens with the token, in a new tab
        page.click("#report-link")
    report.value.wait_for_load_state()
    assert "质检报告" in report.value.content()


def test_a_zoning_zip_on_the_upload_page_says_where_it_belongs(page, server, zoning_zip):
    page.goto(server + "/upload")
    _sign_in(page, "test-surveyor")
    page.set_input_files("#file", str(zoning_zip))
    page.wait_for_selector("#verdict", timeout=60_000)
    assert page.inner_text("#progress-title").endswith("已拒收")
    report = page.inner_text("#report")
    assert "cadastre zones import" in report and "阶段 ，" not in report and "项目 。" not in report


def test_a_duplex_spans_its_floors_in_the_map_building_table(page, server, loaded_registry, sample_files):
    """府前华庭 (issue 21): 逻辑幢 heads the columns, a 架空层 is a row, a 跃层 flat is one cell over floors 7–8.
    Runs last in this module: it adds the second project to the module's registry."""
    for stage in ("towers-presale", "towers-asbuilt"):
        assert loaded_registry.ingest(sample_files[stage], submitted_by="test-surveyor").status == "accepted"
    page.goto(server + "/")
    _sign_in(page)
    _wait_for_map(page)
    page.fill("#q", "141031001002GB00004")
    page.click("#search button")
    page.wait_for_selector("button[data-building='141031001002GB00004F0002']", timeout=10_000)
    page.click("button[data-building='141031001002GB00004F0002']")
    grid = page.wait_for_selector("#building-grid", timeout=10_000)
    text = grid.inner_text()
    assert "2号楼东梯" in text and "架空层" in text and "跨 7–8 层" in text
    assert page.locator("#building-grid td[rowspan='2']").count() == 2
