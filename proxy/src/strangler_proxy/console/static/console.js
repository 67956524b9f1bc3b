// Strangler console: draws each page from the console's JSON API and polls it for live numbers.
// No framework, no CDN; every text goes in through textContent (never innerHTML), charts are inline SVG.
"use strict";

const BASE = "/console";
const COLORS = ["#1f9d6b", "#6b7a90", "#8e44ad", "#e0a030", "#2c7be5"];
let csrf = null;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

async function api(path) {
  const r = await fetch(`${BASE}/api/${path}`, { cache: "no-store", credentials: "same-origin" });
  if (r.status === 401) { location.href = `${BASE}/login`; throw new Error("logged out"); }
  return [r.status, await r.json()];
}

async function post(path, body) {
  const r = await fetch(`${BASE}/${path}`, {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body),
  });
  return [r.status, await r.json()];
}

const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);
const secs = (x) => (x === null || x === undefined ? "–" : x < 120 ? `${x.toFixed(1)} s` : `${Math.round(x / 60)} min`);
const stageText = (r) => (r.stage === "canary" ? `canary ${r.percent}%` : r.stage);
const routeHref = (r) => `${BASE}/route?path=${encodeURIComponent(r.path)}${r.methods ? `&methods=${r.methods.join(",")}` : ""}`;
const stickyText = (s) => (s.kind === "client" ? "client" : `${s.kind}:${s.name}`);

function poll(fn, ms) {
  let timer = null;
  const tick = async () => {
    try { await fn(); } catch (e) { console.error(e); }
    timer = setTimeout(tick, ms);
  };
  tick();
  return () => clearTimeout(timer);
}

function trafficBar(t) {
  const bar = h("div", { class: "bar", title: `monolith ${pct(t.monolith)}, service ${pct(t.service)}, fallback ${pct(t.fallback)}` });
  for (const [cls, share] of [["m", t.monolith], ["s", t.service], ["f", t.fallback]]) {
    const span = h("span", { class: cls });
    span.style.width = `${share * 100}%`;
    bar.append(span);
  }
  return bar;
}

function dataCells(d) {
  if (!d) return [h("td", { class: "muted" }, "no report"), h("td", {}, "–"), h("td", {}, "–")];
  const verify = d.verify_clean === true ? "clean" : d.verify_clean === false ? "differs" : "never";
  return [
    h("td", {}, d.owner, h("span", { class: "muted" }, ` (${d.phase})`)),
    h("td", {}, secs(d.lag_seconds)),
    h("td", { class: d.verify_clean === false ? "error" : "" }, `${verify}, ${secs(d.verified_age_s)} ago`),
  ];
}

// ---- overview ------------------------------------------------------------------------------------------------
async function overview(main) {
  const head = h("p", { class: "muted", id: "version" });
  const body = h("tbody", { id: "routes" });
  main.replaceChildren(
    h("h1", {}, "Routes"), head,
    h("table", {}, h("thead", {}, h("tr", {}, ["Route", "Service", "Stage", "Data", "Owner", "Lag", "Last verify",
      "Traffic (10 s)", "req/s", "5xx", "Net diff rate"].map((t) => h("th", {}, t)))), body),
    h("p", { class: "legend muted" }, legend([["monolith", "var(--mono)"], ["service", "var(--svc)"], ["fallback", "var(--fb)"]])),
  );
  return poll(async () => {
    const [, o] = await api("overview");
    head.textContent = `Route table version ${o.version}: ${o.reason || ""} (${o.author || ""}, ${o.changed_at || ""})`;
    body.replaceChildren(...o.routes.map((r) => h("tr", { "data-route": r.label },
      h("td", {}, h("a", { href: routeHref(r), class: "row" }, r.label)),
      h("td", {}, r.service),
      h("td", {}, h("span", { class: `stage ${r.stage}` }, stageText(r)), r.held ? h("span", { class: "error" }, ` ${r.held} held`) : null),
      h("td", {}, r.data || h("span", { class: "muted" }, "none")),
      ...dataCells(r.data_state),
      h("td", {}, trafficBar(r.traffic)),
      h("td", { class: "rps" }, r.traffic.rps.toFixed(1)),
      h("td", {}, pct(r.traffic.errors)),
      h("td", {}, r.compared ? pct(r.net_diff_rate) : "–"),
    )));
    if (!o.routes.length) body.append(h("tr", {}, h("td", { colspan: 11, class: "muted" }, "No routes yet: everything goes to the monolith.")));
  }, 1000);
}

function legend(items) {
  return items.map(([name, color]) => { const i = h("i"); i.style.background = color; return h("span", {}, i, name); });
}

// ---- route page ----------------------------------------------------------------------------------------------
function chart(title, series, step, unit) {
  const W = 300, H = 100, names = Object.keys(series);
  const values = names.flatMap((n) => series[n].filter((v) => v !== null));
  const max = Math.max(1e-9, ...values) * 1.1;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  names.forEach((name, k) => {
    const pts = series[name];
    const dx = W / Math.max(1, pts.length - 1);
    let d = "";
    pts.forEach((v, i) => { if (v === null) return; d += `${d && pts[i - 1] !== null ? "L" : "M"}${(i * dx).toFixed(1)},${(H - (v / max) * H).toFixed(1)}`; });
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d || "M0,0");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", COLORS[k % COLORS.length]);
    path.setAttribute("stroke-width", "2");
    path.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(path);
  });
  const last = names.map((n) => { const v = series[n].filter((x) => x !== null).pop(); return `${n} ${v === undefined ? "–" : unit(v)}`; });
  return h("div", { class: "chart" }, h("div", { class: "title" }, `${title} (max ${unit(max / 1.1)}, ${step}s steps)`), svg,
    h("div", { class: "legend" }, legend(names.map((n, k) => [n, COLORS[k % COLORS.length]]))), h("div", { class: "muted" }, last.join(" · ")));
}

async function routePage(main) {
  const q = new URLSearchParams(location.search);
  const query = `path=${encodeURIComponent(q.get("path") || "")}${q.get("methods") ? `&methods=${encodeURIComponent(q.get("methods"))}` : ""}`;
  const title = h("h1", {}, q.get("path"));
  const summary = h("p", { id: "summary" });
  const charts = h("div", { class: "charts", id: "charts" });
  const compare = h("div", { class: "panel", id: "compare" });
  const gate = h("div", { class: "panel", id: "gate" });
  const history = h("tbody", { id: "history" });
  const forbidden = h("div", { id: "forbidden" });
  const stage = h("select", { id: "stage", name: "stage" });
  const percent = h("input", { id: "percent", type: "number", min: 0, max: 100, step: 1 });
  const sticky = h("input", { id: "sticky", placeholder: "client, cookie:NAME or header:NAME" });
  const reason = h("textarea", { id: "reason", placeholder: "Why (kept in the audit log)" });
  const result = h("div", { id: "result" });
  let state = null;
  const form = h("div", { class: "panel" },
    h("label", {}, "Stage ", stage), h("label", {}, "Canary percent ", percent), h("label", {}, "Sticky key ", sticky),
    h("label", {}, "Reason ", reason),
    h("button", { id: "review", type: "button", onclick: () => review() }, "Review change"), forbidden, result);
  main.replaceChildren(title, summary, h("h2", {}, "Traffic, last 5 minutes"), charts,
    h("h2", {}, "Comparison"), compare, h("h2", {}, "Gate"), gate, h("h2", {}, "Change this route"), form,
    h("h2", {}, "Version history"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Version", "When", "Who", "Why", "What changed", ""].map((t) => h("th", {}, t)))), history));

  function fieldsWanted() {
    const r = state.route, fields = {};
    if (stage.value !== r.stage) fields.stage = stage.value;
    if (stage.value === "canary" && Number(percent.value) !== r.percent) fields.percent = Number(percent.value);
    if (sticky.value.trim() && sticky.value.trim() !== stickyText(r.sticky)) fields.sticky = sticky.value.trim();
    return fields;
  }

  async function review(toVersion) {
    result.replaceChildren();
    const change = toVersion ? { to_version: toVersion } : { path: state.route.path, methods: state.route.methods, fields: fieldsWanted() };
    if (!toVersion && !Object.keys(change.fields).length) { result.append(h("p", { class: "error" }, "Nothing to change.")); return; }
    if (!reason.value.trim()) { result.append(h("p", { class: "error" }, "Say why: the reason goes into the audit log.")); return; }
    change.expected_version = state.version;
    const [status, preview] = await post("api/preview", change);
    if (status !== 200) { result.append(refusal(preview)); return; }
    confirmDialog(preview.diff, async () => {
      const [s, done] = await post("api/change", { ...change, reason: reason.value.trim() });
      if (s !== 200) { result.replaceChildren(refusal(done)); return; }
      result.replaceChildren(h("p", { class: "ok", id: "applied" }, `Version ${done.version}: ${done.diff.join("; ") || "no change"}`));
      reason.value = "";
      await refresh(true);
    });
  }

  async function refresh(resetForm) {
    const [status, r] = await api(`route?${query}`);
    if (status !== 200) { summary.textContent = r.detail; return; }
    const first = state === null;
    state = r;
    const route = r.route;
    title.textContent = route.label;
    summary.replaceChildren(h("span", { class: `stage ${route.stage}` }, stageText(route)), ` → ${route.service}`,
      ` · sticky ${stickyText(route.sticky)} · data ${route.data || "none"}`,
      r.data_state ? ` · owner ${r.data_state.owner}, lag ${secs(r.data_state.lag_seconds)}` : "",
      ` · ${r.traffic.rps.toFixed(1)} req/s now `, trafficBar(r.traffic));
    const s = r.series, ups = s.upstreams;
    const pick = (k) => Object.fromEntries(Object.entries(ups).map(([u, rows]) => [u, rows[k]]));
    charts.replaceChildren(chart("requests/s", pick("rate"), s.step, (v) => v.toFixed(1)),
      chart("error rate (5xx)", pick("error_rate"), s.step, pct), chart("p50 latency", pick("p50_ms"), s.step, (v) => `${v.toFixed(1)} ms`),
      chart("p99 latency", pick("p99_ms"), s.step, (v) => `${v.toFixed(1)} ms`));
    const c = r.compare;
    compare.replaceChildren(h("p", {}, `Compared ${c.compared}, net differences ${c.net_diffs} (diff rate ${pct(c.net_diff_rate)}), noise samples ${c.noise_samples}. `,
      h("a", { href: `${BASE}/diffs?route=${encodeURIComponent(route.label)}` }, "Open the diffs")),
      c.fields.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Field", "raw", "noise", "net", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, c.fields.map((f) => h("tr", {}, h("td", {}, h("code", {}, f.field)), h("td", {}, f.raw), h("td", {}, f.noise), h("td", {}, f.net), h("td", { class: "muted" }, f.is_noise ? "noise" : ""))))) : h("p", { class: "muted" }, "No differing fields."));
    const g = r.gate;
    gate.replaceChildren(h("p", {}, g.gate ? `Rolls back one stage when, over the last ${g.gate_window} compared requests (at least ${g.gate_min_samples}), the net diff rate > ${pct(g.gate_max_diff_rate)}, the service's 5xx rate > ${pct(g.gate_max_5xx_rate)} or its p99 > ${g.gate_max_p99_ratio}× the monolith's.` : "The gate is off for this route."),
      r.firings.length ? h("ul", {}, r.firings.map((f) => h("li", {}, `${f.at}: ${f.outcome} (${f.stage}, ${f.samples} samples) ${f.reasons.join("; ")} ${f.detail || ""}`))) : h("p", { class: "muted" }, "Never fired."));
    history.replaceChildren(...r.history.map((v) => h("tr", {}, h("td", {}, v.version), h("td", {}, v.created_at), h("td", {}, v.author), h("td", {}, v.reason),
      h("td", {}, h("pre", {}, v.summary)),
      h("td", {}, v.version === r.version ? h("span", { class: "muted" }, "current") : h("button", { type: "button", "data-version": v.version, onclick: () => review(v.version) }, "Roll back to this")))));
    const selected = stage.value;
    stage.replaceChildren(...r.stages.map((o) => h("option", { value: o.stage, disabled: !o.allowed }, o.allowed ? o.stage : `${o.stage} (refused)`)));
    stage.value = first || resetForm || !selected ? route.stage : selected;
    if (first || resetForm) { percent.value = route.percent; sticky.value = stickyText(route.sticky); }
    forbidden.replaceChildren(...r.stages.filter((o) => !o.allowed).map((o) => h("div", { class: "forbidden", "data-stage": o.stage },
      h("b", {}, `${o.stage} is refused: `), o.reason, o.unlock.length ? h("div", {}, "Unlock with: ", o.unlock.map((cmd) => h("code", {}, cmd, " "))) : null)));
  }
  return poll(() => refresh(false), 2000);
}

function refusal(answer) {
  return h("div", { class: "forbidden", id: "refusal" }, h("b", {}, `${answer.error || "refused"}: `), answer.detail || "",
    (answer.unlock || []).length ? h("div", {}, "Unlock with: ", answer.unlock.map((cmd) => h("code", {}, cmd, " "))) : null);
}

function confirmDialog(diff, apply) {
  const dialog = document.getElementById("confirm");
  dialog.replaceChildren(h("h2", {}, "Apply this change to the route table?"), h("pre", { id: "diff" }, diff.join("\n") || "(no change)"),
    h("button", { type: "button", id: "apply", onclick: async () => { dialog.close(); await apply(); } }, "Apply"), " ",
    h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"));
  dialog.showModal();
}

// ---- diffs ---------------------------------------------------------------------------------------------------
async function diffsPage(main) {
  const route = new URLSearchParams(location.search).get("route");
  const groups = h("tbody", { id: "groups" });
  const list = h("tbody", { id: "mismatches" });
  const detail = h("div", { id: "detail" });
  main.replaceChildren(h("h1", {}, route ? `Diffs on ${route}` : "Diffs"),
    h("h2", {}, "By endpoint and field path"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Route", "Endpoint", "Mismatches", "Differing fields"].map((t) => h("th", {}, t)))), groups),
    detail, h("h2", {}, "Newest mismatches"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Id", "When", "Route", "Request", "Status", "Fields"].map((t) => h("th", {}, t)))), list));
  const [, d] = await api(`diffs${route ? `?route=${encodeURIComponent(route)}` : ""}`);
  if (!d.enabled) { groups.append(h("tr", {}, h("td", { colspan: 4 }, "This proxy compares nothing (STRANGLER_COMPARE=0)."))); return null; }
  const open = (id) => showDiff(detail, id);
  groups.replaceChildren(...d.groups.map((g) => h("tr", {}, h("td", {}, g.route), h("td", {}, `${g.method} ${g.endpoint}`), h("td", {}, g.count),
    h("td", {}, g.fields.map((f) => h("div", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); open(f.ids[0]); } }, h("code", {}, f.field)), ` × ${f.count}`))))));
  list.replaceChildren(...d.mismatches.map((m) => h("tr", {}, h("td", {}, h("a", { href: "#", class: "mismatch", "data-id": m.id, onclick: (e) => { e.preventDefault(); open(m.id); } }, `#${m.id}`)),
    h("td", {}, m.created_at), h("td", {}, m.route), h("td", {}, `${m.method} ${m.target}`), h("td", {}, m.status), h("td", {}, m.fields.join(", ")))));
  if (!d.mismatches.length) list.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No mismatch stored.")));
  const wanted = new URLSearchParams(location.search).get("id");
  if (wanted) open(wanted);
  return null;
}

function jsonView(value, path, marked) {
  const hit = marked.has(path);
  let node;
  if (Array.isArray(value)) {
    node = h("span", {}, "[", value.length ? "\n" : "", value.map((v, i) => [h("span", {}, "  ", jsonView(v, `${path}[${i}]`, marked)), i < value.length - 1 ? ",\n" : "\n"]), "]");
  } else if (value && typeof value === "object") {
    const keys = Object.keys(value);
    node = h("span", {}, "{", keys.length ? "\n" : "", keys.map((k, i) => [`  ${JSON.stringify(k)}: `,
      jsonView(value[k], /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, marked), i < keys.length - 1 ? ",\n" : "\n"]), "}");
  } else {
    node = h("span", {}, JSON.stringify(value));
  }
  if (hit) node.className = "hl";
  return node;
}

function body(text, marked) {
  try { return jsonView(JSON.parse(text), "$", marked); } catch { return document.createTextNode(text); }
}

async function showDiff(detail, id) {
  const [status, d] = await api(`diff?id=${encodeURIComponent(id)}`);
  if (status !== 200) { detail.replaceChildren(h("p", { class: "error" }, d.detail)); return; }
  const rec = d.record, marked = new Set(d.paths);
  const curl = h("pre", { id: "curl", hidden: true }, d.curl);
  detail.replaceChildren(h("h2", { id: "diff-title" }, `Mismatch #${rec.id}: ${rec.request.method} ${rec.request.target}`),
    h("p", {}, `${rec.created_at} · route ${rec.route} · request id ${rec.request_id || "–"}`),
    h("ul", {}, rec.diffs.map((x) => h("li", {}, h("code", {}, x.path), ` ${x.kind}: ${JSON.stringify(x.expected)} → ${JSON.stringify(x.actual)}`, (rec.net_fields || []).includes(x.field) ? "" : h("span", { class: "muted" }, " (noise)")))),
    h("p", {}, h("button", { type: "button", id: "copy-curl", onclick: async () => { curl.hidden = false; try { await navigator.clipboard.writeText(d.curl); } catch { /* shown below instead */ } } }, "Copy as curl"), " ",
      h("a", { href: `${BASE}/api/diff/export?id=${rec.id}&format=pytest`, id: "export-pytest", download: `test_mismatch_${rec.id}.py` }, "Export as pytest")),
    curl,
    h("div", { class: "side" },
      h("div", {}, h("h2", {}, `monolith: ${rec.expected.status}`), h("pre", { id: "expected" }, body(rec.expected.body, marked))),
      h("div", {}, h("h2", {}, `service: ${rec.actual.status}`), h("pre", { id: "actual" }, body(rec.actual.body, marked)))));
}

// ---- cutover -------------------------------------------------------------------------------------------------
async function cutoverPage(main) {
  const states = h("tbody", { id: "states" });
  const holds = h("div", { id: "holds" });
  const runs = h("div", { id: "handovers" });
  main.replaceChildren(h("h1", {}, "Cutover"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Spec", "Routes", "Owner", "Lag", "Last verify", "Reported"].map((t) => h("th", {}, t)))), states),
    h("h2", {}, "Writes held now"), holds, h("h2", {}, "Handovers (as the proxy saw them)"), runs);
  return poll(async () => {
    const [, c] = await api("cutover");
    states.replaceChildren(...c.states.map((s) => h("tr", {}, h("td", {}, s.spec), h("td", {}, s.routes.join(", ")), ...dataCells(s), h("td", {}, `${secs(s.age_s)} ago`))));
    holds.replaceChildren(c.holds.length ? h("p", { class: "error", id: "held-now" }, `${c.held_now} request(s) held on ${c.holds.map((x) => `${x.path} (${x.holder || "operator"}, ${x.age_s.toFixed(1)} s)`).join(", ")}`)
      : h("p", { class: "muted" }, "No write is held."));
    runs.replaceChildren(...c.handovers.map((run) => h("div", { class: "panel handover" },
      h("b", {}, `${run.spec} ${run.op}`), ` ${run.running ? "running" : "done"} · ${run.duration_ms} ms · ${run.held} request(s) held · ${run.holder}`,
      h("ol", { class: "steps" }, run.steps.map((s) => h("li", {}, h("b", {}, s.step), `+${s.offset_ms} ms `, h("span", { class: "muted" }, s.detail)))))));
    if (!c.handovers.length) runs.append(h("p", { class: "muted" }, "No cutover or rollback since this proxy started."));
  }, 1000);
}

// ---- start ---------------------------------------------------------------------------------------------------
async function start() {
  const [, session] = await api("session");
  csrf = session.csrf;
  document.getElementById("who").textContent = session.name;
  document.getElementById("logout").addEventListener("click", async () => {
    await post("logout", {});
    location.href = `${BASE}/login`;
  });
  const main = document.getElementById("main");
  const page = location.pathname.slice(BASE.length);
  const pages = { "/": overview, "/route": routePage, "/diffs": diffsPage, "/cutover": cutoverPage };
  await (pages[page] || overview)(main);
}

start();
