// The admin UI's own script: a file, not inline, so that the Content-Security-Policy
// can forbid inline scripts (script-src 'self').
"use strict";

// Filter forms are read by htmx as they change; Enter must not submit them.
document.addEventListener("submit", (event) => {
  if (event.target.matches("form.filter")) event.preventDefault();
});

// Diagnostics: follow the live log over SSE, optionally for some MACs only.
let tailSource = null;
document.addEventListener("submit", (event) => {
  if (event.target.id !== "tail-form") return;
  event.preventDefault();
  if (tailSource) tailSource.close();
  document.getElementById("tail").innerHTML = "";
  const macs = encodeURIComponent(document.getElementById("tail-macs").value);
  const tail = document.getElementById("tail");
  delete tail.dataset.live;
  tailSource = new EventSource("/ui/log/tail?macs=" + macs);
  // Following from the moment the stream opened (shown, and waited on by tests).
  tailSource.addEventListener("open", () => { tail.dataset.live = "1"; });
  tailSource.addEventListener("line", (e) => {
    const body = document.getElementById("tail");
    body.insertAdjacentHTML("beforeend", e.data);
    while (body.rows.length > 500) body.deleteRow(0);
  });
});

// Telephones: the header checkbox selects every telephone of the page shown.
document.addEventListener("change", (event) => {
  if (event.target.id !== "select-all") return;
  for (const box of document.querySelectorAll("#phone-table input[name=mac]")) {
    box.checked = event.target.checked;
  }
});

// Telephones: a live refresh of the list keeps the telephones selected on it.
let selectedPhones = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.target.id !== "phones") return;
  const boxes = document.querySelectorAll("#phone-table input[name=mac]:checked");
  selectedPhones = new Set(Array.from(boxes, (box) => box.value));
});
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.id !== "phones" || !selectedPhones) return;
  for (const box of document.querySelectorAll("#phone-table input[name=mac]")) {
    if (selectedPhones.has(box.value)) box.checked = true;
  }
  selectedPhones = null;
});

// Dashboard: uPlot charts of /api/dashboard/{range}, redrawn on each new point.
const dashboard = document.getElementById("dashboard");
if (dashboard && window.uPlot) {
  const colours = ["#1f6feb", "#2da44e", "#d29922", "#cf222e"];
  let names = {};
  let charts = [];
  const draw = async () => {
    const range = dashboard.dataset.range;
    const state = document.getElementById("dashboard-state");
    let data;
    try {
      const response = await fetch("/api/dashboard/" + range, { credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      data = await response.json();
    } catch (error) {
      state.textContent = "could not load the series: " + error.message;
      return;
    }
    names = data.names;
    for (const chart of charts) chart.destroy();
    charts = [];
    for (const plot of dashboard.querySelectorAll(".plot")) {
      const keys = plot.dataset.series.split(" ");
      const opts = {
        width: Math.max(320, plot.clientWidth || 600),
        height: 180,
        series: [{}, ...keys.map((k, i) => ({ label: names[k], stroke: colours[i % 4], width: 2 }))],
        axes: [{}, { size: 60 }],
      };
      charts.push(new uPlot(opts, [data.t, ...keys.map((k) => data[k])], plot));
      plot.dataset.points = String(data.t.length);
    }
    const rows = document.querySelector("#dashboard-now tbody");
    rows.innerHTML = "";
    for (const [key, label] of Object.entries(names)) {
      const values = data[key];
      const row = rows.insertRow();
      row.dataset.series = key;
      row.insertCell().textContent = label;
      row.insertCell().textContent = values.length ? String(values[values.length - 1]) : "–";
    }
    state.textContent = data.t.length
      ? data.t.length + " points, the newest at " + new Date(data.t[data.t.length - 1] * 1000).toLocaleTimeString()
      : "no point yet: the first comes " + data.step + " s after the start";
    dashboard.dataset.drawn = String(Number(dashboard.dataset.drawn || 0) + 1);
  };
  for (const button of document.querySelectorAll("button.range")) {
    button.addEventListener("click", () => {
      dashboard.dataset.range = button.dataset.range;
      for (const b of document.querySelectorAll("button.range")) {
        b.setAttribute("aria-pressed", String(b === button));
      }
      draw();
    });
  }
  draw();
  const points = new EventSource("/ui/dashboard/events");
  points.addEventListener("point", draw);
}

// Trace: the NDJSON stream of /api/trace as a ladder; a row opens its message.
const traceForm = document.getElementById("trace-form");
if (traceForm) {
  let reader = null;
  const state = document.getElementById("trace-state");
  const body = document.querySelector("#trace tbody");
  const stop = () => {
    if (reader) reader.cancel();
    reader = null;
  };
  document.getElementById("trace-stop").addEventListener("click", () => {
    stop();
    state.textContent = "stopped";
  });
  const show = (entry) => {
    document.getElementById("trace-detail").hidden = false;
    document.getElementById("trace-detail-title").textContent = entry.name;
    document.getElementById("trace-raw").textContent = entry.text;
    document.getElementById("trace-decoded").textContent = entry.csta
      ? JSON.stringify(entry.csta, null, 2)
      : entry.kind === "csta" ? JSON.stringify(JSON.parse(entry.text), null, 2) : "(no CSTA in it)";
  };
  const add = (entry) => {
    const row = body.insertRow();
    row.dataset.kind = entry.kind;
    row.dataset.from = entry.from;
    row.dataset.to = entry.to;
    row.tabIndex = 0;
    const time = new Date(entry.at * 1000);
    row.insertCell().textContent = time.toLocaleTimeString() + "." + String(time.getMilliseconds()).padStart(3, "0");
    const client = entry.from.startsWith("client ") ? entry.from : entry.to.startsWith("client ") ? entry.to : "";
    const toPhone = entry.to === "phone", fromPhone = entry.from === "phone";
    row.insertCell().textContent = fromPhone || toPhone ? "phone" : "";
    row.insertCell().textContent = fromPhone ? "→" : toPhone ? "←" : "";
    row.insertCell().textContent = "server";
    row.insertCell().textContent = client ? (entry.to === client ? "→" : "←") : "";
    row.insertCell().textContent = client.replace("client ", "");
    const name = row.insertCell();
    name.className = "message";
    name.textContent = entry.name;
    row.addEventListener("click", () => show(entry));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") show(entry); });
    while (body.rows.length > 2000) body.deleteRow(0);
  };
  traceForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    stop();
    body.innerHTML = "";
    const params = new URLSearchParams(new FormData(traceForm));
    state.textContent = "starting…";
    delete state.dataset.live;
    const response = await fetch("/api/trace?" + params, { credentials: "same-origin" });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ detail: response.statusText }));
      state.textContent = "refused: " + problem.detail;
      return;
    }
    reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        break;
      }
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const entry = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (entry.tracing) {
          state.textContent = "tracing " + entry.tracing;
          state.dataset.live = entry.tracing;
        } else if (entry.end !== undefined) {
          state.textContent = "trace ended: " + entry.end + (entry.dropped ? " (" + entry.dropped + " dropped)" : "");
        } else {
          add(entry);
        }
      }
    }
    reader = null;
  });
}
