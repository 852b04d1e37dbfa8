// The dashboard's few scripts: the live log stream, search within a trace, the resource
// buttons, and the metrics page's refresh. No framework, nothing fetched from elsewhere.
"use strict";

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function clock(ns) {
  const ms = Math.floor(ns / 1e6);
  return new Date(ms).toISOString().slice(11, 23);
}

function liveLogs() {
  const table = document.getElementById("logs");
  if (!table) return;
  const status = document.getElementById("live-status");
  const columns = (table.dataset.columns || "").split(",").filter(Boolean);
  const body = table.tBodies[0];
  const source = new EventSource(table.dataset.stream);
  source.onopen = () => { status.textContent = "live: following"; };
  source.onerror = () => { status.textContent = "live: reconnecting…"; };
  source.addEventListener("skipped", (e) => {
    status.textContent = "live: " + JSON.parse(e.data).skipped + " lines skipped (too fast to show)";
  });
  source.addEventListener("line", (e) => {
    const r = JSON.parse(e.data);
    const tr = document.createElement("tr");
    tr.className = "fresh level-" + (r.level || "").toLowerCase();
    tr.dataset.service = r.service;
    tr.append(cell(clock(r.time_ns), "mono"), cell(r.service), cell(r.level), cell(r.message, "message"));
    for (const c of columns) tr.append(cell((r.fields || {})[c] || ""));
    const t = document.createElement("td");
    if (r.trace_id) {
      const a = document.createElement("a");
      a.href = "/traces/" + r.trace_id;
      a.className = "trace-link mono";
      a.textContent = r.trace_id.slice(0, 8);
      t.append(a);
    }
    tr.append(t);
    body.append(tr);
    const none = document.getElementById("no-lines");
    if (none) none.remove();
    while (body.rows.length > 2000) body.deleteRow(0);
    if (window.innerHeight + window.scrollY >= document.body.offsetHeight - 80) window.scrollTo(0, document.body.scrollHeight);
  });
}

function traceSearch() {
  const input = document.getElementById("trace-search");
  if (!input) return;
  const spans = Array.from(document.querySelectorAll("details.span"));
  const count = document.getElementById("search-count");
  input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    let n = 0;
    for (const s of spans) {
      const hit = q !== "" && s.textContent.toLowerCase().includes(q);
      s.classList.toggle("match", hit);
      s.classList.toggle("dim", q !== "" && !hit);
      if (hit) n++;
    }
    count.textContent = q === "" ? "" : n + " of " + spans.length + " spans match";
  });
}

function resourceButtons() {
  for (const b of document.querySelectorAll("button[data-action]")) {
    b.addEventListener("click", async () => {
      b.disabled = true;
      b.textContent = b.dataset.action + "ing…";
      const r = await fetch("/resources/" + encodeURIComponent(b.dataset.container) + "/" + b.dataset.action,
        { method: "POST", headers: { "x-msctl-action": "1" } });
      if (!r.ok) alert((await r.json()).detail);
      location.reload();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  liveLogs();
  traceSearch();
  resourceButtons();
  if (document.body.dataset.page === "metrics") setTimeout(() => location.reload(), 10000);
});
