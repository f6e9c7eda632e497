#include "bus/supervisor/status_page.hpp"

namespace mdbus::supervise {
namespace {

// The page. Cells and rows carry data-* attributes (data-slot, data-state, data-points) so a
// test — or a script — reads the rendered page without scraping its wording.
constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mdbus status</title>
<style>
  :root { --fg:#1d2330; --muted:#6b7385; --line:#e3e6ee; --ok:#18794e; --warn:#a35200; --bad:#c62828; --bg:#fafbfd; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 15px; margin: 24px 0 8px; }
  #head { color: var(--muted); margin-bottom: 12px; }
  #banner { display: none; padding: 8px 12px; background: #fdecea; color: var(--bad); border-radius: 4px; margin-bottom: 12px; }
  table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
  th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; letter-spacing: .02em; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .ok { color: var(--ok); font-weight: 600; } .warn { color: var(--warn); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
  #totals { margin-top: 8px; color: var(--muted); white-space: pre; }
  #charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 12px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; }
  .card h3 { font-size: 13px; margin: 0 0 4px; }
  .chart { display: grid; grid-template-columns: 90px 1fr 70px; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); }
  .chart .v { text-align: right; color: var(--fg); font-variant-numeric: tabular-nums; }
  svg.spark { width: 100%; height: 28px; }
  svg.spark polyline { fill: none; stroke: #3564d4; stroke-width: 1.5; }
  svg.spark rect { fill: #d9534f; }
  svg.spark line { stroke: var(--line); stroke-width: 1; }
</style>
</head>
<body>
<h1>mdbus <span id="bus">…</span></h1>
<div id="head">connecting to the supervisor…</div>
<div id="banner"></div>
<table id="slots">
  <thead><tr></tr></thead>
  <tbody></tbody>
</table>
<div id="totals"></div>
<h2>Last <span id="window">minutes</span></h2>
<div id="charts"></div>
<script>
"use strict";
const dash = "—";
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function num(v, digits) { return (v === null || v === undefined) ? dash : Number(v).toFixed(digits); }
// The table is the supervisor's: the cells `mdctl status` prints, by its rules (table.columns,
// table.rows[].cells {text, tone}); the page only lays them out.
function renderTable(table) {
  const headRow = document.querySelector("#slots thead tr");
  headRow.replaceChildren(...table.columns.map((c) => el("th", c.right ? {"class": "num"} : {}, c.title)));
  const body = document.querySelector("#slots tbody");
  body.replaceChildren();
  for (const r of table.rows) {
    const attrs = {"data-slot": r.slot};
    if (r.state !== undefined) attrs["data-state"] = r.state;
    attrs["data-process"] = r.process;
    const tr = el("tr", attrs);
    r.cells.forEach((c, i) => {
      const td = el("td", {}, c.text);
      if (c.tone) td.className = c.tone;
      if (table.columns[i].right) td.classList.add("num");
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  document.getElementById("totals").textContent = table.totals;
}
function spark(values, bars) {
  const w = 200, h = 28;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  svg.setAttribute("preserveAspectRatio", "none");
  const pts = values.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined);
  svg.setAttribute("data-points", String(pts.length));
  if (pts.length === 0) return svg;
  const n = Math.max(values.length - 1, 1);
  let lo = Math.min(0, ...pts.map(([, v]) => v)), hi = Math.max(...pts.map(([, v]) => v));
  if (hi === lo) hi = lo + 1;
  const x = (i) => i / n * w, y = (v) => h - 2 - (v - lo) / (hi - lo) * (h - 4);
  if (bars) {
    const base = document.createElementNS("http://www.w3.org/2000/svg", "line");  // the zero line
    base.setAttribute("x1", "0"); base.setAttribute("x2", String(w));
    base.setAttribute("y1", String(h - 2)); base.setAttribute("y2", String(h - 2));
    svg.appendChild(base);
    for (const [i, v] of pts) {
      if (v <= 0) continue;
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      r.setAttribute("x", String(Math.max(0, x(i) - 1.5))); r.setAttribute("width", "3");
      r.setAttribute("y", String(y(v))); r.setAttribute("height", String(h - 2 - y(v)));
      svg.appendChild(r);
    }
  } else {
    const p = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    p.setAttribute("points", pts.map(([i, v]) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" "));
    svg.appendChild(p);
  }
  return svg;
}
function renderCharts(hist) {
  const box = document.getElementById("charts");
  box.replaceChildren();
  if (!hist || !hist.t_ms) return;
  const minutes = hist.t_ms.length * hist.interval_ms / 60000;
  document.getElementById("window").textContent = minutes >= 1 ? minutes.toFixed(0) + " min" : Math.round(minutes * 60) + " s";
  for (const [name, series] of Object.entries(hist.slots || {})) {
    const card = el("div", {"class": "card", "data-slot": name});
    card.appendChild(el("h3", {}, name));
    const last = (a) => { for (let i = a.length - 1; i >= 0; --i) if (a[i] !== null) return a[i]; return null; };
    const total = (a) => a.reduce((s, v) => s + (v || 0), 0);
    for (const [label, key, fmt, bars] of [["msgs/s", "msgs_per_s", (a) => num(last(a), 1), false],
                                            ["lead µs", "lead_us", (a) => num(last(a), 1), false],
                                            ["reconnects", "reconnects", (a) => String(total(a)), true]]) {
      const line = el("div", {"class": "chart", "data-series": key});
      line.appendChild(el("span", {}, label));
      line.appendChild(spark(series[key] || [], bars));
      line.appendChild(el("span", {"class": "v"}, fmt(series[key] || [])));
      card.appendChild(line);
    }
    box.appendChild(card);
  }
}
async function refresh() {
  const banner = document.getElementById("banner");
  try {
    const r = await fetch("status.json", {cache: "no-store"});
    if (!r.ok) throw new Error("HTTP " + r.status);
    const j = await r.json();
    document.getElementById("bus").textContent = j.status.bus;
    document.title = "mdbus " + j.status.bus;
    document.getElementById("head").textContent = j.table.header;
    renderTable(j.table);
    renderCharts(j.history);
    banner.style.display = "none";
    document.body.setAttribute("data-loaded", "1");
  } catch (e) {
    banner.textContent = "supervisor unreachable: " + e.message + " (retrying)";
    banner.style.display = "block";
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)page";

}  // namespace

std::string_view status_page_html() noexcept { return kPage; }

}  // namespace mdbus::supervise
