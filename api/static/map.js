// The staff map: vector tiles of districts, sub-districts, parcels and buildings; search; parcel cards;
// a building's 楼盘表; a package's findings. Everything comes from this server: no internet needed.
// Scoped in a function: a page global named like a browser one (open, close, print …) would replace it.
(() => {
"use strict";

const FINDING_COLOURS = ["match", ["get", "severity"], "error", "#d92d20", "warning", "#f79009", "#2e90fa"];

function style(config) {
  const tiles = (layer) => ({type: "vector", tiles: [`${location.origin}/tiles/${layer}/{z}/{x}/{y}.pbf`],
                             minzoom: config.layers[layer].minzoom, maxzoom: 22});
  const sources = {districts: tiles("districts"), subdistricts: tiles("subdistricts"),
                   parcels: {...tiles("parcels"), promoteId: "zddm"}, buildings: tiles("buildings"),
                   findings: {type: "geojson", data: {type: "FeatureCollection", features: []}}};
  const layers = [{id: "background", type: "background", paint: {"background-color": "#f2efe9"}}];
  if (config.basemap && config.basemap.url) {
    sources.basemap = {type: "raster", tiles: [config.basemap.url], tileSize: 256,
                       attribution: config.basemap.attribution || ""};
    layers.push({id: "basemap", type: "raster", source: "basemap"});
  }
  layers.push(
    {id: "districts-line", type: "line", source: "districts", "source-layer": "districts",
     paint: {"line-color": "#7a5195", "line-width": 2}},
    {id: "subdistricts-line", type: "line", source: "subdistricts", "source-layer": "subdistricts",
     paint: {"line-color": "#bc5090", "line-width": 1, "line-dasharray": [3, 2]}},
    {id: "parcels-fill", type: "fill", source: "parcels", "source-layer": "parcels",
     paint: {"fill-color": ["case", ["boolean", ["feature-state", "selected"], false], "#f0b429", "#9ecae1"],
             "fill-opacity": 0.45}},
    {id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels",
     paint: {"line-color": "#08519c", "line-width": 1}},
    {id: "buildings-fill", type: "fill", source: "buildings", "source-layer": "buildings",
     paint: {"fill-color": ["match", ["get", "stage"], "asbuilt", "#636363", "#bdbdbd"], "fill-opacity": 0.8}},
    {id: "buildings-line", type: "line", source: "buildings", "source-layer": "buildings",
     paint: {"line-color": "#252525", "line-width": 0.8}},
    {id: "findings-point", type: "circle", source: "findings",
     paint: {"circle-radius": 6, "circle-color": FINDING_COLOURS, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5}},
  );
  return {version: 8, sources, layers};
}

const panel = {
  card: document.getElementById("card"),
  results: document.getElementById("results"),
  show(html) { this.card.innerHTML = html; },
  error(message) { this.card.innerHTML = `<p class="error">${cad.esc(message)}</p>`; },
};

let map;
let selected = null;

function select(zddm) {
  if (selected) map.setFeatureState({source: "parcels", sourceLayer: "parcels", id: selected}, {selected: false});
  selected = zddm;
  if (zddm) map.setFeatureState({source: "parcels", sourceLayer: "parcels", id: zddm}, {selected: true});
}

function row(label, value) { return `<tr><th>${cad.esc(label)}</th><td>${value}</td></tr>`; }

async function showParcel(zddm) {
  select(zddm);
  panel.show("<p class=hint>读取中…</p>");
  let p;
  try { p = await cad.json(`/api/parcels/${encodeURIComponent(zddm)}`); } catch (e) { panel.error(e.message); return; }
  const c = p.current || {};
  const names = p.names || {};
  // once buildings stand on it, the land is registered with each unit of the buildings (房地一体): its own land code
  // is retired, and the buildings' readiness is what counts
  const land = p.land_code && p.land_code.retired_at && p.buildings.length ? "随各幢房屋一并办理（房地一体）"
    : p.ready_for_first_registration ? `<span class="ready">可办理</span>`
    : `<span class="not-ready">暂不可办理</span>：${cad.esc(p.not_ready_because.join("；"))}`;
  const buildings = p.buildings.map((b) => `<tr><td>${cad.esc(b.zrzh)}</td><td>${cad.esc(b.jzwmc || "")}</td>
      <td>${cad.esc(cad.stageNames[b.stage] || b.stage)}</td><td>${b.units}</td>
      <td data-readiness="${cad.esc(p.zddm + "F" + b.zrzh)}">…</td>
      <td><button class="link" data-building="${cad.esc(p.zddm + "F" + b.zrzh)}">楼盘表</button></td></tr>`).join("");
  const history = p.history.map((h) => `<tr><td>${cad.esc(String(h.valid_from).slice(0, 19))}</td>
      <td>${cad.esc(h.valid_to ? String(h.valid_to).slice(0, 19) : "至今")}</td>
      <td>${h.package_stage === "baseline" ? cad.esc(`存量数据批次 ${h.package_id}（${h.package_file || ""}）`) : h.package_id}</td>
      <td>${cad.esc(h.end_reason || "")}</td></tr>`).join("");
  // code lineage grouped: a land code retired for 84 unit codes is one line ("→ 84 个户代码"), the codes on demand
  const groups = [];
  for (const l of p.lineage) {
    const last = groups[groups.length - 1];
    if (last && last.old_code === l.old_code && last.reason === l.reason) last.new_codes.push(l.new_code);
    else groups.push({old_code: l.old_code, reason: l.reason, new_codes: [l.new_code]});
  }
  const lineage = groups.map((g) => {
    const codes = g.new_codes.filter((x) => x);
    const target = codes.length > 1
      ? `<details><summary>${codes.length} 个${codes[0].length === 28 ? "户" : ""}代码</summary>${codes.map((x) =>
          `<code>${cad.esc(x)}</code>`).join("<br>")}</details>`
      : `<code>${cad.esc(codes[0] || "（无）")}</code>`;
    return `<tr><td><code>${cad.esc(g.old_code)}</code> →</td><td>${target}</td><td>${cad.esc(g.reason)}</td></tr>`;
  }).join("");
  const landCode = p.land_code && p.land_code.code;
  panel.show(`<div class="card" data-zddm="${cad.esc(p.zddm)}">
    <h2>宗地 <code>${cad.esc(p.zddm)}</code></h2>
    ${c.valid_to ? "" : `<p class="documents">图件：<a data-authed href="/api/parcels/${cad.esc(p.zddm)}/documents/parcel-map">宗地图</a>
      · 界址点成果表 <a data-authed href="/api/parcels/${cad.esc(p.zddm)}/documents/boundary-points">PDF</a>
      <a data-authed download="界址点成果表-${cad.esc(p.zddm)}.xlsx" href="/api/parcels/${cad.esc(p.zddm)}/documents/boundary-points?format=xlsx">Excel</a></p>`}
    <table>${row("坐落", cad.esc(c.zl || ""))}${row("权利人", cad.esc(c.qlr || ""))}${row("宗地面积", cad.num(c.area) + " ㎡（申报 " + cad.num(c.zdmj) + " ㎡）")}
    ${row("用途", cad.esc(names.yt || c.yt || ""))}${row("权利类型", cad.esc(names.qllx || c.qllx || ""))}${row("权利性质", cad.esc(names.qlxz || c.qlxz || ""))}
    ${row("土地不动产单元代码", landCode ? "<code>" + cad.esc(landCode) + "</code>" +
          (p.land_code.retired_at ? `<span class="retired">（已注销：${cad.esc(p.land_code.retired_reason || "")}）</span>` : "") : "无")}
    ${row("状态", c.package_status ? cad.esc(cad.statusNames[c.package_status] || c.package_status) : "非现势")}
    ${row("土地首次登记", land)}
    ${p.buildings.length ? row("房屋首次登记", `<span id="buildings-readiness">逐幢核对中…</span>`) : ""}</table>
    <h3>自然幢（${p.buildings.length}）</h3>
    <table><tr><th>幢号</th><th>名称</th><th>阶段</th><th>户数</th><th>首次登记</th><th></th></tr>${buildings || "<tr><td colspan=6>无</td></tr>"}</table>
    <h3>历史版本</h3><table><tr><th>起</th><th>止</th><th>成果包</th><th>原因</th></tr>${history}</table>
    ${lineage ? `<h3>代码沿革</h3><table>${lineage}</table>` : ""}</div>`);
  // each building's own readiness for 首次登记 (房证同交), so the card never says "ready" for the land alone
  const results = await Promise.all(p.buildings.map(async (b) => {
    const code = p.zddm + "F" + b.zrzh;
    try { return {code, r: await cad.json(`/api/buildings/${encodeURIComponent(code)}/readiness`)}; }
    catch (e) { return {code, r: {ready: false, not_ready_because: [e.message]}}; }
  }));
  let notReady = 0;
  for (const {code, r} of results) {
    const cell = panel.card.querySelector(`[data-readiness="${code}"]`);
    if (!r.ready) notReady += 1;
    if (cell) cell.innerHTML = r.ready ? `<span class="ready">可办理</span>`
      : `<span class="not-ready" title="${cad.esc(r.not_ready_because.join("；"))}">暂不可办理</span>`;
  }
  const summary = panel.card.querySelector("#buildings-readiness");
  if (summary) summary.innerHTML = notReady ? `<span class="not-ready">${notReady} 幢暂不可办理</span>（见下表）`
    : `<span class="ready">各幢均可办理</span>`;
}

async function showTable(code) {
  const dialog = document.getElementById("table-dialog");
  const body = document.getElementById("table-body");
  document.getElementById("table-title").textContent = `楼盘表 ${code}`;
  document.getElementById("table-xlsx").href = `/api/buildings/${code}/table?format=xlsx`;
  document.getElementById("table-xlsx").setAttribute("download", `${code}.xlsx`);
  document.getElementById("table-html").href = `/api/buildings/${code}/table?format=html`;
  const file = document.getElementById("table-first");
  file.href = `/api/buildings/${code}/documents/first-registration`;
  file.setAttribute("download", `首次登记资料-${code}.zip`);
  body.innerHTML = "<p class=hint>读取中…</p>";
  dialog.hidden = false;
  let t;
  try { t = await cad.json(`/api/buildings/${encodeURIComponent(code)}/table`); } catch (e) {
    body.innerHTML = `<p class="error">${cad.esc(e.message)}</p>`; return;
  }
  // heading rows: 逻辑幢 (when the survey has them), 单元 (when it has them), then each column's place
  const runs = (key) => t.columns.reduce((out, c) => {
    const k = key(c), last = out[out.length - 1];
    if (last && last.key === k) last.n += 1; else out.push({key: k, c, n: 1});
    return out;
  }, []);
  const levels = [];
  if (t.columns.some((c) => c.ljzh)) levels.push(runs((c) => c.ljzh + "|" + (c.ljz || "")).map((r) =>
    ({text: r.c.ljzh ? (r.c.ljz || `${r.c.ljzh}号逻辑幢`) : "", n: r.n})));
  if (t.columns.some((c) => c.dyh)) levels.push(runs((c) => c.ljzh + "|" + c.dyh).map((r) =>
    ({text: r.c.dyh ? `${r.c.dyh}单元` : "", n: r.n})));
  levels.push(t.columns.map((c) => ({text: c.label, n: 1})));
  const head = levels.map((level, k) => `<tr>${k === 0 ? `<th rowspan=${levels.length}>层</th>` : ""}${level.map((h) =>
    `<th colspan=${h.n}>${cad.esc(h.text)}</th>`).join("")}${k === 0 ? `<th rowspan=${levels.length}>本层合计 ㎡</th>` : ""}</tr>`).join("");
  const cell = (c) => c === null ? "<td class=empty></td>" : c.covered_by ? "" :
    `<td rowspan=${c.rowspan} class="${c.status === "retired" ? "retired" : ""}${c.rowspan > 1 ? " span" : ""}"><b>${cad.esc(c.shbw)}</b>
     ${c.rowspan > 1 ? `<br><i>跨 ${c.floors[0]}–${c.floors[c.floors.length - 1]} 层</i>` : ""}<br><code>${cad.esc(c.bdcdyh)}</code><br>
     ${cad.esc(c.use_name || "")}<br>建筑 ${cad.num(c.area)} ㎡<br>套内 ${cad.num(c.inner)} · 分摊 ${cad.num(c.shared)}
     <br><a data-authed href="/api/units/${cad.esc(c.bdcdyh)}/documents/unit-plan">分户图</a></td>`;
  const floorOf = (r) => r.cells.find((c) => c && !c.covered_by && c.floors && c.floors.length);
  const rows = t.rows.map((r) => `<tr><th>${cad.esc(r.label)}${floorOf(r) ? `<br><a data-authed class="small"
     href="/api/buildings/${cad.esc(code)}/documents/floor-plan?floor=${r.sjc}">平面图</a>` : ""}</th>${r.cells.map(cell).join("")}
     <td>${cad.num(r.total_area)}</td></tr>`).join("");
  const state = t.ready ? `<span class="ready">可办理首次登记</span>`
    : `<span class="not-ready">暂不可办理首次登记</span>：${cad.esc(t.not_ready_because.join("；"))}`;
  body.innerHTML = `<p>${cad.esc(t.name || "")}（${cad.esc(cad.stageNames[t.stage] || t.stage)}）坐落 ${cad.esc(t.zl || "")}，
    地上 ${t.floors_above} 层、地下 ${t.floors_below} 层，${t.unit_count} 户，总建筑面积 ${cad.num(t.total_area)} ㎡。${state}</p>
    <table class="grid" id="building-grid">${head}${rows}</table>`;
}

async function search(text) {
  panel.results.innerHTML = "<p class=hint>查找中…</p>";
  panel.show("");  // a new search replaces the previous card
  document.getElementById("table-dialog").hidden = true;
  let hits;
  try { hits = (await cad.json(`/api/search?q=${encodeURIComponent(text)}`)).results; } catch (e) {
    panel.results.innerHTML = `<p class="error">${cad.esc(e.message)}</p>`; return;
  }
  if (!hits.length) { panel.results.innerHTML = `<p>没有找到“${cad.esc(text)}”。</p>`; return; }
  const names = {parcel: "宗地", building: "自然幢", unit: "户"};
  panel.results.innerHTML = `<ul class="results">${hits.map((h, i) => `<li data-hit="${i}">${names[h.kind]}
      <code>${cad.esc(h.code)}</code> ${cad.esc(h.label || "")}</li>`).join("")}</ul>`;
  panel.results.querySelectorAll("li").forEach((li) => li.addEventListener("click", () => openHit(hits[Number(li.dataset.hit)])));
  if (hits.length === 1) openHit(hits[0]);
}

function openHit(hit) {
  map.fitBounds([[hit.bbox[0], hit.bbox[1]], [hit.bbox[2], hit.bbox[3]]], {padding: 80, maxZoom: 18, duration: 0});
  if (hit.kind === "parcel") showParcel(hit.code);
  else if (hit.kind === "building") { showParcel(hit.code.slice(0, 19)); showTable(hit.code); }
  else { showParcel(hit.code.slice(0, 19)); showTable(hit.code.slice(0, 24)); }
}

async function showFindings(packageId) {
  for (const popup of document.querySelectorAll(".maplibregl-popup")) popup.remove();
  let data;
  try {
    await cad.json(`/api/packages/${encodeURIComponent(packageId)}`);  // a package that does not exist says so
    data = await cad.json(`/collections/findings/items?package=${packageId}&limit=10000`);
  } catch (e) {
    map.getSource("findings").setData({type: "FeatureCollection", features: []});
    panel.error(e.message); return;
  }
  map.getSource("findings").setData(data);
  if (!data.features.length) {
    panel.show(`<div class="findings"><h2>成果包 ${cad.esc(String(packageId))} 的问题</h2><p class="ready">无问题</p></div>`);
    return;
  }
  const located = data.features.filter((f) => f.geometry);
  if (located.length) {
    const xs = located.map((f) => f.geometry.coordinates[0]), ys = located.map((f) => f.geometry.coordinates[1]);
    map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]], {padding: 80, maxZoom: 18, duration: 0});
  }
  panel.show(`<div class="findings"><h2>成果包 ${packageId} 的问题（${data.features.length}）</h2><table>
    <tr><th>级别</th><th>规则</th><th>要素</th><th>说明</th></tr>${data.features.map((f) => `<tr>
    <td>${cad.esc(cad.severityNames[f.properties.severity] || f.properties.severity)}</td><td>${cad.esc(f.properties.rule)}</td>
    <td>${cad.esc(f.properties.feature || "")}</td><td>${cad.esc(f.properties.message)}</td></tr>`).join("")}</table></div>`);
}

// ---------------------------------------------------------------------------------------------- the map's tools

// the legend is the layer switcher: a swatch and a checkbox per group of layers
const LAYER_GROUPS = [
  {name: "地籍区", layers: ["districts-line"], line: "#7a5195"},
  {name: "地籍子区", layers: ["subdistricts-line"], line: "#bc5090"},
  {name: "宗地", layers: ["parcels-fill", "parcels-line"], fill: "#9ecae1", line: "#08519c"},
  {name: "自然幢（实测）", layers: ["buildings-fill", "buildings-line"], fill: "#636363", line: "#252525"},
  {name: "自然幢（预测）", layers: [], fill: "#bdbdbd", line: "#252525", sameAs: "自然幢（实测）"},
  {name: "问题", layers: ["findings-point"], fill: "#d92d20"},
  {name: "标注（宗地号、幢号）", labels: true},
];
const LABEL_ZOOM = 17;  // labels from this zoom on: a clerk at the scale of a block
let labelsOn = true;
let measuring = null;  // "line" | "area" | null: clicks then add measurement points, not open cards

class LegendControl {
  onAdd(m) {
    const box = document.createElement("div");
    box.className = "maplibregl-ctrl map-tool legend";
    box.innerHTML = "<b>图例</b>" + LAYER_GROUPS.map((g, i) => {
      const swatch = g.labels ? `<span class="swatch" style="border:0">12</span>`
        : `<span class="swatch${g.fill ? "" : " line"}" style="${g.fill ? `background:${g.fill};` : ""}border-color:${g.line || g.fill}"></span>`;
      const toggle = g.sameAs ? `<span style="width:13px"></span>` : `<input type="checkbox" data-group="${i}" checked>`;
      return `<label>${toggle}${swatch}${cad.esc(g.name)}</label>`;
    }).join("");
    box.addEventListener("change", (e) => {
      const group = LAYER_GROUPS[Number(e.target.dataset.group)];
      if (group.labels) { labelsOn = e.target.checked; updateLabels(); return; }
      for (const id of group.layers) m.setLayoutProperty(id, "visibility", e.target.checked ? "visible" : "none");
    });
    return box;
  }
  onRemove() {}
}

class NorthArrow {
  onAdd(m) {
    const box = document.createElement("div");
    box.className = "maplibregl-ctrl map-tool north";
    box.title = "指北";
    box.innerHTML = "<span>▲</span>北";
    m.on("rotate", () => { box.style.transform = `rotate(${-m.getBearing()}deg)`; });
    return box;
  }
  onRemove() {}
}

class MeasureControl {
  onAdd(m) {
    const box = document.createElement("div");
    box.className = "maplibregl-ctrl map-tool measure";
    box.innerHTML = `<button type="button" data-measure="line">量距离</button> <button type="button" data-measure="area">量面积</button>
      <button type="button" data-measure="clear">清除</button> <button type="button" id="print-open">打印</button>
      <div class="measure-result" id="measure-result"></div>`;
    box.addEventListener("click", (e) => {
      const kind = e.target.dataset && e.target.dataset.measure;
      if (!kind) return;
      measurePoints = [];
      measuring = kind === "clear" ? null : kind;
      drawMeasure();
      document.getElementById("measure-result").textContent = measuring ? "在地图上单击各点（双击结束）" : "";
      m.getCanvas().style.cursor = measuring ? "crosshair" : "";
    });
    return box;
  }
  onRemove() {}
}

let measurePoints = [];

function drawMeasure() {
  const features = measurePoints.map((p) => turf.point(p));
  let text = "";
  if (measurePoints.length >= 2) {
    const line = turf.lineString(measuring === "area" ? [...measurePoints, measurePoints[0]] : measurePoints);
    features.push(line);
    text = `长度 ${cad.num(turf.length(line, {units: "kilometers"}) * 1000)} m`;
  }
  if (measuring === "area" && measurePoints.length >= 3) {
    const area = turf.area(turf.polygon([[...measurePoints, measurePoints[0]]]));
    text = `面积 ${cad.num(area)} ㎡（${cad.num(area / 666.6667)} 亩），周长 ${text.replace("长度 ", "")}`;
  }
  map.getSource("measure").setData(turf.featureCollection(features));
  if (measuring && text) document.getElementById("measure-result").textContent = text;
}

// labels at large scales: 宗地 by the serial part of its code, 自然幢 by its 幢号 (HTML markers: Chinese needs no glyphs)
const labels = new Map();

function updateLabels() {
  const wanted = new Map();
  if (labelsOn && map.getZoom() >= LABEL_ZOOM) {
    for (const f of map.queryRenderedFeatures({layers: ["parcels-fill", "buildings-fill"]})) {
      const building = f.layer.id === "buildings-fill";
      const key = building ? f.properties.code : f.properties.zddm;
      if (!key || wanted.has(key) || wanted.size >= 400) continue;
      wanted.set(key, {text: building ? `${f.properties.zrzh}幢` : f.properties.zddm.slice(12),
                       at: turf.centroid(f).geometry.coordinates, building});
    }
  }
  for (const [key, marker] of labels) {
    if (!wanted.has(key)) { marker.remove(); labels.delete(key); }
  }
  for (const [key, w] of wanted) {
    if (labels.has(key)) continue;
    const element = document.createElement("div");
    element.className = "map-label" + (w.building ? " building" : "");
    element.textContent = w.text;
    labels.set(key, new maplibregl.Marker({element}).setLngLat(w.at).addTo(map));
  }
}

// print the current view: the map as drawn, with title, legend, scale bar and ratio, north arrow and date
function printView(title, paper) {
  const centre = map.getCenter();
  const metresPerPixel = 40075016.686 * Math.cos(centre.lat * Math.PI / 180) / (512 * 2 ** map.getZoom());
  const ratio = Math.round(metresPerPixel / (0.0254 / 96) / 10) * 10;
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  const barMetres = steps.find((s) => s / metresPerPixel >= 80) || steps[steps.length - 1];
  const barPixels = Math.round(barMetres / metresPerPixel);
  map.once("render", () => {
    // the map as drawn, with the labels (HTML over the map) written onto the picture
    const source = map.getCanvas();
    const picture = document.createElement("canvas");
    picture.width = source.width; picture.height = source.height;
    const pen = picture.getContext("2d");
    pen.drawImage(source, 0, 0);
    const scale = source.width / source.clientWidth;
    pen.textAlign = "center"; pen.textBaseline = "middle"; pen.lineWidth = 3 * scale; pen.strokeStyle = "#fff";
    for (const marker of labels.values()) {
      const at = map.project(marker.getLngLat());
      const building = marker.getElement().classList.contains("building");
      pen.font = `${building ? "bold " : ""}${11 * scale}px sans-serif`;
      pen.fillStyle = building ? "#000" : "#08306b";
      pen.strokeText(marker.getElement().textContent, at.x * scale, at.y * scale);
      pen.fillText(marker.getElement().textContent, at.x * scale, at.y * scale);
    }
    const image = picture.toDataURL("image/png");
    const legend = document.querySelector(".legend").innerHTML.replace(/<input[^>]*>/g, "");
    const today = new Date().toISOString().slice(0, 10);
    const sheet = window.open("", "_blank");
    sheet.document.write(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>${cad.esc(title)}</title>
      <link rel="stylesheet" href="/static/cadastre.css"><style>@page { size: ${paper} landscape; margin: 10mm; }
      body { margin: 0; } .sheet { display: grid; grid-template-columns: 1fr 170px; gap: 8px; }
      .sheet img { width: 100%; border: 1px solid #333; } h1 { font-size: 20px; text-align: center; margin: 4px 0 8px; }
      .side > div { margin-bottom: 12px; } .bar { height: 6px; border: 1px solid #000; border-top: 0; }</style></head>
      <body class="printout" data-paper="${paper}"><h1>${cad.esc(title)}</h1><div class="sheet"><img alt="地图" src="${image}">
      <div class="side"><div class="north"><span>▲</span>北</div><div class="map-tool legend">${legend}</div>
      <div>比例尺 <b class="ratio">1:${ratio.toLocaleString("zh-CN")}</b><div class="bar" style="width:${barPixels}px"></div>
      ${barMetres >= 1000 ? barMetres / 1000 + " km" : barMetres + " m"}（屏幕比例，以打印缩放为准）</div>
      <div>制图日期：<span class="date">${today}</span></div><div>坐标系：CGCS2000（经纬度显示）</div></div></div>
      <script>${navigator.webdriver ? "" : "window.addEventListener('load', () => window.print());"}<\/script></body></html>`);
    sheet.document.close();
  });
  map.triggerRepaint();
}

async function start() {
  await cad.signIn();
  const config = await cad.json("/api/map-config");
  map = new maplibregl.Map({container: "map", style: style(config), attributionControl: false,
                            // the service's own tiles need the token; a basemap elsewhere gets nothing of it
                            transformRequest: (url) => url.startsWith(`${location.origin}/tiles/`)
                              ? {url, headers: cad.authHeaders()} : {url},
                            bounds: config.bounds || [73, 18, 135, 54], fitBoundsOptions: {padding: 40}, maxZoom: 22});
  map.addControl(new maplibregl.NavigationControl({showCompass: false}));
  map.addControl(new NorthArrow(), "top-right");
  map.addControl(new LegendControl(), "top-left");
  map.addControl(new MeasureControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl({unit: "metric", maxWidth: 120}), "bottom-left");
  map.on("moveend", updateLabels);
  map.on("idle", updateLabels);
  map.on("dblclick", (e) => { if (measuring) { e.preventDefault(); measuring = null; map.getCanvas().style.cursor = ""; } });
  map.on("click", (event) => {
    if (measuring) { measurePoints.push([event.lngLat.lng, event.lngLat.lat]); drawMeasure(); return; }
    for (const popup of document.querySelectorAll(".maplibregl-popup")) popup.remove();
    const hit = map.queryRenderedFeatures(event.point, {layers: ["findings-point", "buildings-fill", "parcels-fill"]});
    const finding = hit.find((f) => f.layer.id === "findings-point");
    if (finding) {
      new maplibregl.Popup().setLngLat(event.lngLat).setHTML(`<b>${cad.esc(finding.properties.rule)}</b> ${cad.esc(finding.properties.message)}`).addTo(map);
      return;
    }
    const building = hit.find((f) => f.layer.id === "buildings-fill");
    if (building) { showParcel(building.properties.zddm); showTable(building.properties.code); return; }
    const parcel = hit.find((f) => f.layer.id === "parcels-fill");
    if (parcel) showParcel(parcel.properties.zddm);
  });
  map.on("mousemove", (event) => {
    const features = map.queryRenderedFeatures(event.point, {layers: ["parcels-fill", "buildings-fill"]});
    map.getCanvas().style.cursor = features.length ? "pointer" : "";
  });
  // the parcels source is keyed by 宗地代码 so a selected parcel can be highlighted
  map.on("load", () => {
    map.addSource("measure", {type: "geojson", data: {type: "FeatureCollection", features: []}});
    map.addLayer({id: "measure-line", type: "line", source: "measure", filter: ["==", ["geometry-type"], "LineString"],
                  paint: {"line-color": "#d62728", "line-width": 2, "line-dasharray": [2, 1]}});
    map.addLayer({id: "measure-point", type: "circle", source: "measure", filter: ["==", ["geometry-type"], "Point"],
                  paint: {"circle-radius": 4, "circle-color": "#d62728"}});
    document.getElementById("print-open").addEventListener("click", () => {
      document.getElementById("print-dialog").hidden = false; });
    window.cadastreMapReady = true;
    const packageId = new URLSearchParams(location.search).get("package");
    if (packageId) showFindings(packageId);
  });
  window.cadastreMap = map;
}

document.getElementById("search").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = document.getElementById("q").value.trim();
  if (text) search(text);
});
document.getElementById("findings-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = document.getElementById("package-id").value;
  if (id) showFindings(id);
});
document.getElementById("card").addEventListener("click", (e) => {
  const code = e.target.dataset && e.target.dataset.building;
  if (code) showTable(code);
});
document.getElementById("table-close").addEventListener("click", () => { document.getElementById("table-dialog").hidden = true; });
document.getElementById("print-close").addEventListener("click", () => { document.getElementById("print-dialog").hidden = true; });
document.getElementById("print-form").addEventListener("submit", (e) => {
  e.preventDefault();
  document.getElementById("print-dialog").hidden = true;
  printView(document.getElementById("print-title").value, document.getElementById("print-paper").value);
});
start().catch((e) => panel.error(`地图无法加载：${e.message}`));
})();
