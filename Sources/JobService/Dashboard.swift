/// The dashboard (`GET /`): one self-contained HTML page — no external scripts, styles or
/// fonts — that lists the caller's jobs and plots a selected job's ELBO and gradient norm
/// live from its event stream (NDJSON over fetch, so an API key can be sent), with its
/// estimators and final parameters. `?job=ID` selects a job; `?key=K` (or the key field)
/// sets the API key, kept in the page's local storage.
///
/// The plotted points are also kept in each chart's `data-points` attribute (JSON
/// `[[step, value], …]`), which is what the headless-browser test reads back.
enum Dashboard {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sviserve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:flex;min-height:100vh;color:#222}
nav{width:300px;border-right:1px solid #ddd;padding:12px;overflow:auto}
main{flex:1;padding:16px}
li{cursor:pointer;padding:4px 6px;border-radius:4px;list-style:none}
li:hover,li.sel{background:#eef}
ul{padding:0}
.st{font-size:12px;color:#666}
svg{border:1px solid #ddd;background:#fcfcfc}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;font-size:12px}
input{width:100%;box-sizing:border-box}
</style></head>
<body>
<nav>
  <h3>sviserve jobs</h3>
  <label class="st">API key <input id="key" type="password" autocomplete="off"></label>
  <ul id="jobs"></ul>
</nav>
<main>
  <h2 id="title">Select a job</h2>
  <div id="status" class="st"></div>
  <h4>ELBO</h4><svg id="elbo" width="640" height="220" data-points="[]"></svg>
  <h4>Gradient norm</h4><svg id="grad" width="640" height="160" data-points="[]"></svg>
  <h4>Estimators</h4><div id="estimators" class="st">—</div>
  <h4>Final parameters</h4><div id="params" class="st">—</div>
</main>
<script>
const q = new URLSearchParams(location.search);
if (q.get("key")) localStorage.setItem("sviserve-key", q.get("key"));
const keyInput = document.getElementById("key");
keyInput.value = localStorage.getItem("sviserve-key") || "";
keyInput.onchange = () => { localStorage.setItem("sviserve-key", keyInput.value); loadJobs(); };
function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}
function api(path) { return fetch(path, {headers: headers()}).then(r => r.ok ? r.json() : Promise.reject(r.status)); }
let current = null;
function plot(id, points) {
  const svg = document.getElementById(id);
  svg.setAttribute("data-points", JSON.stringify(points));
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height"), pad = 30;
  svg.innerHTML = "";
  if (points.length === 0) return;
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]).filter(Number.isFinite);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = x => pad + (w - 2 * pad) * (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5);
  const sy = y => h - pad - (h - 2 * pad) * (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#36c"); line.setAttribute("stroke-width", "1.5");
  line.setAttribute("points", points.filter(p => Number.isFinite(p[1])).map(p => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" "));
  svg.appendChild(line);
  for (const [t, y, anchor] of [[y1.toPrecision(5), pad, "start"], [y0.toPrecision(5), h - pad, "start"]]) {
    const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
    label.setAttribute("x", 2); label.setAttribute("y", y); label.setAttribute("font-size", "10"); label.textContent = t;
    svg.appendChild(label);
  }
}
function loadJobs() {
  api("/v1/jobs?page_size=50").then(page => {
    const ul = document.getElementById("jobs");
    ul.innerHTML = "";
    for (const j of page.jobs) {
      const li = document.createElement("li");
      li.dataset.id = j.id;
      li.innerHTML = "<b></b><div class=st></div>";
      li.querySelector("b").textContent = j.name;
      li.querySelector("div").textContent = j.status + " · step " + j.progress.step + "/" + j.progress.steps;
      li.onclick = () => select(j.id);
      if (j.id === current) li.className = "sel";
      ul.appendChild(li);
    }
  }).catch(s => { document.getElementById("jobs").textContent = "cannot list jobs (" + s + ")"; });
}
async function select(id) {
  current = id;
  loadJobs();
  const elbo = [], grad = [];
  plot("elbo", elbo); plot("grad", grad);
  const job = await api("/v1/jobs/" + id);
  document.getElementById("title").textContent = job.name + " (" + id + ")";
  document.getElementById("status").textContent = job.status;
  const response = await fetch("/v1/jobs/" + id + "/events", {headers: headers({"Accept": "application/x-ndjson"})});
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl); buffer = buffer.slice(nl + 1);
      if (!line.trim() || current !== id) continue;
      const e = JSON.parse(line);
      if (e.event === "progress") {
        elbo.push([e.data.step, e.data.elbo]); grad.push([e.data.step, e.data.grad_norm]);
        plot("elbo", elbo); plot("grad", grad);
      } else if (e.event === "status") {
        document.getElementById("status").textContent = e.data.status;
      } else if (e.event === "result") {
        document.getElementById("status").textContent = "succeeded";
        showResult(e.data);
      } else if (e.event === "error") {
        document.getElementById("status").textContent = "failed: " + e.data.error;
      }
    }
  }
  loadJobs();
}
function showResult(r) {
  document.getElementById("estimators").textContent = r.posterior.map(s => s.site + ": " + s.estimator).join(", ") || "—";
  const rows = r.params.map(p => "<tr><th>" + p.name + "</th><td>" + p.values.slice(0, 8).map(v => v.toPrecision(5)).join("</td><td>") + (p.values.length > 8 ? "</td><td>…" : "") + "</td></tr>");
  document.getElementById("params").innerHTML = "<table>" + rows.join("") + "</table>";
}
loadJobs();
if (q.get("job")) select(q.get("job"));
</script>
</body></html>
"""#
}
