// The surveyors' upload page: send a package with a real progress bar (upload, then processing as the server
// reports it), then show its report: summary, findings, findings on a small map, link to the HTML report.
// Scoped in a function: a page global named like a browser one (open, close, print …) would replace it.
(() => {
"use strict";

const $ = (id) => document.getElementById(id);
const bar = $("progress"), barText = $("progress-text"), barTitle = $("progress-title");

function upload(file) {
  const form = new FormData();
  form.append("file", file);
  $("progress-section").hidden = false;
  $("report").hidden = true;
  barTitle.textContent = `上传 ${file.name}`;
  const request = new XMLHttpRequest();
  request.open("POST", "/api/packages");
  request.setRequestHeader("Authorization", `Bearer ${cad.token()}`);
  request.upload.onprogress = (e) => {
    if (e.lengthComputable) { bar.value = 30 * e.loaded / e.total; barText.textContent = `已上传 ${(100 * e.loaded / e.total).toFixed(0)}%`; }
  };
  request.onload = () => {
    let body = {};
    try { body = JSON.parse(request.responseText); } catch (e) { /* not JSON */ }
    if (request.status !== 202) {
      barTitle.textContent = "上传失败";
      barText.innerHTML = `<span class="error">${cad.esc(body.detail || body.title || request.statusText)}</span>`;
      return;
    }
    barTitle.textContent = `成果包 ${body.id}：${body.duplicate ? "此文件此前已上传" : "已接收，处理中"}`;
    follow(body.id);
  };
  request.onerror = () => { barTitle.textContent = "上传失败"; barText.textContent = "网络错误"; };
  request.send(form);
}

async function follow(id) {
  // each answer comes as soon as the state changes: the request names the state already shown (its version, the
  // ETag) and asks the server to wait for the next one (RFC 7240 Prefer: wait); 304 means nothing changed yet
  let version = null;
  for (;;) {
    let state;
    const asked = Date.now();
    try {
      state = await cad.json(`/api/packages/${id}`, version === null ? {} :
        {cache: "no-store", headers: {"If-None-Match": `"${version}"`, "Prefer": "wait=25"}});
    } catch (e) {
      // a proxy that drops Prefer makes the 304 immediate: then ask twice a second, not in a loop
      if (e.status === 304) { if (Date.now() - asked < 1000) await new Promise((r) => setTimeout(r, 500)); continue; }
      barText.textContent = e.message;
      return;
    }
    version = state.version;
    bar.value = 30 + 0.7 * state.percent;
    barText.textContent = `${state.stage_name}（${state.percent.toFixed(0)}%）`;
    if (state.status === "received" && state.stage === "waiting") {
      // a transient failure (the database away, a full disk): the server tries again by itself
      barText.innerHTML = `<span class="warning">处理中断：${cad.esc(state.error || "")}</span>`;
      continue;
    }
    if (state.status !== "received" || state.stage === "failed") {
      bar.value = 100;
      barTitle.textContent = `成果包 ${id}：${state.stage === "failed" ? "处理失败" : VERDICTS[state.status] || state.status}`;
      if (state.stage === "failed") barText.innerHTML = `<span class="error">处理失败：${cad.esc(state.error || "")}</span>`;
      showReport(state);
      listPackages();
      return;
    }
  }
}

const VERDICTS = {accepted: "已受理，已编码", rejected: "有错误，已退回（豁免全部错误后可重新处理）", refused: "已拒收"};

function showReport(state) {
  const report = state.report;
  if (!report) return;
  const counts = report.counts || {};
  const verdict = VERDICTS[state.status] || state.status;
  // only what is known: a refused package may have no stage and no project
  const stage = cad.stageNames[state.package_stage] || state.package_stage;
  const about = [state.filename && `文件 ${cad.esc(state.filename)}`, stage && `阶段 ${cad.esc(stage)}`,
                 state.project_name && `项目 ${cad.esc(state.project_name)}`].filter(Boolean).join("，");
  const findings = report.findings || [];
  const rows = findings.map((f) => `<tr><td>${cad.esc(cad.severityNames[f.severity] || f.severity)}</td><td>${cad.esc(f.rule)}</td>
    <td>${cad.esc(f.layer)}</td><td>${cad.esc(f.feature || "")}</td><td>${cad.esc(f.message)}</td></tr>`).join("");
  const units = (state.assigned_counts && state.assigned_counts.units) || 0;
  const compared = state.comparison_summary;  // as built against the pre-sale survey, unit by unit
  const comparison = compared && compared.units ? `预测与实测面积对比 ${compared.units} 户，差异超过 ${cad.num(compared.limit_percent, 1)}% 的 ${compared.flagged} 户` +
    `${compared.added ? `，实测新增 ${compared.added} 户` : ""}${compared.removed ? `，预测有而实测无 ${compared.removed} 户` : ""}。` : "";
  const el = $("report");
  el.hidden = false;
  el.innerHTML = `<h2>质检报告：成果包 ${state.id} <span class="status-${state.status}" id="verdict">${cad.esc(verdict)}</span></h2>
    <p>${about ? about + "。" : ""}错误 ${counts.error || 0} 处，警告 ${counts.warning || 0} 处，提示 ${counts.info || 0} 处。
    ${units ? `编码 ${units} 户。` : ""}${comparison}
    ${state.retained_until ? `被拒收的文件保留至 ${cad.esc(state.retained_until.slice(0, 10))}，之后删除。` : ""}
    <a href="/api/packages/${state.id}/report.html" data-authed id="report-link">查看完整报告（HTML）</a> ·
    <a href="/?package=${state.id}">在地图上查看</a></p>
    <div id="finding-map"></div>
    <table class="findings" id="findings-table"><tr><th>级别</th><th>规则</th><th>图层</th><th>要素</th><th>说明</th></tr>${rows || "<tr><td colspan=5>没有发现问题</td></tr>"}</table>`;
  drawFindings(findings);
}

function drawFindings(findings) {
  const located = findings.filter((f) => f.location);
  if (!located.length || typeof maplibregl === "undefined") { $("finding-map").hidden = true; return; }
  const xs = located.map((f) => f.location[0]), ys = located.map((f) => f.location[1]);
  const pad = 0.0005;
  const map = new maplibregl.Map({container: "finding-map", attributionControl: false,
    // the service's tiles need the token, as on the map page
    transformRequest: (url) => url.startsWith(`${location.origin}/tiles/`) ? {url, headers: cad.authHeaders()} : {url},
    bounds: [[Math.min(...xs) - pad, Math.min(...ys) - pad], [Math.max(...xs) + pad, Math.max(...ys) + pad]],
    style: {version: 8, sources: {
      parcels: {type: "vector", tiles: [`${location.origin}/tiles/parcels/{z}/{x}/{y}.pbf`], minzoom: 13},
      findings: {type: "geojson", data: {type: "FeatureCollection", features: located.map((f) => ({type: "Feature",
        geometry: {type: "Point", coordinates: f.location}, properties: {severity: f.severity, rule: f.rule, message: f.message}}))}}},
      layers: [{id: "bg", type: "background", paint: {"background-color": "#f2efe9"}},
               {id: "parcels", type: "line", source: "parcels", "source-layer": "parcels", paint: {"line-color": "#08519c"}},
               {id: "findings", type: "circle", source: "findings", paint: {"circle-radius": 6, "circle-stroke-color": "#fff",
                "circle-stroke-width": 1.5, "circle-color": ["match", ["get", "severity"], "error", "#d92d20", "warning", "#f79009", "#2e90fa"]}}]}});
  window.cadastreFindingMap = map;  // for the browser tests, as the map page's window.cadastreMap
  map.on("click", "findings", (e) => new maplibregl.Popup().setLngLat(e.lngLat)
    .setHTML(`<b>${cad.esc(e.features[0].properties.rule)}</b> ${cad.esc(e.features[0].properties.message)}`).addTo(map));
}

async function listPackages() {
  let data;
  try { data = await cad.json("/api/packages?limit=50"); } catch (e) { return; }
  $("packages").innerHTML = `<tr><th>编号</th><th>文件</th><th>阶段</th><th>状态</th><th>接收时间</th><th></th></tr>` +
    data.packages.map((p) => `<tr><td>${p.id}</td><td>${cad.esc(p.filename || "")}</td>
      <td>${cad.esc(cad.stageNames[p.package_stage] || "")}</td>
      <td class="status-${p.status}">${cad.esc(p.status === "received" ? p.stage_name : (cad.statusNames[p.status] || p.status))}</td>
      <td>${cad.esc(String(p.received_at).slice(0, 19).replace("T", " "))}</td>
      <td><button class="link" data-package="${p.id}">报告</button></td></tr>`).join("");
}

$("packages").addEventListener("click", async (e) => {
  const id = e.target.dataset && e.target.dataset.package;
  if (id) showReport(await cad.json(`/api/packages/${id}`));
});
$("pick").addEventListener("click", () => $("file").click());
$("file").addEventListener("change", () => { if ($("file").files.length) upload($("file").files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
});
cad.signIn().then((me) => {
  $("who").textContent = me.role === "surveyor" ? `提交人：${me.name}` : `提交人：${me.name}（列表含全部成果包）`;
  listPackages();
});
})();
