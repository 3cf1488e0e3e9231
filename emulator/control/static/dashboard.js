// The hvsim dashboard: polls the control API's JSON routes and redraws. No framework, no
// build step. Every value a client sent (user names, targets, messages) is written as text,
// never as HTML.
"use strict";

const CLUSTER_MS = 1000;
const REQUESTS_MS = 2000;
const CONFORMANCE_MS = 10000;
// The report is built over the whole log: ask again only for new requests, and not too often.
const CONFORMANCE_GAP_MS = 4000;
const FAULTS_MS = 5000;
const REQUEST_ROWS = 200;
const SLOW_FACTOR = 10;
// A finished migration keeps its full bar this long before it joins "Recently finished".
const KEEP_FINISHED_BAR_S = 20;
const CIM_STATUS = {
  1: "CIM_ERR_FAILED", 2: "CIM_ERR_ACCESS_DENIED", 3: "CIM_ERR_INVALID_NAMESPACE",
  4: "CIM_ERR_INVALID_PARAMETER", 5: "CIM_ERR_INVALID_CLASS", 6: "CIM_ERR_NOT_FOUND",
  7: "CIM_ERR_NOT_SUPPORTED", 8: "CIM_ERR_CLASS_HAS_CHILDREN",
  9: "CIM_ERR_CLASS_HAS_INSTANCES", 10: "CIM_ERR_INVALID_SUPERCLASS",
  11: "CIM_ERR_ALREADY_EXISTS", 12: "CIM_ERR_NO_SUCH_PROPERTY", 13: "CIM_ERR_TYPE_MISMATCH",
  14: "CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED", 15: "CIM_ERR_INVALID_QUERY",
  16: "CIM_ERR_METHOD_NOT_AVAILABLE", 17: "CIM_ERR_METHOD_NOT_FOUND",
  20: "CIM_ERR_NAMESPACE_NOT_EMPTY", 21: "CIM_ERR_INVALID_ENUMERATION_CONTEXT",
  22: "CIM_ERR_INVALID_OPERATION_TIMEOUT", 23: "CIM_ERR_PULL_HAS_BEEN_ABANDONED",
  24: "CIM_ERR_PULL_CANNOT_BE_ABANDONED", 25: "CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED",
  26: "CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED", 27: "CIM_ERR_SERVER_LIMITS_EXCEEDED",
  28: "CIM_ERR_SERVER_IS_SHUTTING_DOWN",
};
const VM_STATE_CLASS = {
  Running: "ok", Off: "info", Saved: "warn", Paused: "warn", Starting: "busy",
  Stopping: "busy", Saving: "busy", Pausing: "busy", Resuming: "busy", Resetting: "busy",
};
const OUTCOME_CLASS = { completed: "ok", failed: "bad", cancelled: "warn", killed: "warn" };

const state = {
  vmHosts: new Map(), requestErrors: [], failedJobs: [],
  newestRecord: null, reportedRecord: undefined, reportedAt: 0,
};

// -------------------------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function replaceChildren(id, nodes, emptyText) {
  const box = document.getElementById(id);
  box.replaceChildren(...(nodes.length ? nodes : [el("p", { class: "empty", text: emptyText })]));
}

function setCount(id, count) {
  document.getElementById(id).textContent = count ? String(count) : "";
}

function clock(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

function ago(seconds, now) {
  const delta = Math.max(0, Math.round(now - seconds));
  if (delta < 60) return `${delta} s ago`;
  if (delta < 3600) return `${Math.floor(delta / 60)} min ago`;
  return clock(seconds);
}

async function getJson(path) {
  const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    const error = new Error(`${path}: ${response.status} ${detail}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// Runs `task` every `ms`, or less often when it is slow: a large cluster's snapshot costs the
// server real work, and an open dashboard must not take a core from the clients under test.
function every(ms, task) {
  const run = async () => {
    const started = performance.now();
    try { await task(); } finally {
      setTimeout(run, Math.max(ms, SLOW_FACTOR * (performance.now() - started)));
    }
  };
  run();
}

function showProblem(text) {
  const banner = document.getElementById("banner");
  banner.hidden = !text;
  banner.textContent = text || "";
}

function setLive(ok) {
  const live = document.getElementById("live");
  live.classList.toggle("ok", ok);
  live.classList.toggle("down", !ok);
  document.getElementById("live-text").textContent = ok
    ? `live · updated ${clock(Date.now() / 1000)}`
    : "not reachable, retrying…";
}

// -------------------------------------------------------------------------------- cluster

function movingJobs(jobs) {
  const byVm = new Map();
  for (const job of jobs) {
    if (job.migration && job.running && job.vm) byVm.set(job.vm, job);
  }
  return byVm;
}

function renderHosts(cluster) {
  const moving = movingJobs(cluster.jobs);
  const cards = cluster.hosts.map((host) => {
    const running = host.vms.filter((vm) => vm.state_name === "Running").length;
    const rows = host.vms.map((vm) => {
      const job = moving.get(vm.name);
      const previous = state.vmHosts.get(vm.guid);
      const arrived = previous !== undefined && previous !== host.name;
      state.vmHosts.set(vm.guid, host.name);
      const note = job
        ? el("span", { class: "moving-note",
                       text: job.destination ? `→ ${job.destination} ${job.percent}%`
                                             : `moving storage ${job.percent}%` })
        : null;
      return el("li", { class: `vm${job ? " moving" : ""}${arrived ? " arrived" : ""}`,
                        "data-vm": vm.name, "data-host": host.name, title: vm.guid },
        el("span", { class: "vm-name", text: vm.name }),
        note,
        el("span", { class: `badge ${VM_STATE_CLASS[vm.state_name] || "info"}`,
                     text: vm.state_name }));
    });
    return el("div", { class: "host", "data-host": host.name },
      el("div", { class: "host-head" },
        el("span", { class: "host-name", text: host.name }),
        el("span", { class: "host-meta",
                     text: `${host.vms.length} VM${host.vms.length === 1 ? "" : "s"} · ` +
                           `${running} running` })),
      host.vms.length ? el("ul", { class: "vms" }, rows)
                      : el("p", { class: "empty", style: "padding: 8px 12px",
                                  text: "No virtual machines." }));
  });
  replaceChildren("hosts", cards, "No hosts.");
}

function jobName(job) {
  return job.vm || job.description || job.instance_id;
}

function route(job) {
  const kind = job.migration_type ? `${job.migration_type} migration` : job.description;
  const where = job.destination ? `${job.host} → ${job.destination}` : job.host;
  return `${kind} · ${where}`;
}

function progressBar(job) {
  const kind = job.outcome === "completed" ? " done" : (job.running ? "" : " failed");
  return el("div", { class: `progress${kind}`, role: "progressbar", "aria-valuemin": 0,
                     "aria-valuemax": 100, "aria-valuenow": job.percent },
    el("div", { class: "bar", style: `width: ${job.percent}%` }),
    el("div", { class: "label", text: `${job.percent} %` }));
}

function renderJobs(cluster) {
  const now = cluster.time;
  const justFinished = (job) => !job.running && job.since && now - job.since < KEEP_FINISHED_BAR_S;
  const inFlight = cluster.jobs.filter((job) => job.running && job.job_state !== 2);
  const queued = cluster.jobs.filter((job) => job.job_state === 2);
  // Migrations get the big bars; a VM's start or save is a running job too, shown smaller.
  const big = cluster.jobs.filter((job) => job.migration && job.job_state !== 2 &&
                                           (job.running || justFinished(job)));
  const small = inFlight.filter((job) => !job.migration);
  const finished = cluster.jobs.filter((job) => !job.running && !big.includes(job))
    .reverse().slice(0, 8);
  replaceChildren("migrations", [
    ...big.map((job) => el("div", { class: "job", "data-job": job.instance_id,
                                    "data-vm": job.vm },
      el("div", { class: "job-title" },
        el("strong", { text: jobName(job) }),
        el("span", { class: `badge ${job.running ? "busy" : OUTCOME_CLASS[job.outcome] || "info"}`,
                     text: job.state_name })),
      el("div", { class: "job-route", text: route(job) }),
      progressBar(job),
      el("div", { class: job.error ? "job-phase msg" : "job-phase",
                  text: job.error || job.status }))),
    ...small.map((job) => el("div", { class: "job-small", "data-job": job.instance_id },
      el("span", { class: "what", text: `${job.description} · ${job.host}` }),
      el("span", { class: "badge busy", text: `${job.percent} %` }))),
  ], "No migration is running.");
  const running = big.filter((job) => job.running).length;
  document.getElementById("migrations-count").textContent = running ? `${running} running` : "";
  replaceChildren("queued", queued.map((job) => el("div", { class: "job-small",
                                                            "data-job": job.instance_id },
    el("span", { class: "what", text: `${jobName(job)} · ${route(job)}` }),
    el("span", { class: "badge info", text: `queued ${ago(job.submitted, now)}` }))),
    "Nothing waits for a migration slot.");
  setCount("queued-count", queued.length);
  replaceChildren("finished", finished.map((job) => el("div", { class: "job-small",
                                                                "data-job": job.instance_id },
    el("span", { class: "what", text: `${jobName(job)} · ${route(job)}` }),
    el("span", { class: `badge ${OUTCOME_CLASS[job.outcome] || "info"}`,
                 text: job.outcome === "completed" ? "completed" :
                       `${job.outcome}${job.error_code ? ` (${job.error_code})` : ""}` }))),
    big.some((job) => !job.running) ? "Nothing else finished in the last 5 minutes."
                                    : "No job has finished in the last 5 minutes.");
  state.failedJobs = cluster.jobs.filter((job) => job.outcome === "failed").map((job) => ({
    time: job.submitted, title: `${jobName(job)}: ${route(job)} failed`,
    message: job.error || job.status,
  }));
}

async function pollCluster() {
  try {
    const cluster = await getJson("cluster");
    renderHosts(cluster);
    renderJobs(cluster);
    renderErrors();
    setLive(true);
    showProblem("");
  } catch (error) {
    setLive(false);
    showProblem(`The cluster cannot be read: ${error.message}`);
  }
}

// ------------------------------------------------------------------------------- requests

function outcomeOf(record) {
  if (record.http_status === null) return { text: "client went away", bad: true };
  if (record.fault_subcode) return { text: record.fault_subcode, bad: true };
  if (record.cim_status) {
    return { text: CIM_STATUS[record.cim_status] || `CIM status ${record.cim_status}`,
             bad: true };
  }
  if (record.http_status >= 400) return { text: `HTTP ${record.http_status}`, bad: true };
  if (record.return_value !== null && record.return_value !== undefined) {
    if (record.return_value === "4096") return { text: "job started (4096)", bad: false };
    return { text: `returned ${record.return_value}`, bad: record.return_value !== "0" };
  }
  return { text: "OK", bad: false };
}

function requestFilters() {
  const form = document.getElementById("request-filters");
  return {
    client: form.client.value.trim(),
    operation: form.operation.value.trim().toLowerCase(),
    protocol: form.protocol.value,
    errors: form.errors.checked,
    paused: form.paused.checked,
  };
}

function renderRequests(records, filters) {
  const rows = [];
  for (const record of records.slice().reverse()) {
    const outcome = outcomeOf(record);
    if (filters.errors && !outcome.bad) continue;
    if (filters.protocol && record.protocol !== filters.protocol) continue;
    if (filters.operation && !(record.operation || "").toLowerCase().includes(filters.operation)) {
      continue;
    }
    const who = [record.user, record.client].filter(Boolean).join(" @ ");
    rows.push(el("tr", { class: outcome.bad ? "error" : null, title: record.message || null },
      el("td", { class: "time", text: clock(record.time) }),
      el("td", { text: record.protocol }),
      el("td", { text: record.host }),
      el("td", { text: who, title: record.user_agent || null }),
      el("td", { text: record.operation || "" }),
      el("td", { class: "target", text: record.target || record.query || "",
                 title: [record.namespace, record.target, record.keys, record.query]
                   .filter(Boolean).join("\n") || null }),
      el("td", {}, el("span", { class: `badge ${outcome.bad ? "bad" : "ok"}`,
                                text: outcome.text })),
      el("td", { class: "num", text: record.duration_ms.toFixed(1) })));
  }
  const body = document.getElementById("requests");
  body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", {
    colspan: 8, class: "empty", text: "No request matches." }))]));
}

async function pollRequests() {
  const filters = requestFilters();
  if (filters.paused) return;
  const query = new URLSearchParams({ limit: String(REQUEST_ROWS) });
  if (filters.client) query.set("client", filters.client);
  const note = document.getElementById("requests-note");
  try {
    const log = await getJson(`requests?${query}`);
    renderRequests(log.records, filters);
    const newest = log.records.length ? log.records[log.records.length - 1].id : null;
    if (newest !== state.newestRecord) {
      state.newestRecord = newest;
      pollConformance(false);  // new requests may bring findings: do not wait for the timer
    }
    note.textContent = `The newest ${REQUEST_ROWS} requests at most` +
      (filters.client ? ` of ${filters.client}` : "") + `, newest first · ${log.path}` +
      (log.dropped ? ` · ${log.dropped} records dropped` : "");
    if (!filters.client) {
      state.requestErrors = log.records.filter((r) => outcomeOf(r).bad).map((r) => ({
        time: r.time, title: `${r.operation || "request"} ${r.target || ""} from ` +
          `${r.user || r.client || "?"} on ${r.host}: ${outcomeOf(r).text}`,
        message: r.message,
      }));
      renderErrors();
    }
  } catch (error) {
    if (error.status === 404) {
      document.getElementById("requests").replaceChildren();
      note.textContent = "The request log is off (hvsim serve --request-log off).";
    } else {
      note.textContent = `The request log cannot be read: ${error.message}`;
    }
  }
}

function renderErrors() {
  const now = Date.now() / 1000;
  const items = [...state.failedJobs, ...state.requestErrors]
    .sort((a, b) => (b.time || 0) - (a.time || 0)).slice(0, 12);
  replaceChildren("errors", items.map((item) => el("div", { class: "error-item" },
    el("div", { class: "when", text: item.time ? ago(item.time, now) : "" }),
    el("div", { text: item.title }),
    item.message ? el("div", { class: "msg", text: item.message }) : null)), "No errors.");
  setCount("errors-count", items.length);
}

// ---------------------------------------------------------------------------- conformance

function renderConformance(report) {
  const summary = report.summary || {};
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  document.getElementById("conformance-summary").textContent =
    `${plural(summary.error || 0, "error")} · ${plural(summary.warning || 0, "warning")} · ` +
    `${summary.info || 0} info`;
  const openNow = new Set([...document.querySelectorAll("#conformance details[open]")]
    .map((node) => node.dataset.session));
  const sessions = report.sessions.slice().reverse().map((session) => {
    const counts = {};
    for (const finding of session.findings) {
      counts[finding.severity] = (counts[finding.severity] || 0) + 1;
    }
    const badges = ["error", "warning", "info"].filter((s) => counts[s]).map((s) => el("span", {
      class: `badge ${s === "error" ? "bad" : s === "warning" ? "warn" : "info"}`,
      text: `${counts[s]} ${s}${counts[s] === 1 ? "" : "s"}` }));
    const findings = session.findings.map((finding) => el("div", { class: "finding" },
      el("div", {},
        el("span", { class: `badge ${finding.severity === "error" ? "bad" :
                     finding.severity === "warning" ? "warn" : "info"}`,
                     text: finding.severity }), " ",
        el("span", { class: "rule", text: finding.rule }), " ",
        el("span", { text: finding.summary })),
      el("div", { class: "fix", text: `Fix: ${finding.fix}` }),
      el("div", { class: "evidence",
                  text: `Evidence: ${finding.evidence.length} request(s), first ` +
                        (finding.evidence[0] ? `#${finding.evidence[0].id} ` +
                         finding.evidence[0].summary : "") })));
    return el("details", { class: "session", "data-session": session.session,
                           open: openNow.has(session.session) || null },
      el("summary", {},
        el("span", { class: "who", text: session.session }),
        el("span", { class: "host-meta", text: `${session.requests} requests` }),
        badges.length ? badges : el("span", { class: "badge ok", text: "no findings" })),
      findings.length ? findings : el("div", { class: "clean",
                                               text: "Nothing to report for this client." }));
  });
  replaceChildren("conformance", sessions, report.requests
    ? "No client session in the log." : "No client has sent a request yet.");
}

async function pollConformance(force) {
  if (!force && (state.reportedRecord === state.newestRecord ||
                 Date.now() - state.reportedAt < CONFORMANCE_GAP_MS)) {
    return;
  }
  state.reportedRecord = state.newestRecord;
  state.reportedAt = Date.now();
  try {
    renderConformance(await getJson("conformance"));
  } catch (error) {
    document.getElementById("conformance-summary").textContent = "";
    replaceChildren("conformance", [], error.status === 404
      ? "The request log is off, so there is no report." : `Unavailable: ${error.message}`);
  }
}

// --------------------------------------------------------------------------------- faults

// Bookkeeping a rule carries besides what it matches and does.
const FAULT_BOOKKEEPING = new Set(["id", "origin", "created_at", "expires_at", "matched", "fired"]);

function faultItem(rule) {
  if (typeof rule !== "object" || rule === null) {
    return el("div", { class: "error-item" }, el("div", { text: String(rule) }));
  }
  const what = Object.entries(rule)
    .filter(([k, v]) => !FAULT_BOOKKEEPING.has(k) && v !== null && v !== "")
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
  const counts = [rule.matched !== undefined ? `matched ${rule.matched}` : null,
                  rule.fired !== undefined ? `fired ${rule.fired}` : null,
                  rule.expires_at ? `until ${new Date(rule.expires_at).toLocaleTimeString()}` : null]
    .filter(Boolean).join(" · ");
  return el("div", { class: "error-item", "data-fault": rule.id },
    el("div", { class: "when", text: `rule ${rule.id ?? ""}${rule.origin ? ` (${rule.origin})` : ""}` }),
    el("div", { text: what }),
    counts ? el("div", { class: "when", text: counts }) : null);
}

async function pollFaults() {
  const panel = document.getElementById("faults-panel");
  try {
    const answer = await getJson("faults");
    const rules = Array.isArray(answer) ? answer : (answer.rules || answer.faults || []);
    panel.hidden = false;
    replaceChildren("faults", rules.map(faultItem), "No fault rule is active.");
  } catch (_) {
    panel.hidden = true;  // this server has no fault injection
  }
}

// ------------------------------------------------------------------------------------ go

function start() {
  every(CLUSTER_MS, pollCluster);
  every(REQUESTS_MS, pollRequests);
  pollConformance(true);
  every(CONFORMANCE_MS, () => pollConformance(false));
  every(FAULTS_MS, pollFaults);
  const form = document.getElementById("request-filters");
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("change", () => pollRequests());
  getJson("server").then((server) => {
    const scale = server.time_scale === 1 ? "" : ` · time ×${server.time_scale}`;
    document.getElementById("cluster-title").textContent =
      `cluster ${server.cluster} · ${server.hosts.length} hosts${scale} · hvsim ${server.hvsim}`;
  }).catch(() => {});
}

start();
