// Copyright (c) crust authors. Licensed under the MIT license.
//
// The single page `crust ui` serves (commands_ui.cc). Plain HTML, CSS and
// JavaScript, no external resources. Every value from the store is inserted
// with textContent, never as HTML.
namespace crust::tool {

extern const char kUiPage[] = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>crust store</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
  header { background: #1d3557; color: #fff; padding: 10px 18px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  main { display: grid; grid-template-columns: 420px 1fr; gap: 16px; padding: 16px; }
  section { background: #fff; border: 1px solid #d8dde3; border-radius: 6px; padding: 12px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .mono { font-family: ui-monospace, monospace; font-size: 12px; }
  ol#commits { list-style: none; margin: 0; padding: 0 0 0 14px; border-left: 3px solid #a8b5c4; }
  ol#commits li { position: relative; padding: 6px 8px; margin: 4px 0; border-radius: 4px; cursor: pointer; }
  ol#commits li::before { content: ""; position: absolute; left: -22px; top: 11px; width: 11px; height: 11px;
    border-radius: 50%; background: #457b9d; border: 2px solid #fff; }
  ol#commits li.selected { background: #e3eef7; }
  ol#commits li:hover { background: #eef3f8; }
  .sub { color: #5b6773; font-size: 12px; }
  a.parent { color: #2a6f97; cursor: pointer; text-decoration: underline; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceff2; }
  th { font-weight: 600; color: #3d4853; }
  .heat { display: grid; grid-template-columns: repeat(64, 9px); gap: 1px; margin: 4px 0 10px; }
  .heat span { width: 9px; height: 9px; background: #e6e9ed; }
  .heat span.changed { background: #d62828; }
  .ok { color: #2b8a3e; font-weight: 600; } .bad { color: #c92a2a; font-weight: 600; }
  .added { color: #2b8a3e; } .removed { color: #c92a2a; } .changed { color: #b35c00; }
  button, select { font: inherit; }
  #error { color: #c92a2a; }
</style>
</head>
<body>
<header><h1>crust store</h1><span id="totals" class="sub" style="color:#dfe7ef"></span></header>
<main>
  <section>
    <h2>Commits (oldest first)</h2>
    <ol id="commits"></ol>
  </section>
  <div>
    <section id="detail"><h2>Commit</h2><p class="sub">Select a commit.</p></section>
    <section style="margin-top:16px">
      <h2>Diff</h2>
      <div>from <select id="from" class="mono"></select> to <select id="to" class="mono"></select>
        <button id="diff-button">Compare</button></div>
      <div id="diff-result"></div>
    </section>
    <p id="error"></p>
  </div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function size(n) {
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB"]; let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < 3);
  return n.toPrecision(3) + " " + u[i];
}
const short = (h) => h.slice(0, 12);
function time(ns) { return new Date(Number(BigInt(ns) / 1000000n)).toISOString().replace("T", " ").replace("Z", " UTC"); }
async function api(path) {
  const r = await fetch(path);
  const j = await r.json();
  if (j.error) throw new Error(j.error.code + ": " + j.error.message);
  return j;
}
function fail(e) { $("error").textContent = String(e.message || e); }

let usage = null;
function parentOf(root) { const c = usage.commits.find((c) => c.root === root); return c && c.parent; }

function heatMap(change) {
  const pages = Math.max(1, Math.ceil(Math.max(change.old_memory_length, change.new_memory_length) / 4096));
  const cells = Math.min(pages, 1024);          // at most 1024 cells; each covers `per` pages
  const per = Math.ceil(pages / cells);
  const hot = new Set(change.changed_pages.map((p) => Math.floor(p / per)));
  const grid = el("div", { class: "heat", title: per + " page(s) of 4 KiB per cell" });
  for (let i = 0; i < Math.ceil(pages / per); i++) grid.append(el("span", hot.has(i) ? { class: "changed" } : {}));
  return grid;
}

async function selectCommit(root) {
  try {
    for (const li of document.querySelectorAll("#commits li")) li.classList.toggle("selected", li.dataset.root === root);
    const c = usage.commits.find((c) => c.root === root);
    const parent = c.parent || "";
    const d = await api("/api/commit?root=" + root + "&parent=" + parent);
    const box = $("detail"); box.replaceChildren(el("h2", {}, "Commit"));
    box.append(el("div", { class: "mono" }, root));
    box.append(el("div", { class: "sub" }, time(c.created_unix_ns) + " · " + c.files + " files · " + size(c.bytes) +
      " · wrote " + size(c.new_bytes) + " · shares " + size(c.shared_bytes) + " by hard links"));
    const pl = el("div", { class: "sub" }, "parent: ");
    if (c.parent) pl.append(el("a", { class: "parent mono", onclick: () => selectCommit(c.parent) }, short(c.parent)));
    else pl.append("none (shares no file with an older commit)");
    box.append(pl);
    const verify = el("div", { id: "verify" }, el("button", { onclick: async () => {
      verify.textContent = "verifying…";
      try { const v = await api("/api/verify?root=" + root);
        verify.replaceChildren(v.ok ? el("span", { class: "ok" }, "verified: every hash matches")
                                    : el("span", { class: "bad" }, "FAILED: " + v.error.code + ": " + v.error.message));
      } catch (e) { verify.textContent = String(e.message); } } }, "Verify"));
    box.append(verify);
    const layers = new Map(c.memories.map((m) => [m.id, m.delta_layers]));
    const table = el("table", {}, el("tr", {}, el("th", {}, "module"), el("th", {}, "bytecode"),
      el("th", {}, "memory"), el("th", {}, "delta layers")));
    for (const m of d.commit.modules)
      table.append(el("tr", {}, el("td", { class: "mono" }, short(m.id)), el("td", {}, size(m.bytecode_size)),
        el("td", {}, size(m.memory_length)), el("td", {}, layers.get(m.id) ?? m.delta_layers)));
    box.append(el("h2", { style: "margin-top:10px" }, "Modules (" + d.commit.modules.length + ")"), table);
    box.append(el("h2", { style: "margin-top:10px" }, "Pages changed since the parent"));
    if (!d.vs_parent) box.append(el("p", { class: "sub" }, "No parent: every page is new."));
    else if (d.vs_parent.modules.length === 0) box.append(el("p", { class: "sub" }, "Nothing changed."));
    for (const m of (d.vs_parent ? d.vs_parent.modules : [])) {
      box.append(el("div", { class: "mono" }, short(m.id) + " " + m.change + (m.memory_changed ?
        " · " + m.changed_pages.length + " page(s) of 4 KiB" : "")));
      if (m.change === "changed" && m.memory_changed) box.append(heatMap(m));
    }
  } catch (e) { fail(e); }
}

async function showDiff(from, to) {
  const out = $("diff-result");
  out.textContent = "comparing…";
  try {
    const d = await api("/api/diff?from=" + from + "&to=" + to);
    out.replaceChildren(el("p", { class: "sub" }, short(from) + " → " + short(to) + ": " + d.modules.length +
      " module(s) differ, " + size(d.changed_page_bytes) + " of changed pages"));
    const t = el("table", { id: "diff-table" }, el("tr", {}, el("th", {}, "module"), el("th", {}, "change"),
      el("th", {}, "details")));
    for (const m of d.modules) {
      const parts = [];
      if (m.change === "added") parts.push("bytecode " + size(m.new_bytecode_size) + ", memory " + size(m.new_memory_length));
      if (m.change === "removed") parts.push("bytecode " + size(m.old_bytecode_size) + ", memory " + size(m.old_memory_length));
      if (m.bytecode_changed) parts.push("bytecode " + size(m.old_bytecode_size) + " → " + size(m.new_bytecode_size));
      if (m.metadata_changed) parts.push("metadata");
      if (m.memory_changed) parts.push(m.changed_pages.length + " page(s) changed (" + size(m.changed_pages.length * 4096) + ")");
      t.append(el("tr", { class: "diff-row" }, el("td", { class: "mono" }, short(m.id)),
        el("td", { class: m.change }, m.change), el("td", {}, parts.join("; "))));
    }
    out.append(t);
  } catch (e) { out.textContent = ""; fail(e); }
}

async function load() {
  try {
    usage = await api("/api/usage");
    $("totals").textContent = usage.commits.length + " commits · " + size(usage.unique_bytes) + " on disk · " +
      size(usage.apparent_bytes) + " if nothing were shared";
    const list = $("commits"); list.replaceChildren();
    for (const c of usage.commits) {
      const li = el("li", { "data-root": c.root, class: "commit", onclick: () => selectCommit(c.root) },
        el("div", { class: "mono" }, short(c.root)),
        el("div", { class: "sub" }, time(c.created_unix_ns) + " · " + c.memories.length + " module(s) · wrote " +
          size(c.new_bytes)));
      if (c.parent) li.append(el("div", { class: "sub" }, "parent ", el("a", { class: "parent mono",
        onclick: (ev) => { ev.stopPropagation(); selectCommit(c.parent); } }, short(c.parent))));
      list.append(li);
    }
    for (const id of ["from", "to"]) {
      const s = $(id); s.replaceChildren();
      for (const c of usage.commits) s.append(el("option", { value: c.root }, short(c.root)));
    }
    const q = new URLSearchParams(location.search);
    const n = usage.commits.length;
    if (n >= 2) { $("from").value = usage.commits[n - 2].root; $("to").value = usage.commits[n - 1].root; }
    if (q.get("from")) $("from").value = q.get("from");
    if (q.get("to")) $("to").value = q.get("to");
    $("diff-button").onclick = () => showDiff($("from").value, $("to").value);
    const pick = q.get("commit") || (n ? usage.commits[n - 1].root : null);
    if (pick) await selectCommit(pick);
    if (q.get("from") && q.get("to")) await showDiff(q.get("from"), q.get("to"));
    document.body.dataset.loaded = "yes";
  } catch (e) { fail(e); }
}
load();
</script>
</body>
</html>
)HTML";

}  // namespace crust::tool
