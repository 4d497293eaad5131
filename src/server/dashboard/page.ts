// The dashboard: one static page and its script over the JSON API. No build step and no CDN: the
// files are these strings. Data is put in the page with textContent only, never as HTML.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>iamwarden</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
  header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; background: #1b1f24; color: #fff; }
  header h1 { font-size: 1.1rem; margin: 0 1rem 0 0; }
  header input, header select { font: inherit; padding: .2rem .4rem; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 1rem; padding: 1rem; }
  section { background: #fff; border: 1px solid #d8dce2; border-radius: 6px; padding: .6rem .8rem; overflow: auto; }
  section h2 { font-size: 1rem; margin: .2rem 0 .6rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .2rem .4rem; border-bottom: 1px solid #eceef1; vertical-align: top; }
  th { font-weight: 600; color: #57606a; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .sev-critical { color: #a40e26; font-weight: 600; } .sev-high { color: #bc4c00; } .sev-medium { color: #7d4e00; }
  .err { color: #a40e26; } .muted { color: #57606a; }
  #status { margin-left: auto; font-size: .9rem; }
  details summary { cursor: pointer; }
  ul.events { margin: .2rem 0 .2rem 1rem; padding: 0; font-size: .85rem; }
</style>
</head>
<body>
<header>
  <h1>iamwarden</h1>
  <label>Filter <input id="filter" type="search" placeholder="account, check, owner, text" autocomplete="off"></label>
  <label>Status <select id="status-filter">
    <option value="open" selected>open</option><option value="suppressed">suppressed</option>
    <option value="remediated">remediated</option><option value="resolved">resolved</option><option value="">all</option>
  </select></label>
  <label>Token <input id="token" type="password" autocomplete="off" size="18"></label>
  <span id="status" class="muted">loading…</span>
</header>
<main>
  <section id="by-account"><h2>Findings by account and check</h2><table><thead></thead><tbody></tbody></table></section>
  <section id="oldest-keys"><h2>Oldest keys</h2><table><thead><tr><th>Account</th><th>Owner</th><th>Key</th><th>Age</th><th>Check</th></tr></thead><tbody></tbody></table></section>
  <section id="recent-events"><h2>Recent IAM changes and access from outside allowlists</h2><table><thead><tr><th>Last seen</th><th>Account</th><th>Finding</th></tr></thead><tbody></tbody></table></section>
  <section id="findings"><h2>Findings</h2><table><thead><tr><th>Severity</th><th>Check</th><th>Account</th><th>Owner</th><th>Title</th></tr></thead><tbody></tbody></table></section>
  <section id="runs"><h2>Last runs</h2><table><thead><tr><th>Started</th><th>Command</th><th>Result</th></tr></thead><tbody></tbody></table></section>
  <section id="outbox"><h2>Outbox backlog</h2><table><thead><tr><th>Channel</th><th>Pending</th><th>Retrying</th><th>Failed</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="/dashboard.js"></script>
</body>
</html>
`;

export const DASHBOARD_JS = `"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const tokenInput = $("#token");
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) { localStorage.setItem("iamwarden-token", hash.get("token")); history.replaceState(null, "", location.pathname); }
  tokenInput.value = localStorage.getItem("iamwarden-token") || "";
  let data = { findings: [], runs: [], outbox: [] };

  function cell(text, cls) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); if (cls) td.className = cls; return td; }
  function row(cells) { const tr = document.createElement("tr"); for (const c of cells) tr.append(c); return tr; }
  function fill(id, rows, empty) {
    const body = $("#" + id + " tbody"); body.replaceChildren(...rows);
    if (!rows.length) { const cols = $("#" + id + " thead tr") ? $("#" + id + " thead tr").children.length : 1; const td = cell(empty, "muted"); td.colSpan = cols || 1; body.append(row([td])); }
  }
  async function api(path) {
    const headers = tokenInput.value ? { authorization: "Bearer " + tokenInput.value } : {};
    const res = await fetch(path, { headers });
    if (res.status === 401) throw new Error("the API needs the token (serve.token)");
    if (!res.ok) throw new Error(path + ": HTTP " + res.status);
    return res.json();
  }
  async function allFindings(status) {
    const out = []; let offset = 0;
    for (;;) {
      const q = new URLSearchParams({ limit: "1000", offset: String(offset) }); if (status) q.set("status", status);
      const page = await api("/v1/findings?" + q);
      out.push(...page.findings);
      if (page.next === undefined || page.next === null) return out;
      offset = page.next;
    }
  }
  function matches(f, text) {
    if (!text) return true;
    const hay = [f.account, f.accountAlias, f.check, f.owner, f.title, f.resource, f.severity].join(" ").toLowerCase();
    return text.toLowerCase().split(/\\s+/).filter(Boolean).every((w) => hay.includes(w));
  }
  function age(f) { const d = f.details || {}; return typeof d.ageDays === "number" ? d.ageDays : typeof d.daysInactive === "number" ? d.daysInactive : null; }

  function render() {
    const text = $("#filter").value.trim();
    const findings = data.findings.filter((f) => matches(f, text));
    // By account and check.
    const checks = [...new Set(findings.map((f) => f.check))].sort();
    const accounts = [...new Set(findings.map((f) => f.account))].sort();
    const head = $("#by-account thead"); const hr = row([cell("Account"), ...checks.map((c) => cell(c))]); head.replaceChildren(hr);
    fill("by-account", accounts.map((a) => row([cell(a), ...checks.map((c) => cell(findings.filter((f) => f.account === a && f.check === c).length || "", "n"))])), "no findings");
    // Oldest keys.
    const keys = findings.filter((f) => age(f) !== null && (f.check === "key-age" || f.check === "key-inactive")).sort((x, y) => age(y) - age(x)).slice(0, 15);
    fill("oldest-keys", keys.map((f) => row([cell(f.account), cell(f.owner), cell(f.details.keyId || f.resource), cell(age(f) + " d", "n"), cell(f.check)])), "no key findings");
    // Recent event findings with their events.
    const recent = findings.filter((f) => f.check === "iam-change" || f.check === "source-ip").sort((x, y) => (y.lastSeen > x.lastSeen ? 1 : -1)).slice(0, 20);
    fill("recent-events", recent.map((f) => {
      const td = document.createElement("td"); const det = document.createElement("details"); const sum = document.createElement("summary");
      sum.textContent = f.title; det.append(sum); const ul = document.createElement("ul"); ul.className = "events";
      for (const e of (f.details.events || []).slice(-10)) { const li = document.createElement("li"); li.textContent = [e.time, e.action || e.eventName, e.sourceIp, e.outcome].filter(Boolean).join(" · "); ul.append(li); }
      det.append(ul); td.append(det);
      return row([cell(f.lastSeen), cell(f.account), td]);
    }), "no IAM-change or source-ip findings");
    // All findings.
    fill("findings", findings.slice(0, 500).map((f) => row([cell(f.severity, "sev-" + f.severity), cell(f.check), cell(f.account), cell(f.owner), cell(f.title)])), "no findings match");
    // Runs.
    fill("runs", data.runs.slice(0, 15).map((r) => {
      const s = r.summary || {}; const failed = (s.accounts || []).filter((a) => a && a.ok === false);
      const result = s.error ? s.error : failed.length ? failed.map((a) => a.id + ": " + (a.error || "failed")).join("; ") : r.finishedAt ? "ok" : "running";
      return row([cell(r.startedAt), cell(r.command), cell(result, s.error || failed.length ? "err" : "")]);
    }), "no runs yet");
    // Outbox backlog.
    const byChannel = new Map();
    for (const o of data.outbox) { const c = byChannel.get(o.channel) || { pending: 0, retrying: 0, failed: 0 }; if (o.status === "failed") c.failed++; else { c.pending++; if (o.attempts > 0) c.retrying++; } byChannel.set(o.channel, c); }
    fill("outbox", [...byChannel].sort().map(([ch, c]) => row([cell(ch), cell(c.pending, "n"), cell(c.retrying, "n"), cell(c.failed, "n")])), "nothing waiting");
    $("#status").textContent = findings.length + " of " + data.findings.length + " findings · " + new Date().toLocaleTimeString();
    $("#status").className = "muted";
  }

  async function load() {
    try {
      const status = $("#status-filter").value;
      const [findings, runs, outbox] = await Promise.all([allFindings(status), api("/v1/runs?limit=30"), api("/v1/outbox?status=pending,failed&limit=1000")]);
      data = { findings, runs: runs.runs, outbox: outbox.outbox };
      render();
    } catch (e) {
      $("#status").textContent = e.message; $("#status").className = "err";
    }
  }
  $("#filter").addEventListener("input", render);
  $("#status-filter").addEventListener("change", load);
  tokenInput.addEventListener("change", () => { localStorage.setItem("iamwarden-token", tokenInput.value); load(); });
  load();
  setInterval(load, 30000);
})();
`;
