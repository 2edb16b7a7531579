// bmu serve's page: plain JavaScript over the JSON API (no build step). Everything it shows comes from /api/plan;
// every action posts to the API and redraws from the answer, so the page and scripts see the same plan.
"use strict";

const T = {
  zh: { newUnit: "新建单元", unassigned: "缩放至未分配", failing: "缩放至未通过单元", save: "保存", unit: "单元",
        people: "人口", area: "km²", pass: "通过", lock: "锁定", saved: "已保存：", select: "先在表中选择一个单元",
        reoptimise: "重新优化未锁定街坊", dossier: "档案", working: "正在优化……",
        compare: "比较方案", off: "不比较", adopt: "采用此方案", building: "正在生成候选方案……",
        differ: "个街坊不同", radii: "服务半径：", basemap: "底图：",
        compared: (c) => `${c.label}：现方案 ${c.summary.current.passing} / ${c.summary.current.units} 个单元通过，` +
          `候选方案 ${c.summary.candidate.passing} / ${c.summary.candidate.units}；${c.differing.length} 个街坊不同（每格：现方案 → 候选方案）`,
        summary: (s, u) => `${s.passing} / ${s.units} 个单元通过；未分配街坊 ${u}` },
  en: { newUnit: "New unit", unassigned: "Zoom to unassigned", failing: "Zoom to failing unit", save: "Save",
        unit: "Unit", people: "People", area: "km²", pass: "Pass", lock: "Lock", saved: "Saved: ",
        select: "Select a unit in the table first", reoptimise: "Re-optimise unlocked blocks", dossier: "Dossier",
        working: "Optimising…", compare: "Compare", off: "Compare: off", adopt: "Adopt this candidate",
        building: "Building candidates…", differ: "blocks differ", radii: "Service radii: ", basemap: "Basemap: ",
        compared: (c) => `${c.label}: ${c.summary.current.passing} of ${c.summary.current.units} units pass now, ` +
          `${c.summary.candidate.passing} of ${c.summary.candidate.units} in the candidate; ${c.differing.length} blocks differ (each cell: now → candidate)`,
        summary: (s, u) => `${s.passing} of ${s.units} units pass; ${u} blocks unassigned` },
};
let plan = null, selected = null, t = T.zh;
// The candidate compared with (null: none), and its last answer from /api/compare.
let compareK = null, compared = null;
const EMPTY = { type: "FeatureCollection", features: [] };

const status = (text) => { document.getElementById("status").textContent = text; };

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: body ? { "content-type": "application/json" } : {},
                                body: body ? JSON.stringify(body) : undefined });
  const data = await r.json();
  if (!r.ok) { status(data.error || r.statusText); return null; }
  return data;
}

const map = new maplibregl.Map({
  container: "map",
  // No basemap, no glyphs, no tiles: nothing leaves the machine.
  style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#f4f1ea" } }] },
  center: [121.3, 31.25], zoom: 11, attributionControl: false,
});

function bounds(features) {
  const b = new maplibregl.LngLatBounds();
  const walk = (c) => typeof c[0] === "number" ? b.extend(c) : c.forEach(walk);
  features.forEach((f) => f.geometry && walk(f.geometry.coordinates));
  return b;
}

function colourOf(unitId) {
  const u = plan.units.find((x) => x.unit_id === unitId);
  return u ? u.colour : "#ffffff";
}

function draw() {
  const blocks = plan.blocks;
  blocks.features.forEach((f) => {
    f.properties.fill = f.properties.unit_id ? colourOf(f.properties.unit_id) : "#ffffff";
    f.properties.selected = f.properties.unit_id === selected;
  });
  if (map.getSource("blocks")) {
    map.getSource("blocks").setData(blocks);
  } else {
    map.addSource("blocks", { type: "geojson", data: blocks });
    map.addLayer({ id: "blocks", type: "fill", source: "blocks",
                   paint: { "fill-color": ["get", "fill"], "fill-opacity": ["case", ["get", "selected"], 0.85, 0.6] } });
    map.addLayer({ id: "block-lines", type: "line", source: "blocks", paint: { "line-color": "#888", "line-width": 0.4 } });
    map.fitBounds(bounds(blocks.features), { padding: 20, animate: false });
    map.on("click", "blocks", (e) => moveBlock(e.features[0].properties.block_id));
  }
  drawTable();
}

function drawTable() {
  document.getElementById("summary").textContent = t.summary(plan.summary, plan.unassigned);
  const head = `<tr><th></th><th>${t.unit}</th><th>${t.people}</th><th>${t.area}</th>` +
    plan.checks.map((c) => `<th title="${c.name}">${c.label}</th>`).join("") + `<th>${t.pass}</th><th>${t.lock}</th></tr>`;
  const rows = plan.units.map((u) => {
    const cells = plan.checks.map((c) => {
      const r = u.checks[c.name];
      if (!r) return "<td></td>";
      if (r.evaluated === false) return `<td title="${escape(r.reason)}">–</td>`;
      const why = (r.reasons || []).join("; ");
      return r.pass ? `<td class="pass">✓</td>` : `<td class="fail" title="${escape(why)}">✗</td>`;
    }).join("");
    const pop = u.population == null ? "" : Math.round(u.population);
    const area = u.area_km2 == null ? "" : u.area_km2.toFixed(2);
    return `<tr data-unit="${escape(u.unit_id)}" class="${u.unit_id === selected ? "selected" : ""}">` +
      `<td><span class="swatch" style="background:${u.colour}"></span></td><td>${escape(u.unit_id)}</td>` +
      `<td>${pop}</td><td>${area}</td>${cells}<td>${u.pass === true ? "✓" : u.pass === false ? "✗" : ""}</td>` +
      `<td><input type="checkbox" class="lock" ${u.locked ? "checked" : ""}></td></tr>`;
  }).join("");
  const table = document.getElementById("table");
  table.innerHTML = head + rows;
  table.querySelectorAll("tr[data-unit]").forEach((tr) => {
    tr.addEventListener("click", (e) => {
      const id = tr.dataset.unit;
      if (e.target.classList.contains("lock")) { lock(id, e.target.checked); return; }
      selected = id; draw();
    });
  });
}

function escape(s) {
  return String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

async function reload() {
  const p = await api("GET", "/api/plan");
  if (p) {
    plan = p; draw(); await drawOutlines();
    if (compareK !== null) await showCompare(compareK);
    if (!document.getElementById("compare").hidden) await listCandidates();
  }
}

// The GeoJSON source `id` set to `data`, made with its layers on first use (added last, so drawn on top).
function setSource(id, data, layers) {
  if (map.getSource(id)) { map.getSource(id).setData(data); return; }
  map.addSource(id, { type: "geojson", data });
  layers.forEach((l) => map.addLayer({ ...l, source: id }));
}

// Comparing with a candidate: the blocks that would change are outlined in magenta (no unit colour, nor the red of
// problems, uses it) and the candidate's unit borders dashed; the side table shows each check now → candidate.
async function listCandidates() {
  const c = await api("GET", "/api/candidates");
  if (!c) return false;
  const sel = document.getElementById("compare");
  sel.innerHTML = `<option value="">${t.off}</option>` + c.candidates.map((x) =>
    `<option value="${x.candidate}">${escape(x.label)} · ${x.passing}/${x.units} ✓ · ${x.differing} ${t.differ}</option>`).join("");
  sel.value = compareK === null ? "" : String(compareK);
  sel.hidden = false;
  return true;
}

async function showCompare(k) {
  compareK = k;
  const adopt = document.getElementById("adopt");
  if (k === null) {
    compared = null;
    ["compare-diff", "compare-units"].forEach((id) => map.getSource(id) && map.getSource(id).setData(EMPTY));
    document.getElementById("compare-table").innerHTML = "";
    document.getElementById("compare-summary").textContent = "";
    adopt.hidden = true;
    return;
  }
  const c = await api("GET", `/api/compare?candidate=${k}`);
  if (!c) return;
  compared = c;
  const differs = new Set(c.differing);
  compared.highlight = { type: "FeatureCollection", features: plan.blocks.features.filter((f) => differs.has(f.properties.block_id)) };
  setSource("compare-diff", compared.highlight, [
    { id: "compare-diff-fill", type: "fill", paint: { "fill-color": "#ff00cc", "fill-opacity": 0.25 } },
    { id: "compare-diff", type: "line", paint: { "line-color": "#ff00cc", "line-width": 4 } },
  ]);
  setSource("compare-units", c.outlines, [
    { id: "compare-units", type: "line", paint: { "line-color": "#1f3fbf", "line-width": 2.5, "line-dasharray": [2, 2] } },
  ]);
  adopt.hidden = false;
  drawCompareTable(c);
}

function drawCompareTable(c) {
  document.getElementById("compare-summary").textContent = t.compared(c);
  const mark = (v) => v === true ? "✓" : v === false ? "✗" : v === null ? "–" : "·";
  const head = `<tr><th>${t.unit}</th>` + plan.checks.map((k) => `<th title="${k.name}">${k.label}</th>`).join("") + `<th>${t.pass}</th></tr>`;
  const cell = (a, b) => `<td class="${a !== b ? "differs" : ""}">${mark(a)} → ${mark(b)}</td>`;
  const rows = c.units.map((u) => {
    const now = u.current, then = u.candidate;
    const cells = plan.checks.map((k) => cell(now ? now.checks[k.name] : undefined, then ? then.checks[k.name] : undefined)).join("");
    return `<tr data-unit="${escape(u.unit_id)}"><td>${escape(u.unit_id)}</td>${cells}${cell(now ? now.pass : undefined, then ? then.pass : undefined)}</tr>`;
  }).join("");
  document.getElementById("compare-table").innerHTML = head + rows;
}

// Service radii: the area the coverage check counts as within reach of each type, drawn on request.
async function toggleService(type, on) {
  const id = `service-${type}`;
  if (!on) { if (map.getLayer(id)) { map.setLayoutProperty(id, "visibility", "none"); map.setLayoutProperty(`${id}-line`, "visibility", "none"); } return; }
  if (map.getLayer(id)) { map.setLayoutProperty(id, "visibility", "visible"); map.setLayoutProperty(`${id}-line`, "visibility", "visible"); return; }
  const r = await api("GET", `/api/service?type=${encodeURIComponent(type)}`);
  if (!r) return;
  const colour = { affairs: "#7b3294", health: "#008837", culture: "#e66101" }[type] || "#3b82c4";
  setSource(id, r, [
    { id, type: "fill", paint: { "fill-color": colour, "fill-opacity": 0.12 } },
    { id: `${id}-line`, type: "line", paint: { "line-color": colour, "line-width": 1.5 } },
  ]);
}

// Unit borders are the dissolved units' outlines (a block's own edges stay thin); problems are drawn over them.
async function drawOutlines() {
  const o = await api("GET", "/api/outlines");
  if (!o) return;
  if (map.getSource("outlines")) {
    map.getSource("outlines").setData(o.units);
    map.getSource("problems").setData(o.problems);
    return;
  }
  map.addSource("outlines", { type: "geojson", data: o.units });
  map.addLayer({ id: "outlines", type: "line", source: "outlines", paint: { "line-color": "#222", "line-width": 2.5 } });
  map.addSource("problems", { type: "geojson", data: o.problems });
  // Areas outside a service radius cover most of a town that lacks facilities: filled, they buried the partition (as
  // on the dossier's first map), so they stay off the editing map; the table's coverage column reports them.
  const areas = ["all", ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]], ["!=", ["get", "kind"], "uncovered"]];
  map.addLayer({ id: "problem-areas", type: "fill", source: "problems", filter: areas,
                 paint: { "fill-color": "#d62728", "fill-opacity": 0.45, "fill-outline-color": "#d62728" } });
  map.addLayer({ id: "problem-lines", type: "line", source: "problems",
                 filter: ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]],
                 paint: { "line-color": "#d62728", "line-width": 3 } });
}

async function moveBlock(blockId) {
  if (!selected) { status(t.select); return; }
  if (await api("POST", "/api/assign", { moves: [{ block_id: blockId, unit_id: selected }] })) { status(""); await reload(); }
}
async function lock(unitId, locked) { if (await api("POST", "/api/lock", { unit_id: unitId, locked })) await reload(); }
async function undo() { if (await api("POST", "/api/undo")) await reload(); }
async function redo() { if (await api("POST", "/api/redo")) await reload(); }

function zoomTo(features) { if (features.length) map.fitBounds(bounds(features), { padding: 40 }); }

document.getElementById("undo").onclick = undo;
document.getElementById("redo").onclick = redo;
document.getElementById("new-unit").onclick = async () => {
  const r = await api("POST", "/api/units");
  if (r) { selected = r.unit_id; await reload(); }
};
document.getElementById("zoom-unassigned").onclick = () => zoomTo(plan.blocks.features.filter((f) => !f.properties.unit_id));
document.getElementById("zoom-failing").onclick = () => {
  const failing = plan.units.find((u) => u.pass === false);
  if (failing) { selected = failing.unit_id; draw(); zoomTo(plan.blocks.features.filter((f) => f.properties.unit_id === failing.unit_id)); }
};
document.getElementById("reoptimise").onclick = async () => {
  status(t.working);
  if (await api("POST", "/api/reoptimise")) { status(""); await reload(); }
};
document.getElementById("compare-open").onclick = async () => {
  const button = document.getElementById("compare-open");
  button.disabled = true; status(t.building);
  if (await listCandidates()) status("");
  button.disabled = false;
};
document.getElementById("compare").onchange = (e) => showCompare(e.target.value === "" ? null : Number(e.target.value));
document.getElementById("adopt").onclick = async () => {
  if (compareK !== null && await api("POST", "/api/adopt", { candidate: compareK })) { status(""); await reload(); }
};
document.getElementById("dossier").onclick = () => window.open("/api/dossier", "_blank");
document.getElementById("save").onclick = async () => {
  const r = await api("POST", "/api/save");
  if (r) status(t.saved + r.written.join(", "));
};
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); e.shiftKey ? redo() : undo(); }
});

async function layers() {
  const l = await api("GET", "/api/layers");
  if (!l) return;
  map.addSource("town", { type: "geojson", data: l.town });
  map.addLayer({ id: "town", type: "line", source: "town", paint: { "line-color": "#000", "line-width": 2.5 } });
  map.addSource("features", { type: "geojson", data: l.features });
  map.addLayer({ id: "features", type: "line", source: "features",
                 paint: { "line-color": ["match", ["get", "class"], "waterway", "#3b82c4", "railway", "#555", "#c9a24a"],
                          "line-width": 1.2 } });
  labels(l.features);
  const services = document.getElementById("services");
  services.innerHTML = t.radii + l.services.map((s) =>
    `<label><input type="checkbox" data-service="${escape(s.type)}"> ${escape(s.label)}</label> `).join("");
  services.querySelectorAll("input").forEach((i) => { i.onchange = () => toggleService(i.dataset.service, i.checked); });
  map.addSource("facilities", { type: "geojson", data: l.facilities });
  map.addLayer({ id: "facilities", type: "circle", source: "facilities",
                 paint: { "circle-radius": 4, "circle-stroke-width": 1, "circle-stroke-color": "#fff",
                          "circle-color": ["match", ["get", "status"], "existing", "#222", "#999"] } });
}

// Road and river names as HTML markers: MapLibre draws text only from glyph files, and none are fetched. One label
// per name, on the middle vertex of its longest line, the 300 longest names at most; hidden below zoom 12, where
// they would cover the units.
function labels(features) {
  const longest = new Map();
  for (const f of features.features) {
    const name = f.properties && f.properties.name;
    if (!name || !f.geometry) continue;
    const g = f.geometry;
    const lines = g.type === "LineString" ? [g.coordinates] : g.type === "MultiLineString" ? g.coordinates : [];
    for (const c of lines) {
      let len = 0;
      for (let i = 1; i < c.length; i++) len += Math.hypot(c[i][0] - c[i - 1][0], c[i][1] - c[i - 1][1]);
      const best = longest.get(name);
      if (c.length && (!best || len > best.len)) longest.set(name, { len, at: c[Math.floor((c.length - 1) / 2)] });
    }
  }
  [...longest.entries()].sort((a, b) => b[1].len - a[1].len || (a[0] < b[0] ? -1 : 1)).slice(0, 300)
    .forEach(([name, l]) => {
      const el = document.createElement("div");
      el.className = "feature-label";
      el.textContent = name;
      new maplibregl.Marker({ element: el }).setLngLat(l.at).addTo(map);
    });
  const show = () => document.getElementById("map").classList.toggle("labels-off", map.getZoom() < 12);
  map.on("zoomend", show);
  show();
}

// The user's basemap (--basemap) under the blocks, credited to its host; without one nothing is fetched. PMTiles
// support (the vendored pmtiles library) is loaded only for a PMTiles basemap.
async function basemap(b) {
  if (!b) return;
  let source;
  if (b.kind === "xyz") {
    source = { type: "raster", tiles: [b.url], tileSize: 256 };
  } else {
    await new Promise((done, failed) => {
      const s = document.createElement("script");
      s.src = "/pmtiles.js"; s.onload = done; s.onerror = failed;
      document.head.appendChild(s);
    });
    maplibregl.addProtocol("pmtiles", new pmtiles.Protocol().tile);
    source = { type: "raster", url: `pmtiles://${b.url.startsWith("/") ? location.origin + b.url : b.url}`, tileSize: 256 };
  }
  map.addSource("basemap", source);
  map.addLayer({ id: "basemap", type: "raster", source: "basemap" }, "blocks");
  map.addControl(new maplibregl.AttributionControl({ compact: false, customAttribution: t.basemap + escape(b.attribution) }));
}

map.on("load", async () => {
  await reload();
  t = T[plan.lang] || T.zh;
  document.getElementById("new-unit").textContent = t.newUnit;
  document.getElementById("zoom-unassigned").textContent = t.unassigned;
  document.getElementById("zoom-failing").textContent = t.failing;
  document.getElementById("save").textContent = t.save;
  document.getElementById("reoptimise").textContent = t.reoptimise;
  document.getElementById("dossier").textContent = t.dossier;
  document.getElementById("compare-open").textContent = t.compare;
  document.getElementById("adopt").textContent = t.adopt;
  drawTable();
  await layers();
  await basemap(plan.basemap);
  document.body.dataset.ready = "1";
});
