/// The dashboard (`GET /`): one self-contained HTML page — no external scripts, styles or
/// fonts. It lists the caller's jobs (refreshed every 2 s) and shows one: live progress with
/// the rate and the time left, the ELBO with axes and a smoothed line (live from the event
/// stream while the job runs, the result's whole thinned trace once it has finished), other
/// runs overlaid on it, the gradient norm, each latent site's estimator with its posterior
/// mean and sd (running estimates from the `params` events, the result's summaries at the
/// end), the params with sparklines of their history, a cancel button and the job's spec.
/// `?job=ID` selects a job, `?compare=ID,ID` overlays others, `?key=K` (or the key field) sets
/// the API key, kept in the page's local storage.
///
/// What is drawn is also kept in attributes the headless-browser test reads back: each chart's
/// `data-points` (`[[step, value], …]`), `data-smoothed`, `data-series` (the overlaid runs by
/// id) and its axis labels (`text.tick`).
enum Dashboard {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sviserve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:flex;min-height:100vh;color:#222}
nav{width:290px;border-right:1px solid #ddd;padding:12px;overflow:auto;flex:none}
main{flex:1;padding:16px;min-width:0}
li{padding:4px 6px;border-radius:4px;list-style:none;display:flex;gap:6px;align-items:flex-start}
li .pick{cursor:pointer;flex:1}
li:hover,li.sel{background:#eef}
ul{padding:0;margin:0}
.st{font-size:12px;color:#666}
svg{border:1px solid #ddd;background:#fcfcfc;display:block}
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;font-size:12px}
th{background:#f4f4f4}td.l,th.l{text-align:left}
input[type=password]{width:100%;box-sizing:border-box}
.bar{height:8px;background:#eee;border-radius:4px;overflow:hidden;width:420px;margin:4px 0}
.bar div{height:100%;background:#36c}
button{margin-right:6px}
pre{background:#f6f6f6;padding:8px;max-height:320px;overflow:auto;font-size:12px}
.row{display:flex;gap:24px;flex-wrap:wrap}
.tick{font-size:10px;fill:#555}
.legend{font-size:11px}
</style></head>
<body>
<nav>
  <h3 style="margin-top:0">sviserve jobs</h3>
  <label class="st">API key <input id="key" type="password" autocomplete="off"></label>
  <p class="st">Tick runs to overlay their ELBO on the selected one.</p>
  <ul id="jobs"></ul>
</nav>
<main>
  <h2 id="title" style="margin-top:0">Select a job</h2>
  <div id="status" class="st" data-status=""></div>
  <div class="bar"><div id="progressbar" style="width:0%" data-fraction="0"></div></div>
  <div id="eta" class="st"></div>
  <p><button id="cancel" disabled>Cancel job</button><button id="specToggle" disabled>Show spec</button>
     <label class="st">smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.9"></label></p>
  <pre id="spec" hidden></pre>
  <h4>ELBO</h4><svg id="elbo" width="760" height="260" data-points="[]" data-smoothed="[]" data-series="{}"></svg>
  <h4>Gradient norm</h4><svg id="grad" width="760" height="170" data-points="[]" data-smoothed="[]" data-series="{}"></svg>
  <div class="row">
    <div><h4>Latent sites <span class="st" id="sitesSource"></span></h4><div id="sites" class="st">—</div></div>
    <div><h4>Params</h4><div id="params" class="st">—</div></div>
  </div>
</main>
<script>
const q = new URLSearchParams(location.search);
if (q.get("key")) localStorage.setItem("sviserve-key", q.get("key"));
const keyInput = document.getElementById("key");
keyInput.value = localStorage.getItem("sviserve-key") || "";
keyInput.onchange = () => { localStorage.setItem("sviserve-key", keyInput.value); loadJobs(); };
const $ = id => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#36c", "#d62", "#393", "#939", "#c90", "#099"];
function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}
function api(path, method) {
  return fetch(path, {method: method || "GET", headers: headers()}).then(r => r.ok ? r.json() : Promise.reject(r.status));
}
function fmt(x) {
  if (typeof x !== "number") return String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return (a !== 0 && (a >= 1e5 || a < 1e-3)) ? x.toExponential(3) : x.toPrecision(4);
}
function duration(s) {
  if (!Number.isFinite(s) || s < 0) return "--:--";
  s = Math.ceil(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
}
// Exponential moving average, TensorBoard-style (debiased).
function smooth(points, w) {
  let last = 0, n = 0;
  return points.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, y];
    last = w * last + (1 - w) * y; n++;
    return [x, last / (1 - Math.pow(w, n))];
  });
}
// Round tick values, about `count` of them covering [lo, hi], with their labels (as many
// decimals as the step needs; thousands grouped).
function ticks(lo, hi, count) {
  if (!(hi > lo)) return [[lo, fmt(lo)]];
  const step0 = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map(f => f * mag).find(s => s >= step0) || step0;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    const x = Math.abs(v) < step * 1e-9 ? 0 : v;
    const label = Math.abs(x) >= 1e9 || (decimals > 6) ? x.toExponential(2)
      : x.toLocaleString("en", {minimumFractionDigits: decimals, maximumFractionDigits: decimals});
    out.push([x, label]);
  }
  return out;
}
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
// Draws the primary series (raw and smoothed) and the overlaid ones, with axes.
function plot(id, points, overlays) {
  overlays = overlays || {};
  const svg = $(id), w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
  const weight = +$("smoothing").value;
  const smoothed = smooth(points, weight);
  svg.setAttribute("data-points", JSON.stringify(points));
  svg.setAttribute("data-smoothed", JSON.stringify(smoothed));
  svg.setAttribute("data-series", JSON.stringify(overlays));
  svg.innerHTML = "";
  const all = points.concat(...Object.values(overlays)).filter(p => Number.isFinite(p[1]));
  if (all.length === 0) { svg.appendChild(el("text", {x: 20, y: h / 2, class: "tick"}, "no points: progress events are kept while a job runs and for a minute after")); return; }
  const L = 64, R = 24, T = 10, B = 28;
  const xs = all.map(p => p[0]), ys = all.map(p => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const sx = x => L + (w - L - R) * (x - x0) / (x1 - x0);
  const sy = y => h - B - (h - T - B) * (y - y0) / (y1 - y0);
  svg.appendChild(el("line", {x1: L, y1: h - B, x2: w - R, y2: h - B, stroke: "#999"}));
  svg.appendChild(el("line", {x1: L, y1: T, x2: L, y2: h - B, stroke: "#999"}));
  for (const [v, label] of ticks(x0, x1, 6)) {
    svg.appendChild(el("line", {x1: sx(v), y1: h - B, x2: sx(v), y2: h - B + 4, stroke: "#999"}));
    svg.appendChild(el("text", {x: sx(v), y: h - B + 15, "text-anchor": "middle", class: "tick", "data-axis": "x"}, label));
  }
  for (const [v, label] of ticks(y0, y1, 5)) {
    svg.appendChild(el("line", {x1: L - 4, y1: sy(v), x2: w - R, y2: sy(v), stroke: "#eee"}));
    svg.appendChild(el("text", {x: L - 6, y: sy(v) + 3, "text-anchor": "end", class: "tick", "data-axis": "y"}, label));
  }
  svg.appendChild(el("text", {x: w - R, y: h - 2, "text-anchor": "end", class: "tick"}, "step"));
  const line = (pts, color, width, opacity) => el("polyline", {fill: "none", stroke: color, "stroke-width": width, "stroke-opacity": opacity,
    points: pts.filter(p => Number.isFinite(p[1])).map(p => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ")});
  let i = 1, legendY = T + 12;
  for (const [name, pts] of Object.entries(overlays)) {
    const color = COLORS[i++ % COLORS.length];
    svg.appendChild(line(smooth(pts, weight), color, 1.5, 0.9));
    svg.appendChild(el("text", {x: w - R - 4, y: legendY, "text-anchor": "end", fill: color, class: "legend"}, name));
    legendY += 13;
  }
  if (points.length) {
    svg.appendChild(line(points, COLORS[0], 1, 0.3));
    svg.appendChild(line(smoothed, COLORS[0], 2, 1));
  }
}
// A small line of a param's history.
function sparkline(values) {
  const w = 120, h = 24, finite = values.filter(Number.isFinite);
  const svg = el("svg", {width: w, height: h, class: "spark", "data-points": JSON.stringify(values)});
  if (finite.length < 2) return svg;
  const lo = Math.min(...finite), hi = Math.max(...finite), span = hi > lo ? hi - lo : 1;
  svg.appendChild(el("polyline", {fill: "none", stroke: "#36c", "stroke-width": 1.2,
    points: values.map((v, i) => (i * (w - 2) / (values.length - 1) + 1).toFixed(1) + "," + (h - 2 - (h - 4) * (v - lo) / span).toFixed(1)).join(" ")}));
  return svg;
}
let current = null, controller = null, view = null;
const compare = new Set((q.get("compare") || "").split(",").filter(Boolean));
function loadJobs() {
  api("/v1/jobs?page_size=50").then(page => {
    const ul = $("jobs");
    ul.innerHTML = "";
    for (const j of page.jobs) {
      const li = document.createElement("li");
      li.dataset.id = j.id; li.dataset.status = j.status;
      li.innerHTML = "<input type=checkbox class=compare title='overlay'><div class=pick><b></b><div class=st></div></div>";
      li.querySelector("b").textContent = j.name;
      li.querySelector(".st").textContent = j.status + " · step " + j.progress.step + "/" + j.progress.steps;
      const box = li.querySelector("input");
      box.checked = compare.has(j.id);
      box.onchange = () => { if (box.checked) compare.add(j.id); else compare.delete(j.id); drawOverlays(); };
      li.querySelector(".pick").onclick = () => select(j.id);
      if (j.id === current) li.className = "sel";
      ul.appendChild(li);
    }
  }).catch(s => { $("jobs").textContent = "cannot list jobs (" + s + ")"; });
}
// The overlaid runs' ELBO traces (from their results; a run still going has none yet).
const traces = {};
function drawOverlays() {
  const wanted = [...compare].filter(id => id !== current);
  Promise.all(wanted.map(id => traces[id] ? Promise.resolve() : Promise.all([api("/v1/jobs/" + id), api("/v1/jobs/" + id + "/result")]).then(([j, r]) => {
    traces[id] = {name: id.slice(0, 8) + " " + j.name, points: r.elbo_trace.map(p => [p.step, p.elbo])};
  }).catch(() => {}))).then(() => {
    const series = {};
    for (const id of wanted) if (traces[id]) series[traces[id].name] = traces[id].points;
    if (view) { view.overlays = series; redraw(); }
  });
}
function redraw() {
  if (!view) return;
  plot("elbo", view.elbo, view.overlays);
  plot("grad", view.grad, {});
}
$("smoothing").oninput = redraw;
function setStatus(status, detail) {
  $("status").textContent = status + (detail ? ": " + detail : "");
  $("status").dataset.status = status;
  $("cancel").disabled = !(status === "queued" || status === "running");
}
function setProgress(p) {
  const fraction = p.steps > 0 ? Math.min(1, p.step / p.steps) : 0;
  $("progressbar").style.width = (100 * fraction).toFixed(1) + "%";
  $("progressbar").dataset.fraction = fraction;
  const rate = p.steps_per_second, eta = rate > 0 ? (p.steps - p.step) / rate : NaN;
  $("eta").textContent = "step " + p.step + "/" + p.steps + " · " + (100 * fraction).toFixed(0) + "% · " +
    (rate ? Math.round(rate).toLocaleString("en") + " steps/s · " : "") + "ETA " + (p.step >= p.steps ? "0:00" : duration(eta));
}
function showSites(sites, source) {
  $("sitesSource").textContent = source;
  if (!sites.length) { $("sites").textContent = "none"; return; }
  let html = "<table><tr><th class=l>site</th><th class=l>estimator</th><th class=l>element</th><th>mean</th><th>sd</th></tr>";
  for (const s of sites) {
    const n = Math.min(s.mean.length, 8);
    for (let i = 0; i < Math.max(n, 1); i++) {
      html += "<tr data-site='" + s.site + "'><td class=l>" + (i ? "" : s.site) + "</td><td class=l>" + (i ? "" : s.estimator) + "</td><td class=l>" +
        (n ? "[" + i + "]" : "") + "</td><td class=mean>" + (n ? fmt(s.mean[i]) : "") + "</td><td class=sd>" + (n ? fmt(s.sd[i]) : "") + "</td></tr>";
    }
  }
  $("sites").innerHTML = html + "</table>";
}
const paramHistory = {};
function showParams(params) {
  const table = document.createElement("table");
  table.innerHTML = "<tr><th class=l>param</th><th>value</th><th class=l>history</th></tr>";
  for (const p of params) {
    const tr = document.createElement("tr");
    tr.dataset.param = p.name;
    tr.innerHTML = "<td class=l></td><td class=value></td><td class=l></td>";
    tr.children[0].textContent = p.name + (p.shape.length ? " [" + p.shape.join("×") + "]" : "");
    tr.children[1].textContent = p.values.slice(0, 4).map(fmt).join(", ") + (p.values.length > 4 ? ", …" : "");
    tr.children[2].appendChild(sparkline(paramHistory[p.name] || []));
    table.appendChild(tr);
  }
  $("params").innerHTML = "";
  $("params").appendChild(table);
}
async function select(id) {
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  current = id;
  for (const k in paramHistory) delete paramHistory[k];
  view = {elbo: [], grad: [], overlays: {}};
  redraw();
  $("spec").hidden = true; $("specToggle").disabled = false; $("specToggle").textContent = "Show spec";
  $("sites").textContent = "—"; $("params").textContent = "—"; $("eta").textContent = "";
  loadJobs();
  drawOverlays();
  const job = await api("/v1/jobs/" + id);
  $("title").textContent = job.name + " (" + id + ")";
  setStatus(job.status, job.error);
  setProgress(job.progress);
  if (job.status === "succeeded") {
    const r = await api("/v1/jobs/" + id + "/result");
    finished(r);
  }
  let response;
  try {
    response = await fetch("/v1/jobs/" + id + "/events", {headers: headers({"Accept": "application/x-ndjson"}), signal});
  } catch (e) { return; }
  const reader = response.body.getReader(), decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    let chunk;
    try { chunk = await reader.read(); } catch (e) { return; }
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, {stream: true});
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl); buffer = buffer.slice(nl + 1);
      if (!line.trim() || current !== id) continue;
      const e = JSON.parse(line);
      if (e.event === "progress") {
        setProgress(e.data);
        view.grad.push([e.data.step, e.data.grad_norm]);
        if (!view.final) view.elbo.push([e.data.step, e.data.elbo]);
        redraw();
      } else if (e.event === "params") {
        for (const p of e.data.params) (paramHistory[p.name] = paramHistory[p.name] || []).push(p.values[0]);
        if (!view.final) { showSites(e.data.sites, "(running estimate from recent draws)"); showParams(e.data.params); }
      } else if (e.event === "status") {
        setStatus(e.data.status, e.data.error);
      } else if (e.event === "result") {
        setStatus("succeeded");
        finished(e.data);
      } else if (e.event === "error") {
        setStatus("failed", e.data.error);
      }
    }
  }
  loadJobs();
}
// A finished job: the result's whole thinned ELBO trace, its summaries and params.
function finished(r) {
  view.final = true;
  view.elbo = r.elbo_trace.map(p => [p.step, p.elbo]);
  redraw();
  showSites(r.posterior, "(posterior summaries of the result)");
  showParams(r.params);
}
$("cancel").onclick = () => {
  if (!current) return;
  api("/v1/jobs/" + current + "/cancel", "POST").then(j => { setStatus(j.status, j.error); loadJobs(); }).catch(s => { $("eta").textContent = "cancel failed (" + s + ")"; });
};
$("specToggle").onclick = () => {
  const pre = $("spec");
  if (!pre.hidden) { pre.hidden = true; $("specToggle").textContent = "Show spec"; return; }
  fetch("/v1/jobs/" + current + "/spec", {headers: headers()})
    .then(r => r.ok ? r.json().then(s => JSON.stringify(s, null, 2)) : Promise.resolve("the spec is not available (" + r.status + ")"))
    .then(text => { pre.textContent = text; pre.hidden = false; $("specToggle").textContent = "Hide spec"; });
};
loadJobs();
setInterval(loadJobs, 2000);
if (q.get("job")) select(q.get("job"));
</script>
</body></html>
"""#
}
