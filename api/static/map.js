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
  const ready = p.ready_for_first_registration
    ? `<span class="ready">可办理首次登记</span>`
    : `<span class="not-ready">暂不可办理首次登记</span>：${cad.esc(p.not_ready_because.join("；"))}`;
  const buildings = p.buildings.map((b) => `<tr><td>${cad.esc(b.zrzh)}</td><td>${cad.esc(b.jzwmc || "")}</td>
      <td>${cad.esc(cad.stageNames[b.stage] || b.stage)}</td><td>${b.units}</td>
      <td><button class="link" data-building="${cad.esc(p.zddm + "F" + b.zrzh)}">楼盘表</button></td></tr>`).join("");
  const history = p.history.map((h) => `<tr><td>${cad.esc(String(h.valid_from).slice(0, 19))}</td>
      <td>${cad.esc(h.valid_to ? String(h.valid_to).slice(0, 19) : "至今")}</td>
      <td>${h.package_stage === "baseline" ? cad.esc(`存量数据批次 ${h.package_id}（${h.package_file || ""}）`) : h.package_id}</td>
      <td>${cad.esc(h.end_reason || "")}</td></tr>`).join("");
  const lineage = p.lineage.map((l) => `<tr><td><code>${cad.esc(l.old_code)}</code> → <code>${cad.esc(l.new_code || "（无）")}</code></td>
      <td>${cad.esc(l.reason)}</td></tr>`).join("");
  panel.show(`<div class="card" data-zddm="${cad.esc(p.zddm)}">
    <h2>宗地 <code>${cad.esc(p.zddm)}</code></h2>
    <table>${row("坐落", cad.esc(c.zl || ""))}${row("权利人", cad.esc(c.qlr || ""))}${row("宗地面积", cad.num(c.area) + " ㎡（申报 " + cad.num(c.zdmj) + " ㎡）")}
    ${row("用途", cad.esc(c.yt || ""))}${row("权利类型", cad.esc(c.qllx || ""))}${row("权利性质", cad.esc(c.qlxz || ""))}
    ${row("不动产单元代码", "<code>" + cad.esc((p.land_code && p.land_code.code) || "") + "</code>" +
          (p.land_code && p.land_code.retired_at ? "（已注销）" : ""))}
    ${row("状态", c.package_status ? cad.esc(cad.statusNames[c.package_status] || c.package_status) : "非现势")}
    ${row("首次登记", ready)}</table>
    <h3>自然幢（${p.buildings.length}）</h3>
    <table><tr><th>幢号</th><th>名称</th><th>阶段</th><th>户数</th><th></th></tr>${buildings || "<tr><td colspan=5>无</td></tr>"}</table>
    <h3>历史版本</h3><table><tr><th>起</th><th>止</th><th>成果包</th><th>原因</th></tr>${history}</table>
    ${lineage ? `<h3>代码沿革</h3><table>${lineage}</table>` : ""}</div>`);
}

async function showTable(code) {
  const dialog = document.getElementById("table-dialog");
  const body = document.getElementById("table-body");
  document.getElementById("table-title").textContent = `楼盘表 ${code}`;
  document.getElementById("table-xlsx").href = `/api/buildings/${code}/table?format=xlsx`;
  document.getElementById("table-xlsx").setAttribute("download", `${code}.xlsx`);
  document.getElementById("table-html").href = `/api/buildings/${code}/table?format=html`;
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
     ${cad.esc(c.use_name || "")}<br>建筑 ${cad.num(c.area)} ㎡<br>套内 ${cad.num(c.inner)} · 分摊 ${cad.num(c.shared)}</td>`;
  const rows = t.rows.map((r) => `<tr><th>${cad.esc(r.label)}</th>${r.cells.map(cell).join("")}
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
  let data;
  try { data = await cad.json(`/collections/findings/items?package=${packageId}&limit=10000`); } catch (e) {
    panel.error(e.message); return;
  }
  map.getSource("findings").setData(data);
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

async function start() {
  await cad.signIn();
  const config = await cad.json("/api/map-config");
  map = new maplibregl.Map({container: "map", style: style(config), attributionControl: false,
                            // the service's own tiles need the token; a basemap elsewhere gets nothing of it
                            transformRequest: (url) => url.startsWith(`${location.origin}/tiles/`)
                              ? {url, headers: cad.authHeaders()} : {url},
                            bounds: config.bounds || [73, 18, 135, 54], fitBoundsOptions: {padding: 40}, maxZoom: 22});
  map.addControl(new maplibregl.NavigationControl({showCompass: false}));
  map.addControl(new maplibregl.ScaleControl({unit: "metric"}));
  map.on("click", (event) => {
    const hit = map.queryRenderedFeatures(event.point, {layers: ["findings-point", "parcels-fill"]});
    const finding = hit.find((f) => f.layer.id === "findings-point");
    if (finding) {
      new maplibregl.Popup().setLngLat(event.lngLat).setHTML(`<b>${cad.esc(finding.properties.rule)}</b> ${cad.esc(finding.properties.message)}`).addTo(map);
      return;
    }
    const parcel = hit.find((f) => f.layer.id === "parcels-fill");
    if (parcel) showParcel(parcel.properties.zddm);
  });
  map.on("mousemove", (event) => {
    const features = map.queryRenderedFeatures(event.point, {layers: ["parcels-fill"]});
    map.getCanvas().style.cursor = features.length ? "pointer" : "";
  });
  // the parcels source is keyed by 宗地代码 so a selected parcel can be highlighted
  map.on("load", () => {
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
start().catch((e) => panel.error(`地图无法加载：${e.message}`));
})();
