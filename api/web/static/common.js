// Shared by the explorer and the onboarding page: API calls, DOM building, formatting.
// Everything that comes from the chain is put in the page as text, never as HTML.

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** GETs (or POSTs `body` as JSON to) an API path; answers the JSON or throws ApiProblem. */
export async function api(path, body) {
  const init = { headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await answerOf(response);
  if (!response.ok) throw new ApiProblem(response.status, data);
  return data;
}

/** The JSON body of `response` (what is not JSON: its first 200 characters as `detail`). */
export async function answerOf(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

/** A query string of the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** h("a", {href: "#"}, "text", child) - an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element (same calling convention as h). */
export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function shortHex(value, head = 6, tail = 4) {
  const v = String(value ?? "");
  return v.length > head + tail + 1 ? `${v.slice(0, head)}…${v.slice(-tail)}` : v;
}

/** A hex value shown shortened, with the whole value in its title and for screen readers. */
export function hexText(value, head, tail) {
  return h("code", { class: "hex", title: value, "aria-label": value }, shortHex(value, head, tail));
}

/** Puts `text` on the clipboard: the Clipboard API where the page may use it (a secure
 * context), else a hidden text area and execCommand("copy"). Answers whether it worked. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // refused (no permission, no focus): try the older way below
    }
  }
  const area = h("textarea", { readonly: true, "aria-hidden": "true", tabindex: "-1", class: "copy-buffer" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

function copyIcon() {
  return s("svg", { viewBox: "0 0 16 16", width: 13, height: 13, "aria-hidden": "true", focusable: "false" },
    s("rect", { x: 5.5, y: 5.5, width: 8.5, height: 8.5, rx: 1.5 }),
    s("path", { d: "M10.5 3.5v-1a1 1 0 0 0-1-1h-7a1 1 0 0 0-1 1v7a1 1 0 0 0 1 1h1" }));
}

/** A screen reader's notice of a copy (one polite live region for the page). */
function announce(message) {
  let region = document.getElementById("copy-status");
  if (!region) {
    region = h("span", { id: "copy-status", class: "sr-only", role: "status" });
    document.body.append(region);
  }
  region.textContent = message;
}

/** A button that copies `value` (a hash, an address) and shows "copied" for a moment. */
export function copyButton(value, what = "value") {
  const label = `Copy ${what}`;
  const button = h("button", { type: "button", class: "copy", title: `${label} ${value}`, "aria-label": label, "data-copy": value });
  let timer = null;
  const idle = () => {
    delete button.dataset.state;
    button.setAttribute("aria-label", label);
    fill(button, copyIcon());
  };
  idle();
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    event.stopPropagation();
    const ok = await copyText(String(value));
    clearTimeout(timer);
    button.dataset.state = ok ? "copied" : "failed";
    fill(button, ok ? "✓ copied" : "copy failed");
    button.setAttribute("aria-label", ok ? `${what} copied` : `could not copy the ${what}`);
    announce(ok ? `${what} copied` : `could not copy the ${what}`);
    timer = setTimeout(idle, 2000);
  });
  return button;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(Number(n))) return "–";
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${UNITS[i]}`;
}

export function number(n, digits = 0) {
  if (n === undefined || n === null || n === "") return "–";
  const v = Number(n);
  if (Number.isNaN(v)) return String(n);
  return v.toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** Unix seconds as "2026-01-31 12:00:00 UTC". */
export function time(seconds) {
  if (!seconds) return "–";
  return new Date(Number(seconds) * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** A span of seconds in words: "45 s", "12 min", "5 h", "365 days". */
export function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

/** The first defined of several possible field names (the API's shapes, tolerated loosely). */
export function pick(obj, ...names) {
  if (!obj) return undefined;
  for (const name of names) if (obj[name] !== undefined && obj[name] !== null) return obj[name];
  return undefined;
}

/** The list in a paged answer, whatever it is called. */
export function items(page) {
  if (Array.isArray(page)) return page;
  return pick(page, "items", "data", "results", "gpus", "providers", "attestations") || [];
}

/** Shows a message in a live region; kind is "info", "ok" or "error". */
export function say(node, message, kind = "info") {
  node.dataset.kind = kind;
  node.textContent = message;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
