// The explorer: GPU inventory with filters, sortable columns, cursor pages and CSV export,
// live totals, a chart of verified capacity, one search box, and hash-routed GPU (#/gpu/<key>)
// and provider (#/provider/<address>) views. Hashes and addresses carry a copy button and, where
// the API names a block explorer for its chain, a link to it.

import {
  api, badge, bytes, copyButton, fill, h, hexText, items, number, pick, query, s, say, time,
} from "/web/common.js";

const PAGE_SIZE = 25;
const PROVIDER_PAGE_SIZE = 50;
/** The inventory's default order, as the sort field's first option says. */
const DEFAULT_SORT = "-throughput";
const POLL_MS = 15000;
const GIB = 1024 ** 3;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- state

const state = {
  providerNames: new Map(), // address -> name, from /v1/providers
  filters: {},
  inventorySeq: 0,
  cursors: [null], // cursor of each page seen; the last one is the page shown
  nextCursor: null,
  providerPaging: null, // {address, cursors} of the provider page's GPU pager
  live: false,
  explorer: null, // {url, address, transaction} of the chain's block explorer, from /v1/config
  searchSeq: 0,
};

// ---------------------------------------------------------------- shared bits

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.textContent = `Could not load: ${error.message}`;
}

function asOf(data) {
  const block = pick(data, "as_of_block");
  if (block !== undefined) $("as-of").textContent = `as of block ${number(block)}`;
}

const gpuKeyOf = (g) => pick(g, "gpu_key", "key");
const providerOf = (g) => {
  const p = pick(g, "provider");
  return typeof p === "object" && p ? pick(p, "address") : p;
};
const regionOf = (g) => pick(g, "region") ?? pick(g.provider, "region") ?? "";
/** Replayed GPUs (dev chains only) attest a model id prefixed `sim:`; an API may also say so. */
const isSimulated = (g) => Boolean(pick(g, "simulated")) || String(pick(g, "model") ?? "").startsWith("sim:");
const verifiedOf = (g) => pick(g, "verified") ?? !pick(g, "revoked");

function statusBadges(gpu) {
  const out = [];
  const online = pick(gpu, "online");
  if (online === null) out.push(badge("liveness unknown", "warn"));
  else if (online !== undefined) out.push(badge(online ? "online" : "offline", online ? "ok" : "off"));
  if (online) {
    const available = pick(gpu, "available");
    if (available === true) out.push(badge("available", "ok"));
    else if (available === false) out.push(badge("busy", "warn"));
    const healthy = pick(gpu, "healthy");
    if (healthy === true) out.push(badge("healthy", "ok"));
    else if (healthy === false) out.push(badge("unhealthy", "bad"));
  }
  out.push(verifiedOf(gpu) ? badge("verified", "info") : badge("unverified", "warn"));
  if (pick(gpu, "revoked")) out.push(badge("revoked", "bad"));
  if (isSimulated(gpu)) out.push(badge("simulated", "sim"));
  return h("span", { class: "badges" }, out);
}

function throughputOf(gpu) {
  return pick(gpu, "throughput_gops", "throughput", "proven_int8_gops");
}

/** Memory in bytes (`memory_bytes`; an older `memory` field counted MiB). */
function memoryOf(gpu) {
  const b = pick(gpu, "memory_bytes");
  if (b !== undefined) return b;
  const mib = pick(gpu, "memory");
  return mib === undefined ? undefined : mib * 1024 * 1024;
}

const measuredOf = (g) => pick(g, "measured_at", "attested_at");

/** The measured figures of a GPU or attestation, by name. */
function figuresOf(g) {
  const given = pick(g, "benchmark", "figures");
  if (given && typeof given === "object") return given;
  const out = {};
  for (const [k, label] of [["throughput_gops", "proven int8 (GOPS)"], ["fp32_gflops", "FP32 (GFLOPS)"],
    ["fp16_gflops", "FP16 (GFLOPS)"], ["memory_bandwidth_gbps", "memory bandwidth (GB/s)"]]) {
    if (g[k] !== undefined) out[label] = g[k];
  }
  return out;
}

function throughputText(value) {
  return value === undefined ? "–" : `${number(value)} GOPS`;
}

/** A link to the block explorer's page of an address or a transaction (none configured: none). */
function explorerLink(kind, value) {
  const template = state.explorer && state.explorer[kind === "tx" ? "transaction" : "address"];
  if (!template || !value) return null;
  const href = template.replace(kind === "tx" ? "{hash}" : "{address}", encodeURIComponent(value));
  let host = "the block explorer";
  try {
    host = new URL(state.explorer.url).host;
  } catch {
    // keep the words
  }
  return h("a", { href, class: "ext", target: "_blank", rel: "noopener noreferrer nofollow",
    title: `View on ${host}`, "aria-label": `${shortText(value)} on ${host}`, "data-explorer": kind }, "↗");
}

const shortText = (v) => (String(v).length > 14 ? `${String(v).slice(0, 8)}…${String(v).slice(-4)}` : String(v));

/** `shown` (a shortened hash, a link) with a copy button for `value` and, for an address or a
 * transaction (`explore`: "address" or "tx"), a link to the block explorer. */
function withTools(shown, value, what, explore, wrap = false) {
  if (!value) return shown ?? "–";
  return h("span", { class: wrap ? "hexbox wrap" : "hexbox" }, shown,
    copyButton(value, what), explore ? explorerLink(explore, value) : null);
}

const addressText = (address, what = "address") => withTools(hexText(address), address, what, "address");

function providerLink(address, label) {
  if (!address) return "–";
  return withTools(h("a", { href: `#/provider/${address}` }, label ? label : hexText(address)),
    address, "provider address", "address");
}

function gpuLink(key) {
  return withTools(h("a", { href: `#/gpu/${key}`, class: "gpu-link" }, hexText(key, 10, 6)), key, "GPU key");
}

function txText(hash) {
  return hash ? withTools(hexText(hash, 10, 8), hash, "transaction hash", "tx") : "–";
}

// ---------------------------------------------------------------- totals

const HEADLINE = [
  ["online_gpus", "Online GPUs", number],
  ["gpus", "GPUs attested", number],
  ["verified_gpus", "Verified GPUs", number],
  ["online_throughput", "Online verified throughput", throughputText],
  ["online_memory", "Online memory", bytes],
  ["providers", "Providers", number],
];

function headlineValue(stats, key) {
  const aliases = {
    online_gpus: ["online_gpus", "gpus_online", "online"],
    gpus: ["gpus", "total_gpus", "gpu_count"],
    verified_gpus: ["verified_gpus", "gpus_verified", "verified"],
    online_throughput: ["online_throughput", "throughput_online", "verified_throughput"],
    online_memory: ["online_memory", "memory_online", "online_memory_bytes"],
    providers: ["providers", "active_providers", "provider_count"],
  };
  const value = pick(stats, ...aliases[key]);
  if (value && typeof value === "object") return pick(value, "total", "count", "active");
  return value;
}

const BUCKET_COLUMNS = [
  ["online_gpus", "online", number],
  ["online_throughput", "online GOPS", number],
  ["verified_gpus", "verified", number],
  ["gpus", "all", number],
];

/** Online capacity grouped by `keyName` (the API's buckets: {key, gpus, online_gpus, ...}). */
function breakdownTable(title, rows, keyName) {
  if (!Array.isArray(rows) || !rows.length) return null;
  const columns = BUCKET_COLUMNS.filter(([k]) => rows[0][k] !== undefined);
  const id = `bd-${keyName}`;
  const sorted = [...rows].sort((a, b) => (b.online_throughput ?? 0) - (a.online_throughput ?? 0));
  return h("section", { class: "breakdown", "aria-labelledby": id },
    h("h3", { id }, title),
    h("table", { class: "data compact", "data-breakdown": keyName },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, keyName),
        columns.map(([, label]) => h("th", { scope: "col", class: "num" }, label)))),
      h("tbody", {}, sorted.map((row) => h("tr", {},
        h("th", { scope: "row" }, pick(row, "key", keyName) || "(none)"),
        columns.map(([k, , format]) => h("td", { class: "num" }, format(row[k]))))))));
}

/** Fills a filter's choices with the values the inventory has (exact-match filters). */
function offerChoices(name, rows) {
  const select = $("filters").elements[name];
  if (!select || select.tagName !== "SELECT" || !Array.isArray(rows)) return;
  const chosen = select.value || state.filters[name] || "";
  const keys = rows.map((r) => pick(r, "key")).filter(Boolean).sort();
  if (chosen && !keys.includes(chosen)) keys.push(chosen);
  fill(select, h("option", { value: "" }, "any"), keys.map((k) => h("option", { value: k }, k)));
  select.value = chosen;
}

async function loadProviderNames() {
  const page = await api(`/v1/providers${query({ limit: 200 })}`);
  for (const p of items(page)) if (p.name) state.providerNames.set(p.address, p.name);
}

async function loadStats() {
  const [stats] = await Promise.all([api("/v1/stats"), loadProviderNames().catch(() => null)]);
  asOf(stats);
  fill($("headline"), HEADLINE.flatMap(([key, label, format]) => {
    const value = headlineValue(stats, key);
    if (value === undefined) return [];
    return [h("div", { class: "card" }, h("dt", {}, label), h("dd", { "data-stat": key }, format(value)))];
  }));
  const groups = [
    ["By model", pick(stats, "by_model", "models"), "model"],
    ["By vendor", pick(stats, "by_vendor", "vendors"), "vendor"],
    ["By region", pick(stats, "by_region", "regions"), "region"],
  ];
  fill($("breakdowns"), groups.map(([title, rows, key]) => breakdownTable(title, rows, key)));
  for (const [, rows, key] of groups) offerChoices(key, rows);
  return stats;
}

// ---------------------------------------------------------------- chart

/** Points {t, v} of verified capacity over time: online capacity per liveness epoch from
 * /v1/stats/history where the indexer recorded it, else a step series rebuilt from the current
 * attestations (each adds its throughput from its attestation time until it expires). */
async function capacitySeries() {
  let history = null;
  try {
    history = await api(`/v1/stats/history${query({ epochs: 500 })}`);
  } catch (_) {
    history = null; // an older API: rebuild below
  }
  const recorded = ((history && history.points) || []).filter(
    (p) => p.block_time && p.online_throughput !== null && p.online_throughput !== undefined,
  );
  if (recorded.length) {
    const points = recorded.map((p) => ({ t: Number(p.block_time), v: Number(p.online_throughput) }));
    const last = points[points.length - 1];
    points.push({ t: Math.max(Date.now() / 1000, last.t), v: last.v });
    const n = recorded.length;
    return { points, source: `online, per liveness epoch (${n} epoch${n === 1 ? "" : "s"})` };
  }
  const gpus = [];
  let cursor = null;
  for (let pages = 0; pages < 10; pages += 1) {
    const page = await api(`/v1/gpus${query({ limit: 200, cursor })}`);
    gpus.push(...items(page));
    cursor = pick(page, "next_cursor", "cursor");
    if (!cursor) break;
  }
  const now = Date.now() / 1000;
  const steps = [];
  for (const g of gpus) {
    if (pick(g, "revoked")) continue;
    const t = Number(measuredOf(g));
    const v = Number(throughputOf(g) || 0);
    if (!t) continue;
    steps.push({ t, d: v });
    const end = Number(pick(g, "expires_at"));
    if (end && end <= now) steps.push({ t: end, d: -v });
  }
  steps.sort((a, b) => a.t - b.t);
  const points = [];
  let total = 0;
  for (const step of steps) {
    total += step.d;
    const last = points[points.length - 1];
    if (last && last.t === step.t) last.v = total;
    else points.push({ t: step.t, v: total });
  }
  if (points.length) points.push({ t: Math.max(now, points[points.length - 1].t), v: total });
  return { points, source: `rebuilt from the attestations of ${gpus.length} GPUs` };
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

/** Axis labels for evenly spaced values, compact (1.5M) and with just the decimals each value
 * needs, so that no two read the same and none is rounded to a neighbour's figure. */
export function tickLabels(values) {
  const big = Math.max(...values.map(Math.abs)) >= 10_000;
  const formats = [0, 1, 2, 3, 4, 5, 6].map((digits) => new Intl.NumberFormat("en-US", {
    notation: big ? "compact" : "standard", maximumFractionDigits: digits,
  }));
  for (let d = 0; d < formats.length - 1; d += 1) {
    const labels = values.map((v) => formats[d].format(v));
    const exact = values.every((v, i) => formats[d + 1].format(v) === labels[i]);
    if (exact && new Set(labels).size === labels.length) return labels;
  }
  return values.map((v) => formats[formats.length - 1].format(v));
}

/** A step chart of {t, v} points as inline SVG. */
export function stepChart(points, { label, unit = "GOPS", width = 720, height = 240 } = {}) {
  const pad = { l: 64, r: 16, t: 12, b: 32 };
  const w = width - pad.l - pad.r;
  const ht = height - pad.t - pad.b;
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "step-chart",
    preserveAspectRatio: "xMidYMid meet",
  }, s("title", {}, label));
  if (!points.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, "no verified capacity yet"));
    return svg;
  }
  const t0 = points[0].t;
  const t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const vmax = niceMax(Math.max(...points.map((p) => p.v)));
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * w;
  const y = (v) => pad.t + ht - (v / vmax) * ht;
  const ticks = [0, 1, 2, 3, 4].map((i) => (vmax * i) / 4);
  const labels = tickLabels(ticks);
  ticks.forEach((v, i) => {
    svg.append(
      s("line", { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, labels[i]),
    );
  });
  const span = t1 - t0;
  for (let i = 0; i <= 3; i += 1) {
    const t = t0 + (span * i) / 3;
    const d = new Date(t * 1000).toISOString();
    let text = d.slice(11, span < 3600 ? 19 : 16);
    if (span > 2 * 86400) text = d.slice(0, 10);
    else if (i === 0) text += ` ${d.slice(5, 10)}`;
    svg.append(s("text", { x: x(t), y: height - 10, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle", class: "tick" }, text));
  }
  let d = `M${x(points[0].t)},${y(0)} L${x(points[0].t)},${y(points[0].v)}`;
  for (let i = 1; i < points.length; i += 1) {
    d += ` L${x(points[i].t)},${y(points[i - 1].v)} L${x(points[i].t)},${y(points[i].v)}`;
  }
  const area = `${d} L${x(points[points.length - 1].t)},${y(0)} Z`;
  svg.append(
    s("path", { d: area, class: "area" }),
    s("path", { d, class: "line" }),
    s("text", { x: pad.l + 4, y: pad.t + 12, class: "unit" }, unit),
  );
  return svg;
}

async function loadChart() {
  const { points, source } = await capacitySeries();
  const last = points.length ? points[points.length - 1].v : 0;
  fill($("chart"), stepChart(points, { label: `Verified capacity over time, now ${number(last)} GOPS` }));
  $("chart-caption").textContent = `Sum of oracle-verified throughput (GOPS), ${source}.`;
}

// ---------------------------------------------------------------- inventory table

function filtersFromForm() {
  const form = new FormData($("filters"));
  const f = {};
  for (const [k, v] of form.entries()) if (String(v).trim() !== "") f[k] = String(v).trim();
  return f;
}

/** The API's query parameters for the form's filters (memory is asked in GiB, sent in bytes). */
function apiParams(filters) {
  const p = { ...filters };
  if (!p.sort) p.sort = DEFAULT_SORT; // what the form's first option promises
  if (p.min_memory) p.min_memory = Math.round(Number(p.min_memory) * GIB);
  return p;
}

/** The CSV of the filter in view: a link the browser downloads (and streams) itself. */
function exportHref(filters) {
  const { limit: _limit, ...rest } = apiParams(filters);
  return `/v1/gpus${query({ ...rest, format: "csv" })}`;
}

/** The sort in effect: the one in the address, else the default. */
const sortOf = (filters) => filters.sort || DEFAULT_SORT;

/** Marks the sorted column (aria-sort and an arrow) among the sortable headers. */
function showSort(sort) {
  for (const th of $("gpus").tHead.querySelectorAll("th[data-sort]")) {
    const field = th.dataset.sort;
    const arrow = th.querySelector(".arrow");
    if (sort === field) {
      th.setAttribute("aria-sort", "ascending");
      arrow.textContent = "▲";
    } else if (sort === `-${field}`) {
      th.setAttribute("aria-sort", "descending");
      arrow.textContent = "▼";
    } else {
      th.removeAttribute("aria-sort");
      arrow.textContent = "↕";
    }
    th.classList.toggle("sorted", th.hasAttribute("aria-sort"));
  }
}

/** Sortable headers: a click orders by the column through the API's `sort` (a second click
 * reverses it); the sort lands in the address with the other filters. */
function initSortHeaders() {
  for (const th of $("gpus").tHead.querySelectorAll("th[data-sort]")) {
    const field = th.dataset.sort;
    const button = h("button", { type: "button", class: "sort" }, th.textContent.trim(),
      h("span", { class: "arrow", "aria-hidden": "true" }, "↕"));
    fill(th, button);
    button.addEventListener("click", () => {
      const current = sortOf(state.filters);
      let next;
      if (current === `-${field}`) next = field;
      else if (current === field) next = `-${field}`;
      else next = field === "gpu_key" ? field : `-${field}`; // figures: biggest first
      const filters = { ...state.filters, sort: next };
      if (next === DEFAULT_SORT) delete filters.sort;
      location.hash = `#/${query(filters)}`;
    });
  }
}

/** The inventory's header without its sort buttons (for another table of GPUs). */
function plainHead() {
  const head = $("gpus").tHead.cloneNode(true);
  for (const th of head.querySelectorAll("th[data-sort]")) {
    th.textContent = th.querySelector("button.sort")?.firstChild?.textContent ?? th.textContent;
    th.removeAttribute("aria-sort");
    th.removeAttribute("data-sort");
    th.classList.remove("sorted");
  }
  return head;
}

function gpuRow(g) {
  const key = gpuKeyOf(g);
  const provider = providerOf(g);
  const name = pick(g, "provider_name") ?? state.providerNames.get(provider);
  return h("tr", { "data-gpu": key },
    h("th", { scope: "row", class: "key" }, gpuLink(key)),
    h("td", {}, pick(g, "model") ?? "–"),
    h("td", {}, pick(g, "vendor") ?? "–"),
    h("td", { class: "num" }, bytes(memoryOf(g))),
    h("td", { class: "num" }, throughputText(throughputOf(g))),
    h("td", {}, regionOf(g) || "–"),
    h("td", {}, providerLink(provider, name)),
    h("td", {}, statusBadges(g)),
    h("td", {}, time(measuredOf(g))),
  );
}

async function loadInventory() {
  const cursor = state.cursors[state.cursors.length - 1];
  const size = Number(state.filters.limit) || PAGE_SIZE;
  const seq = ++state.inventorySeq; // a slower, older answer must not overwrite a newer one
  showSort(sortOf(state.filters));
  $("export").href = exportHref(state.filters);
  const page = await api(`/v1/gpus${query({ limit: size, ...apiParams(state.filters), cursor })}`);
  if (seq !== state.inventorySeq) return;
  asOf(page);
  const rows = items(page);
  const body = $("gpus").tBodies[0];
  fill(body, rows.length ? rows.map(gpuRow)
    : h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No GPU matches these filters.")));
  state.nextCursor = pick(page, "next_cursor") ?? null;
  const total = pick(page, "total");
  const n = state.cursors.length;
  // Beyond the exact-count limit the API estimates the total and says so (total_exact false).
  const about = page.total_exact === false ? "about " : "";
  $("count").textContent = total !== undefined
    ? `${about}${number(total)} GPU${total === 1 ? "" : "s"} match`
    : `${rows.length} GPU${rows.length === 1 ? "" : "s"} on this page`;
  $("page").textContent = `page ${n}${total !== undefined ? ` of ${about ? "about " : ""}${Math.max(1, Math.ceil(total / size))}` : ""}`;
  $("prev").disabled = n <= 1;
  $("next").disabled = !state.nextCursor;
}

function setFormFromFilters(filters) {
  const form = $("filters");
  for (const el of form.elements) {
    if (el.name) el.value = filters[el.name] ?? "";
  }
}

function initFilters() {
  const form = $("filters");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#/${query(filtersFromForm())}`;
  });
  form.addEventListener("reset", () => {
    setTimeout(() => {
      location.hash = "#/";
    });
  });
  $("next").addEventListener("click", () => {
    if (!state.nextCursor) return;
    state.cursors.push(state.nextCursor);
    loadInventory().catch(showError);
  });
  $("prev").addEventListener("click", () => {
    if (state.cursors.length <= 1) return;
    state.cursors.pop();
    loadInventory().catch(showError);
  });
}

// ---------------------------------------------------------------- detail views

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

function figuresTable(benchmark) {
  if (!benchmark || typeof benchmark !== "object" || !Object.keys(benchmark).length) return null;
  return h("table", { class: "data compact" },
    h("caption", {}, "Measured figures"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "figure"), h("th", { scope: "col", class: "num" }, "value"))),
    h("tbody", {}, Object.entries(benchmark).map(([k, v]) => h("tr", {},
      h("th", { scope: "row" }, k.replaceAll("_", " ")), h("td", { class: "num" }, typeof v === "number" ? number(v) : String(v))))));
}

function signersList(att) {
  const signers = pick(att, "signers", "oracle_signers", "oracles") || [];
  if (!signers.length) return "–";
  return h("ul", { class: "signers" }, signers.map((a) => h("li", {},
    addressText(typeof a === "object" ? pick(a, "address") : a, "oracle address"))));
}

const ratioText = (r) => (r === null || r === undefined ? "–" : `${(r * 100).toFixed(1)}%`);

/** One epoch's state, as a class name and words. */
function epochState(e) {
  if (!e.recorded) return ["missing", "missing (no liveness record)"];
  if (!e.online) return ["offline", "offline"];
  if (e.healthy === false) return ["unhealthy", `online, unhealthy${e.available === false ? ", busy" : ""}`];
  if (e.available === false) return ["busy", "online, busy"];
  return ["online", "online, available, healthy"];
}

/** The GPU's recent epochs, oldest left: one cell per epoch (online, busy, unhealthy, offline,
 * missing), each with its epoch and state in its title. */
function epochStrip(status) {
  const epochs = [...(pick(status, "epochs") || [])].reverse();
  if (!epochs.length) return h("p", { class: "muted" }, "No liveness epoch yet.");
  const counts = {};
  const cells = epochs.map((e) => {
    const [cls, words] = epochState(e);
    counts[cls] = (counts[cls] ?? 0) + 1;
    return h("span", { class: `epoch epoch-${cls}`, "data-epoch": e.epoch, "data-state": cls,
      title: `epoch ${e.epoch}: ${words}` });
  });
  const legend = ["online", "busy", "unhealthy", "offline", "missing"].filter((c) => counts[c])
    .map((c) => h("span", { class: "legend-item" }, h("span", { class: `epoch epoch-${c}` }), ` ${c} ${counts[c]}`));
  return h("div", {},
    h("div", { class: "epoch-strip", id: "epoch-strip", role: "img",
      "aria-label": `last ${epochs.length} epochs: ` + Object.entries(counts).map(([c, n]) => `${n} ${c}`).join(", ") }, cells),
    h("p", { class: "legend muted" }, legend));
}

const orDash = (v) => (v === null || v === undefined || v === "" ? "–" : String(v));

/** What the GPU's host capability document says of it and of its host, or why it is absent. */
function capabilitiesPanel(detail) {
  const hash = pick(detail, "capabilities_hash");
  const doc = pick(detail, "capabilities");
  let body;
  if (!hash) {
    body = h("p", { class: "muted" }, "Its attestation names no capability document.");
  } else if (!doc) {
    body = h("p", { class: "muted", id: "capabilities-absent" },
      "The attested capability document ", hexText(hash), " has not reached this explorer yet.");
  } else {
    const g = doc.gpu || {};
    const host = doc.host || {};
    const pcie = g.pcie || {};
    const links = g.links;
    const mig = g.mig_enabled === null || g.mig_enabled === undefined ? "not supported"
      : g.mig_enabled ? `on (${(g.mig_instances || []).length} instances)` : "off";
    body = facts([
      ["Driver", orDash(g.driver_version)],
      [g.rocm_version ? "ROCm" : "CUDA", orDash(g.rocm_version || g.cuda_version)],
      ["Compute capability", g.compute_capability],
      ["Architecture", g.architecture],
      ["PCIe", pcie.generation ? `Gen ${pcie.generation}${pcie.width ? ` x${pcie.width}` : ""}` : "–"],
      ["Interconnect", links && links.active_links
        ? `${links.kind === "xgmi" ? "xGMI" : "NVLink"}${links.version ? ` ${links.version}` : ""}, ${links.active_links} of ${links.links} links active`
        : "PCIe only"],
      ["MIG", mig],
      ["ECC", g.ecc_enabled === null || g.ecc_enabled === undefined ? "–" : g.ecc_enabled ? "on" : "off"],
      ["Power limit", g.power_limit_watts ? `${g.power_limit_watts} W` : null],
      ["VBIOS", g.vbios_version],
      ["Host CPU", host.cpu_model || host.cpu_cores
        ? `${host.cpu_model ?? "CPU"}${host.cpu_cores ? `, ${host.cpu_cores} cores` : ""}` : "–"],
      ["Host RAM", host.ram_gib !== null && host.ram_gib !== undefined ? `${number(host.ram_gib)} GiB` : "–"],
      ["Free disk", host.disk_free_gib !== null && host.disk_free_gib !== undefined ? `${number(host.disk_free_gib)} GiB` : "–"],
      ["OS", host.os ? `${host.os}${host.kernel ? ` (kernel ${host.kernel})` : ""}` : orDash(host.kernel)],
      ["Container runtimes", (host.container_runtimes || []).join(", ") || "none"],
      ["GPUs on the host", doc.gpus_per_host],
      ["Document", withTools(hexText(hash), hash, "document hash")],
    ]);
  }
  return h("section", { "aria-labelledby": "capabilities-title", id: "capabilities" },
    h("h3", { id: "capabilities-title" }, "Capabilities"), body);
}

async function renderGpu(view, key) {
  const [gpu, history, status] = await Promise.all([
    api(`/v1/gpus/${encodeURIComponent(key)}`),
    api(`/v1/gpus/${encodeURIComponent(key)}/attestations`),
    api(`/v1/gpus/${encodeURIComponent(key)}/status${query({ epochs: 144 })}`).catch(() => null),
  ]);
  asOf(gpu);
  const g = pick(gpu, "gpu") ?? gpu;
  const atts = items(history);
  const provider = providerOf(g);
  const chartPoints = atts
    .map((a) => ({ t: Number(measuredOf(a) ?? pick(a, "block_time")), v: Number(throughputOf(a) || 0) }))
    .filter((p) => p.t)
    .sort((a, b) => a.t - b.t);
  fill(view,
    h("p", {}, h("a", { href: "#/" }, "← All GPUs")),
    h("h2", { id: "detail-title" }, `${pick(g, "model") ?? "GPU"} `, statusBadges(g)),
    facts([
      ["GPU key", withTools(h("code", { class: "hex wrap" }, key), key, "GPU key", null, true)],
      ["Vendor", pick(g, "vendor")],
      ["Memory", bytes(memoryOf(g))],
      ["Verified throughput", throughputText(throughputOf(g))],
      ["Provider", providerLink(provider, pick(g, "provider_name") ?? state.providerNames.get(provider))],
      ["Agent", pick(g, "agent") && addressText(pick(g, "agent"), "agent address")],
      ["Region", regionOf(g)],
      ["Liveness index", pick(g, "gpu_index", "index")],
      ["Last seen epoch", pick(g, "last_seen_epoch")],
      ["Uptime (24 h)", h("span", { id: "uptime-24h" }, ratioText(pick(g, "uptime_24h")))],
      ["Uptime (7 d)", h("span", { id: "uptime-7d" }, ratioText(pick(g, "uptime_7d")))],
      ["Attested", time(measuredOf(g))],
      ["Expires", time(pick(g, "expires_at"))],
    ]),
    h("section", { "aria-labelledby": "epochs-title" },
      h("h3", { id: "epochs-title" }, "Recent epochs"),
      pick(pick(gpu, "liveness"), "fresh") === false
        ? h("p", { class: "notice", id: "liveness-stale" },
          `Liveness has not been recorded since epoch ${pick(pick(gpu, "liveness"), "last_epoch")}: whether this GPU is online is unknown.`)
        : null,
      status ? epochStrip(status) : h("p", { class: "muted" }, "Epoch history unavailable.")),
    h("section", { class: "figures" }, figuresTable(figuresOf(g))),
    capabilitiesPanel(gpu),
    h("section", { "aria-labelledby": "history-title" },
      h("h3", { id: "history-title" }, "Attestation history"),
      chartPoints.length > 1
        ? h("figure", { class: "chart small" }, stepChart(chartPoints, { label: "Verified throughput per attestation", height: 180 }))
        : null,
      h("div", { class: "scroll" },
        h("table", { class: "data", id: "attestations" },
          h("caption", { class: "sr-only" }, "Attestations of this GPU, newest first"),
          h("thead", {}, h("tr", {},
            ["Block", "Attested", "Expires", "Throughput", "Agent", "Oracle signers", "Transaction"]
              .map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, atts.length ? atts.map((a) => h("tr", {},
            h("th", { scope: "row" }, number(pick(a, "block_number", "block")))
            , h("td", {}, time(measuredOf(a)))
            , h("td", {}, time(pick(a, "expires_at")))
            , h("td", { class: "num" }, throughputText(throughputOf(a)))
            , h("td", {}, pick(a, "agent") ? addressText(pick(a, "agent"), "agent address") : "–")
            , h("td", {}, signersList(a), pick(a, "config_version") !== undefined
              ? h("span", { class: "muted" }, ` config v${pick(a, "config_version")}`) : null)
            , h("td", { class: "tx" }, txText(pick(a, "tx_hash", "transaction_hash"))),
          )) : h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No attestation recorded.")))))),
  );
}

function uptimeText(uptime) {
  const ratio = pick(uptime, "ratio");
  if (ratio === undefined) return undefined;
  return `${(ratio * 100).toFixed(1)}% of the last ${pick(uptime, "epochs")} epochs`;
}

async function renderProvider(view, address) {
  const gpuPages = providerGpuPages(address);
  const [provider] = await Promise.all([
    api(`/v1/providers/${encodeURIComponent(address)}`),
    gpuPages.load(),
  ]);
  asOf(provider);
  const p = pick(provider, "provider") ?? provider;
  const agents = pick(p, "agents") ?? pick(provider, "agents") ?? [];
  const status = pick(p, "status");
  const endpoint = pick(p, "endpoint");
  fill(view,
    h("p", {}, h("a", { href: "#/providers" }, "← All providers")),
    h("h2", { id: "detail-title" }, pick(p, "name") || "Provider", " ",
      status ? badge(status, status === "active" ? "ok" : "off") : null),
    facts([
      ["Address", withTools(h("code", { class: "hex wrap" }, pick(p, "address") ?? address),
        pick(p, "address") ?? address, "provider address", "address", true)],
      ["Region", pick(p, "region")],
      ["Endpoint", endpoint && /^https?:\/\//.test(endpoint)
        ? h("a", { href: endpoint, rel: "noopener nofollow" }, endpoint) : endpoint],
      ["Metadata", pick(p, "metadata_uri")],
      ["Registered", pick(p, "registered_at") ? time(pick(p, "registered_at")) : pick(p, "registered_block") && `block ${number(pick(p, "registered_block"))}`],
      ["GPUs", pick(p, "gpu_count", "gpus")],
      ["Online GPUs", pick(p, "online_gpus", "gpus_online")],
      ["Uptime", uptimeText(pick(p, "uptime"))],
    ]),
    h("section", { "aria-labelledby": "agents-title" },
      h("h3", { id: "agents-title" }, "Agents"),
      h("table", { class: "data compact", id: "agents" },
        h("caption", { class: "sr-only" }, "Agent keys this provider authorized"),
        h("thead", {}, h("tr", {}, ["Agent", "Expires", "Status"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, agents.length ? agents.map((a) => {
          const addr = typeof a === "object" ? pick(a, "agent", "address") : a;
          const revoked = pick(a, "revoked");
          const authorized = pick(a, "authorized") ?? !revoked;
          return h("tr", { "data-agent": addr },
            h("th", { scope: "row" }, addressText(addr, "agent address")),
            h("td", {}, time(pick(a, "expires_at"))),
            h("td", {}, authorized ? badge("authorized", "ok") : badge(revoked ? "revoked" : "expired", "off")));
        }) : h("tr", {}, h("td", { colspan: 3, class: "empty" }, "No agent authorized."))))),
    h("section", { "aria-labelledby": "pgpus-title" },
      h("h3", { id: "pgpus-title" }, "GPUs"),
      gpuPages.count,
      h("div", { class: "scroll" }, h("table", { class: "data", id: "provider-gpus" },
        h("caption", { class: "sr-only" }, "GPUs of this provider"),
        plainHead(),
        gpuPages.body)),
      gpuPages.pager),
  );
}

/** A provider's GPUs a page at a time, through the API's cursor; the pager's elements and a
 * `load()` that fills the first page. */
function providerGpuPages(address) {
  const body = h("tbody", {});
  const count = h("p", { class: "muted", id: "provider-gpu-count", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary", id: "provider-prev", disabled: true }, "← Previous");
  const next = h("button", { type: "button", class: "secondary", id: "provider-next", disabled: true }, "Next →");
  const label = h("span", { class: "muted", id: "provider-page" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of this provider's GPUs" }, prev, label, next);
  // The page shown survives live refreshes (which render the view again); a navigation resets it.
  if (state.providerPaging?.address !== address) state.providerPaging = { address, cursors: [null] };
  const { cursors } = state.providerPaging;
  let nextCursor = null;
  let seq = 0;
  async function load() {
    const mine = ++seq;
    const n = cursors.length; // the page asked for, as it is when asked
    const page = await api(`/v1/gpus${query({
      provider: address, sort: DEFAULT_SORT, limit: PROVIDER_PAGE_SIZE, cursor: cursors[n - 1],
    })}`);
    if (mine !== seq) return;
    const rows = items(page);
    fill(body, rows.length ? rows.map(gpuRow)
      : h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No GPU attested yet.")));
    nextCursor = pick(page, "next_cursor") ?? null;
    const total = pick(page, "total");
    count.textContent = total !== undefined ? `${number(total)} GPU${total === 1 ? "" : "s"}` : "";
    label.textContent = `page ${n}${total !== undefined ? ` of ${Math.max(1, Math.ceil(total / PROVIDER_PAGE_SIZE))}` : ""}`;
    prev.disabled = n <= 1;
    next.disabled = !nextCursor;
    pager.hidden = n <= 1 && !nextCursor;
  }
  // A live refresh renders a new pager while this one may still be clicked: a click loads the
  // page into the pager on screen, whose own load of the page it was showing is then dropped
  // (without this, that load's answer came back labelled with the page the click had chosen).
  state.providerPaging.load = load;
  next.addEventListener("click", () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    state.providerPaging.load().catch(showError);
  });
  prev.addEventListener("click", () => {
    if (cursors.length <= 1) return;
    cursors.pop();
    state.providerPaging.load().catch(showError);
  });
  return { body, count, pager, load };
}

async function renderProviders(view) {
  const page = await api(`/v1/providers${query({ limit: 200 })}`);
  asOf(page);
  const list = items(page);
  fill(view,
    h("h2", { id: "detail-title" }, "Providers"),
    h("p", { class: "muted" }, pick(page, "total") !== undefined ? `${number(pick(page, "total"))} providers` : ""),
    h("div", { class: "scroll" }, h("table", { class: "data", id: "providers" },
      h("caption", { class: "sr-only" }, "Registered providers"),
      h("thead", {}, h("tr", {}, ["Name", "Address", "Region", "GPUs", "Status"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, list.length ? list.map((p) => h("tr", {},
        h("th", { scope: "row" }, h("a", { href: `#/provider/${pick(p, "address")}` }, pick(p, "name") || "(unnamed)")),
        h("td", {}, addressText(pick(p, "address"), "provider address")),
        h("td", {}, pick(p, "region") || "–"),
        h("td", { class: "num" }, number(pick(p, "gpu_count", "gpus"))),
        h("td", {}, pick(p, "status") ? badge(pick(p, "status"), pick(p, "status") === "active" ? "ok" : "off") : "–"),
      )) : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No provider registered yet."))))),
  );
}

// ---------------------------------------------------------------- search

const SEARCH_KINDS = { gpu: "GPU", provider: "Provider", agent: "Agent", transaction: "Transaction", model: "Model" };

/** The last path segment of one of a search result's API links (a GPU key, an address). */
function linkTail(item, name) {
  const link = pick(item.links, name);
  return link ? decodeURIComponent(String(link).split("?")[0].split("/").pop()) : null;
}

/** Where a search result leads in this page: its GPU, its provider (an agent's provider), the
 * GPU a transaction attested, or the inventory of a model; null when this page has no view. */
function searchTarget(item) {
  switch (item.kind) {
    case "gpu": return `#/gpu/${item.key}`;
    case "provider": return `#/provider/${item.key}`;
    case "agent": {
      const provider = linkTail(item, "provider");
      return provider ? `#/provider/${provider}` : null;
    }
    case "transaction": {
      const gpu = linkTail(item, "gpu");
      return gpu ? `#/gpu/${gpu}` : null;
    }
    case "model": return `#/${query({ model: item.key })}`;
    default: return null;
  }
}

function searchResult(item) {
  const target = searchTarget(item);
  const hex = /^0x[0-9a-fA-F]+$/.test(item.key);
  const what = { gpu: "GPU key", provider: "provider address", agent: "agent address", transaction: "transaction hash" }[item.kind];
  const shown = hex ? hexText(item.key, 10, 6) : item.key;
  const explore = item.kind === "transaction" ? "tx" : item.kind === "provider" || item.kind === "agent" ? "address" : null;
  return h("li", { "data-kind": item.kind },
    h("span", { class: "badge badge-info" }, SEARCH_KINDS[item.kind] ?? item.kind), " ",
    target ? h("a", { href: target, class: "found-link" }, shown) : shown,
    hex ? [" ", copyButton(item.key, what ?? "value"), explore ? explorerLink(explore, item.key) : null] : null,
    item.label && item.label !== item.key ? h("span", { class: "muted" }, ` ${item.label}`) : null);
}

function hideSearch() {
  $("search-results").hidden = true;
  fill($("search-list"));
  say($("search-status"), "");
}

/** Asks /v1/search what `q` names: goes straight to the one thing it names, lists several, or
 * says that nothing matched (or why the API refused the query). */
async function search(q) {
  const seq = ++state.searchSeq;
  const panel = $("search-results");
  const status = $("search-status");
  const list = $("search-list");
  if (!q) {
    hideSearch();
    return;
  }
  panel.hidden = false;
  fill(list);
  say(status, `Searching for “${q}”…`);
  let found;
  try {
    found = await api(`/v1/search${query({ q })}`);
  } catch (error) {
    if (seq !== state.searchSeq) return;
    say(status, error.status && error.status < 500
      ? `Cannot search for “${q}”: ${error.message}`
      : `The search failed: ${error.message}`, "error");
    return;
  }
  if (seq !== state.searchSeq) return;
  const results = items(found);
  if (!results.length) {
    say(status, `Nothing found for “${q}”: no GPU key, provider or agent address, transaction or model matches.`, "error");
    return;
  }
  const wanted = q.toLowerCase();
  const exact = results.filter((i) => String(i.key).toLowerCase() === wanted && searchTarget(i));
  const only = exact.length === 1 ? exact[0] : results.length === 1 && searchTarget(results[0]) ? results[0] : null;
  if (only) {
    hideSearch();
    focusOnRender = true;
    const target = searchTarget(only);
    if (location.hash === target) route();
    else location.hash = target;
    return;
  }
  say(status, `${results.length} match${results.length === 1 ? "" : "es"} for “${q}”:`, "ok");
  fill(list, results.map(searchResult));
}

function initSearch() {
  const form = $("search");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = String(new FormData(form).get("q") ?? "").trim();
    search(q).catch(showError);
  });
}

async function loadConfig() {
  const config = await api("/v1/config");
  state.explorer = pick(config, "block_explorer") ?? null;
}

// ---------------------------------------------------------------- routing

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, q = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean);
  return { parts, params: Object.fromEntries(new URLSearchParams(q)) };
}

let current = null;
let routeSeq = 0;
let focusOnRender = false;

/** Renders a detail view off-page, and shows it only if no later navigation happened. */
async function showDetail(render, ...args) {
  const seq = ++routeSeq;
  const target = h("div");
  await render(target, ...args);
  if (seq !== routeSeq) return;
  const detail = $("view-detail");
  const hadFocus = document.activeElement?.id === "detail-title"; // kept across live refreshes
  fill(detail, [...target.childNodes]);
  $("view-inventory").hidden = true;
  detail.hidden = false;
  const title = document.getElementById("detail-title");
  document.title = `${title ? `${title.textContent.trim()} – ` : ""}depin explorer`;
  // A new view: move focus (and screen readers) to its heading, unless it is a live refresh.
  if ((focusOnRender || hadFocus) && title) {
    title.setAttribute("tabindex", "-1");
    title.focus();
    focusOnRender = false;
  }
}

async function route() {
  const { parts, params } = parseHash();
  showError(null);
  try {
    if (parts[0] === "gpu" && parts[1]) {
      current = { kind: "gpu", id: parts[1] };
      await showDetail(renderGpu, parts[1]);
    } else if (parts[0] === "provider" && parts[1]) {
      current = { kind: "provider", id: parts[1] };
      await showDetail(renderProvider, parts[1]);
    } else if (parts[0] === "providers") {
      current = { kind: "providers" };
      await showDetail(renderProviders);
    } else {
      routeSeq += 1;
      current = { kind: "inventory" };
      $("view-detail").hidden = true;
      $("view-inventory").hidden = false;
      document.title = "depin explorer";
      state.filters = params;
      state.cursors = [null];
      setFormFromFilters(params);
      await loadInventory();
    }
  } catch (error) {
    if (current?.kind !== "inventory") {
      fill($("view-detail"), h("p", {}, h("a", { href: "#/" }, "← All GPUs")));
      $("view-inventory").hidden = true;
      $("view-detail").hidden = false;
    }
    showError(error);
  }
}

// ---------------------------------------------------------------- live updates

let refreshTimer = null;

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 400);
}

async function refresh() {
  try {
    const stats = await loadStats();
    await loadChart();
    if (current?.kind === "inventory" && state.cursors.length === 1) await loadInventory();
    else if (current && current.kind !== "inventory") await route();
  } catch (error) {
    showError(error);
  }
}

const EVENT_KINDS = [
  "provider_registered", "provider_updated", "provider_deregistered", "agent_authorized",
  "agent_revoked", "gpu_attested", "gpu_revoked", "gpu_online", "gpu_offline", "gpu_unhealthy", "gpu_healthy",
  "oracle_config_set", "reorg", "change",
];

function setLive(on, why) {
  state.live = on;
  const dot = $("live");
  dot.dataset.on = on ? "1" : "0";
  dot.title = why;
}

function connectEvents() {
  let poller = null;
  const poll = () => {
    if (!poller) poller = setInterval(refresh, POLL_MS);
  };
  if (!("EventSource" in window)) {
    setLive(false, "polling every 15 s");
    poll();
    return;
  }
  const source = new EventSource("/v1/events");
  source.onopen = () => {
    setLive(true, "live: following /v1/events");
    clearInterval(poller);
    poller = null;
  };
  source.onerror = () => {
    setLive(false, "event stream interrupted: polling every 15 s");
    poll();
  };
  source.onmessage = refreshSoon;
  for (const kind of EVENT_KINDS) source.addEventListener(kind, refreshSoon);
}

// ---------------------------------------------------------------- start

initFilters();
initSortHeaders();
initSearch();
window.addEventListener("hashchange", () => {
  hideSearch();
  focusOnRender = true;
  state.providerPaging = null;
  route();
});
Promise.all([loadProviderNames().catch(() => null), loadConfig().catch(() => null)]).then(route);
loadStats().then(loadChart).catch(showError);
connectEvents();
