"""Readable reports rendered from a :class:`~cadastre.qa.report.Report`: one self-contained HTML page (inline CSS and
SVG maps, no network) and an Excel list of findings a surveyor can sort and filter."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from cadastre.core.catalogue import CATALOGUE, SEVERITY_NAMES, STAGE_NAMES
from cadastre.core.codetables import labelled
from cadastre.qa.report import Report
from cadastre.read.layers import layer_specs

__all__ = ["write_html", "write_xlsx", "render_html", "MAX_MAPS"]

MAX_MAPS = 200  # findings drawn on a small map each; the table lists them all
MAP_SIZE = 220  # px
WINDOW = 40.0  # m around a finding at least
_STYLE = {  # layer → (stroke, fill)
    "ZDJBXX": ("#6b6b6b", "none"), "ZRZ": ("#1f5fa8", "#d6e4f5"), "H": ("#8aa9cc", "none"), "LD": ("#3c8d3c", "#dcefd5"),
    "JZD": ("#444", "#444"), "GHHX": ("#c0392b", "none"), "TCW": ("#7d5ba6", "#7d5ba6"),
}
_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.error{color:#b00020;font-weight:bold}.warning{color:#b26a00}.info{color:#555}
.pass{color:#1b7f3b;font-weight:bold}.fail{color:#b00020;font-weight:bold}
.maps{display:flex;flex-wrap:wrap;gap:12px}.map{border:1px solid #ccc;padding:4px;width:228px;font-size:12px}
svg{background:#fafafa}
"""


def _esc(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return html.escape(str(value))


def _summary_rows(report: Report) -> str:
    if not len(report.findings):
        return "<tr><td colspan=4>无</td></tr>"
    counts = report.findings.groupby(["rule", "severity"]).size().reset_index(name="n")
    rows = []
    for r in counts.itertuples():
        description = CATALOGUE[r.rule].description if r.rule in CATALOGUE else ""
        rows.append(f"<tr><td>{_esc(r.rule)}</td><td class={r.severity}>{SEVERITY_NAMES[r.severity]}</td>"
                    f"<td>{_esc(description)}</td><td>{r.n}</td></tr>")
    return "".join(rows)


def _maps(report: Report, package) -> str:
    findings = report.findings.head(MAX_MAPS)
    located = findings[np.isfinite(findings["lon"].to_numpy(float))]
    if package is None or not len(located):
        return "<p>（无可绘制的位置）</p>"
    to_storage = Transformer.from_crs(4326, package.storage_epsg, always_xy=True)
    xs, ys = to_storage.transform(located["lon"].to_numpy(float), located["lat"].to_numpy(float))
    layers = []
    for code, frame in package.layers.items():
        geoms = np.asarray(frame.geometry.values, dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if ok.any():
            layers.append((code, geoms[ok], shapely.STRtree(geoms[ok])))
    cards = []
    for (x, y), row in zip(np.column_stack([xs, ys]), located.itertuples(), strict=True):
        window = shapely.box(x - WINDOW / 2, y - WINDOW / 2, x + WINDOW / 2, y + WINDOW / 2)
        shapes = []
        for code, geoms, tree in layers:
            for g in geoms[tree.query(window)]:
                shapes.append((code, g))
        svg = _svg(shapes, window, (x, y))
        cards.append(f"<div class=map id=f{row.Index}>{svg}<div><span class={row.severity}>{_esc(row.rule)}</span> "
                     f"{_esc(row.feature)}</div><div>{_esc(row.message)}</div></div>")
    more = len(report.findings) - len(findings)
    tail = f"<p>另有 {more} 条问题未绘图，见上表。</p>" if more > 0 else ""
    return f"<div class=maps>{''.join(cards)}</div>{tail}"


def _svg(shapes, window, point, size: int = MAP_SIZE, bar_m: float = 10.0) -> str:
    minx, miny, maxx, maxy = window.bounds
    scale = size / max(maxx - minx, maxy - miny)

    def path(geometry) -> str:
        parts = []
        for ring in _rings(geometry):
            coords = np.asarray(ring.coords)
            px = (coords[:, 0] - minx) * scale
            py = (maxy - coords[:, 1]) * scale  # SVG y grows downwards; northing grows upwards
            parts.append("M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True)) +
                         (" Z" if ring.is_closed else ""))
        return " ".join(parts)

    body = []
    for code, geometry in shapes:
        stroke, fill = _STYLE.get(code, ("#999", "none"))
        if shapely.get_type_id(geometry) == 0:  # points
            cx, cy = (geometry.x - minx) * scale, (maxy - geometry.y) * scale
            body.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2" fill="{fill}"/>')
        else:
            body.append(f'<path d="{path(geometry)}" stroke="{stroke}" fill="{fill}" fill-opacity="0.6" '
                        f'stroke-width="1"/>')
    if point is not None:
        px, py = (point[0] - minx) * scale, (maxy - point[1]) * scale
        body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="6" stroke="#d00" stroke-width="2" fill="none"/>')
    bar = bar_m * scale
    body.append(f'<line x1="6" y1="{size - 8}" x2="{6 + bar:.1f}" y2="{size - 8}" stroke="#000"/>'
                f'<text x="8" y="{size - 12}" font-size="10">{bar_m:g} m</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 {size} {size}">{"".join(body)}</svg>')


STATUS_NAMES = {"pass": "通过", "fail": "未通过", "not_checked": "未核实", "forecast_pass": "预测通过",
                "forecast_fail": "预测未通过"}
PLANNING_MAP_SIZE = 480  # px
_PLANNING_LAYERS = ("GHHX", "LD", "ZRZ", "TCW")  # drawn bottom to top


def _layer_name(code) -> str:
    """A finding's layer as a person reads it: ``宗地 ZDJBXX``, ``规划核实``, ``成果包``."""
    if code in _LAYER_WORDS:
        return _LAYER_WORDS[code]
    spec = layer_specs().get(code)
    return f"{spec.title} {code}" if spec is not None else str(code)


_LAYER_WORDS = {"package": "成果包", "planning": "规划核实", "all": "全部图层", "any": "任一图层"}


def _figure(value, field: str | None = None) -> str:
    if field is not None and isinstance(value, str):
        return _esc(labelled(field, value))  # 用途 11 → 11 成套住宅
    if isinstance(value, dict):
        names = {"above": "地上", "below": "地下"}
        return "，".join(f"{_esc(names.get(k, k))} {_esc(v)}" for k, v in value.items())
    return _esc(value)


def _planning_section(report: Report, package) -> str:
    """规划核实: each indicator with its figures and evidence, and a map of footprints, green areas, red line and
    parking spaces."""
    if not report.indicators:
        return ""
    rows = []
    for i in report.indicators:
        css = "pass" if i["status"].endswith("pass") else "fail" if i["status"].endswith("fail") else "info"
        evidence = json.dumps(i.get("evidence") or {}, ensure_ascii=False, indent=1)
        rows.append(
            f"<tr><td>{_esc(i.get('name'))}</td><td>{_esc(i.get('subject'))}</td>"
            f"<td>{_figure(i['permitted'], 'GHYT' if i.get('indicator') == 'use' else None)}</td>"
            f"<td>{_figure(i['measured'], 'GHYT' if i.get('indicator') == 'use' else None)}</td><td>{_figure(i['tolerance'])}</td>"
            f"<td class={css}>{STATUS_NAMES.get(i['status'], i['status'])}</td>"
            f"<td>{_esc(i.get('message') or i.get('reason'))}"
            f"{'<details><summary>依据</summary><pre>' + _esc(evidence) + '</pre></details>' if i.get('evidence') else ''}"
            f"</td></tr>")
    shapes = []
    if package is not None:
        for code in _PLANNING_LAYERS:
            frame = package.layers.get(code)
            if frame is not None:
                geoms = np.asarray(frame.geometry.values, dtype=object)
                shapes += [(code, g) for g in geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]]
    drawing = ""
    if shapes:
        minx, miny, maxx, maxy = shapely.total_bounds(np.array([g for _, g in shapes], dtype=object))
        margin = 0.05 * max(maxx - minx, maxy - miny, 10.0)
        window = shapely.box(minx - margin, miny - margin, maxx + margin, maxy + margin)
        bar = 10.0 ** np.floor(np.log10(max(maxx - minx, 10.0) / 2))
        legend = "　".join(f'<span style="color:{_STYLE[c][0]}">■</span> {name}' for c, name in
                          (("GHHX", "规划红线/建筑控制线"), ("LD", "绿地"), ("ZRZ", "自然幢基底"), ("TCW", "停车位")))
        drawing = f"<div class=map style='width:{PLANNING_MAP_SIZE + 8}px'>" \
                  f"{_svg(shapes, window, None, PLANNING_MAP_SIZE, float(bar))}<div>{legend}</div></div>"
    permit = report.package.get("permit") or {}
    source = {"recorded": "登记的规划许可", "package": "成果包所附 permit.json"}.get(permit.get("source"), "")
    heading = f"<p>规划许可：{_esc(permit.get('number'))}（{source}）</p>" if permit else "<p>没有规划许可。</p>"
    return f"""<h2>规划核实</h2>
{heading}
<table><tr><th>指标</th><th>对象</th><th>规划许可</th><th>实测</th><th>限差</th><th>结论</th><th>说明与依据</th></tr>
{''.join(rows)}</table>
{drawing}"""


def _rings(geometry):
    kind = shapely.get_type_id(geometry)
    if kind in (3, 6):  # (multi)polygon
        return list(shapely.get_rings(geometry))
    if kind in (1, 5):  # (multi)linestring
        return list(shapely.get_parts(geometry))
    return []


def render_html(report: Report, package=None) -> str:
    """The report as one self-contained Chinese HTML page."""
    p = report.package
    counts = report.counts()
    if report.refused:
        verdict = "<span class=fail>拒收</span>"
    else:
        verdict = "<span class=fail>未通过</span>" if counts["error"] else "<span class=pass>通过</span>"
    title = f"成果包质检报告：{_esc(p.get('name'))}"
    meta = [("成果包", p.get("name")), ("阶段", STAGE_NAMES.get(p.get("stage"), p.get("stage"))),
            ("县", f"{p.get('county_name', '')} {p.get('county_code', '')}"), ("SHA-256", p.get("sha256")),
            ("项目", (p.get("manifest") or {}).get("project_name")),
            ("测绘单位", (p.get("manifest") or {}).get("surveyor")),
            ("坐标系", f"EPSG:{report.crs['epsg']}（{report.crs['detail']}）" if report.crs else None)]
    meta_rows = "".join(f"<tr><th>{k}</th><td>{_esc(v)}</td></tr>" for k, v in meta if v)
    layer_rows = "".join(f"<tr><td>{_esc(code)}</td><td>{n}</td><td>{_esc(report.sources.get(code, {}).get('member'))}"
                         f"</td></tr>" for code, n in report.layers.items())
    encoding_rows = "".join(f"<tr><td>{_esc(member)}</td><td>{_esc(e['encoding'])}</td><td>{_esc(e['source'])}</td>"
                            f"<td>{_esc(e.get('warning'))}</td></tr>" for member, e in report.encoding.items())
    finding_rows = "".join(
        f"<tr><td class={r.severity}>{SEVERITY_NAMES[r.severity]}</td><td>{_esc(r.rule)}</td><td>{_esc(_layer_name(r.layer))}</td>"
        f"<td>{_esc(r.feature)}</td><td>{_esc(r.message)}</td><td>{_esc(r.measured)}</td><td>{_esc(r.limit)}</td>"
        f"<td>{'' if not np.isfinite(r.lon) else f'<a href=#f{r.Index}>{r.lon:.6f}, {r.lat:.6f}</a>'}</td></tr>"
        for r in report.findings.itertuples())
    not_run = "".join(f"<li>{_esc(n['rule'])}：{_esc(n['reason'])}</li>" for n in report.not_run)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title><style>{_CSS}</style></head>
<body>
<h1>{title}</h1>
<p>结论：{verdict}　错误 {counts['error']}，警告 {counts['warning']}，提示 {counts['info']}</p>
<table>{meta_rows}</table>
<h2>按规则汇总</h2>
<table><tr><th>规则</th><th>严重程度</th><th>说明</th><th>数量</th></tr>{_summary_rows(report)}</table>
{f'<h2>未执行的检查</h2><ul>{not_run}</ul>' if not_run else ''}
<h2>问题清单</h2>
<table><tr><th>严重程度</th><th>规则</th><th>图层</th><th>要素</th><th>说明</th><th>量测值</th><th>限值</th><th>位置（经度, 纬度）</th></tr>
{finding_rows or '<tr><td colspan=8>未发现问题</td></tr>'}</table>
{_planning_section(report, package)}
<h2>问题位置图</h2>
{_maps(report, package)}
<h2>读取的图层</h2>
<table><tr><th>图层</th><th>要素数</th><th>文件</th></tr>{layer_rows}</table>
<h2>文字编码</h2>
<table><tr><th>文件</th><th>编码</th><th>判定依据</th><th>说明</th></tr>{encoding_rows}</table>
</body></html>
"""


def write_html(report: Report, path: str | Path, package=None) -> Path:
    path = Path(path)
    path.write_text(render_html(report, package if package is not None else report.source_package), encoding="utf-8")
    return path


def write_xlsx(report: Report, path: str | Path) -> Path:
    """Findings as a spreadsheet: one sortable, filterable row per finding, and a summary sheet."""
    path = Path(path)
    findings = report.findings
    table = pd.DataFrame({
        "严重程度": findings["severity"].map(SEVERITY_NAMES), "规则": findings["rule"], "图层": findings["layer"].map(_layer_name),
        "要素": findings["feature"], "说明": findings["message"], "量测值": findings["measured"],
        "限值": findings["limit"], "经度": findings["lon"], "纬度": findings["lat"],
    })
    summary = (findings.groupby(["rule", "severity"]).size().reset_index(name="数量")
               if len(findings) else pd.DataFrame(columns=["rule", "severity", "数量"]))
    summary.insert(1, "说明", summary["rule"].map(lambda r: CATALOGUE[r].description if r in CATALOGUE else ""))
    summary = summary.rename(columns={"rule": "规则", "severity": "严重程度"})
    summary["严重程度"] = summary["严重程度"].map(SEVERITY_NAMES)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name="问题清单", index=False)
        summary.to_excel(writer, sheet_name="汇总", index=False)
        sheet = writer.sheets["问题清单"]
        sheet.auto_filter.ref = sheet.dimensions
        sheet.freeze_panes = "A2"
        for column, width in zip("ABCDEFGHI", (8, 9, 8, 16, 70, 10, 10, 12, 12), strict=True):
            sheet.column_dimensions[column].width = width
    return path
