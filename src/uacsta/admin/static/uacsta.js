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
