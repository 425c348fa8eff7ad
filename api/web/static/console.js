// The provider's console: Sign-In with Ethereum from an EIP-1193 wallet (personal_sign of an
// EIP-4361 message), then the provider's fleet, API tokens and webhook subscriptions through
// /v1/console with the session token. The token lives in this tab's sessionStorage only.
// An agent key is renewed or revoked by typed data the wallet signs (eth_signTypedData_v4),
// relayed gaslessly and followed until the indexer shows its effect.

import { ApiProblem, answerOf, badge, duration, fill, h, hexText, number, say, sleep, time } from "/web/common.js";

const $ = (id) => document.getElementById(id);
const STORE = "depin.console.session";
const EVENTS = {
  gpu_offline: "GPU offline",
  gpu_unhealthy: "GPU unhealthy",
  attestation_expiring: "attestation expiring",
  agent_expiring: "agent expiring",
  attestation_rejected: "attestation rejected",
  provider_changed: "provider changed",
};

const INDEX_TIMEOUT_MS = 180000;
const POLL_MS = 1000;
const DAY = 86400;

let session = null; // { token, address, expires_at }
let agentAction = null; // { agent, kind: "renew" | "revoke", busy }

// ---------------------------------------------------------------- the API, with the session

async function call(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await answerOf(response);
  if (!response.ok) {
    if (response.status === 401 && session) signedOut("Your session ended: sign in again.");
    throw new ApiProblem(response.status, data);
  }
  return data;
}

function iso(value) {
  return value ? value.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : "–";
}

function until(seconds) {
  const rel = Number(seconds) - Date.now() / 1000;
  return `${time(seconds)} (${rel >= 0 ? `in ${duration(rel)}` : `${duration(rel)} ago`})`;
}

// ---------------------------------------------------------------- sign-in

function utf8Hex(text) {
  return `0x${[...new TextEncoder().encode(text)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function siweMessage({ domain, address, chainId, nonce }) {
  const now = new Date();
  const expires = new Date(now.getTime() + 10 * 60 * 1000);
  return [
    `${domain} wants you to sign in with your Ethereum account:`,
    address,
    "",
    "Sign in to the depin provider console.",
    "",
    `URI: ${window.location.origin}/console`,
    "Version: 1",
    `Chain ID: ${chainId}`,
    `Nonce: ${nonce}`,
    `Issued At: ${now.toISOString()}`,
    `Expiration Time: ${expires.toISOString()}`,
  ].join("\n");
}

async function signIn() {
  const eth = window.ethereum;
  const status = $("signin-status");
  if (!eth) {
    say(status, "No wallet found: install or unlock a browser wallet (EIP-1193).", "error");
    return;
  }
  $("sign-in").disabled = true;
  try {
    const accounts = await eth.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
    const walletChain = Number.parseInt(await eth.request({ method: "eth_chainId" }), 16);
    const issued = await call(`/v1/auth/nonce?address=${encodeURIComponent(accounts[0])}`);
    if (walletChain !== issued.chain_id) {
      throw new Error(`switch your wallet to chain ${issued.chain_id} (it is on ${walletChain})`);
    }
    const message = siweMessage({
      domain: issued.domain, address: issued.address, chainId: issued.chain_id, nonce: issued.nonce,
    });
    say(status, "Sign the message in your wallet…");
    const signature = await eth.request({ method: "personal_sign", params: [utf8Hex(message), accounts[0]] });
    const answer = await call("/v1/auth/verify", { method: "POST", body: { message, signature } });
    session = { token: answer.token, address: answer.address, expires_at: answer.expires_at };
    sessionStorage.setItem(STORE, JSON.stringify(session));
    await signedIn();
  } catch (error) {
    say(status, `Sign-in failed: ${error.message || error}`, "error");
  } finally {
    $("sign-in").disabled = false;
  }
}

async function signOut() {
  try {
    await call("/v1/auth/logout", { method: "POST" });
  } catch {
    // signed out or expired already: either way the session is gone
  }
  signedOut("Signed out.");
}

function signedOut(message) {
  session = null;
  sessionStorage.removeItem(STORE);
  $("console").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true;
  delete $("signin").dataset.done;
  agentAction = null;
  $("agent-action").hidden = true;
  say($("signin-status"), message, "info");
}

async function signedIn() {
  const me = await call("/v1/console/whoami");
  $("signin").dataset.done = "1";
  fill($("signin-status"), "Signed in as ", h("code", { id: "account" }, me.provider),
    ` until ${iso(session.expires_at)}.`);
  $("signin-status").dataset.kind = "ok";
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("console").hidden = false;
  await Promise.all([loadFleet(), loadTokens(), loadHooks()]);
}

// ---------------------------------------------------------------- fleet

function liveness(gpu) {
  const marks = [];
  marks.push(gpu.verified ? badge("verified", "ok") : badge(gpu.revoked ? "revoked" : "expired", "bad"));
  if (gpu.online === null) marks.push(badge("liveness unknown", "off"));
  else marks.push(gpu.online ? badge("online", "ok") : badge("offline", "warn"));
  if (gpu.online && gpu.available !== null) marks.push(badge(gpu.available ? "available" : "busy", gpu.available ? "info" : "off"));
  if (gpu.online && gpu.healthy === false) marks.push(badge("unhealthy", "bad"));
  return h("span", { class: "badges" }, marks);
}

async function loadFleet() {
  const [gpus, agents, attestations] = await Promise.all([
    call("/v1/console/gpus?limit=200"), call("/v1/console/agents"), call("/v1/console/attestations?limit=20"),
  ]);
  const online = gpus.items.filter((g) => g.online).length;
  fill($("fleet-cards"),
    h("div", { class: "card" }, h("dt", {}, "GPUs"), h("dd", { id: "gpu-count" }, number(gpus.total))),
    h("div", { class: "card" }, h("dt", {}, "Online"), h("dd", {}, number(online))),
    h("div", { class: "card" }, h("dt", {}, "Verified"), h("dd", {}, number(gpus.items.filter((g) => g.verified).length))),
    h("div", { class: "card" }, h("dt", {}, "Agents"), h("dd", {}, number(agents.items.length))));
  fill($("gpus").tBodies[0], gpus.items.length
    ? gpus.items.map((g) => h("tr", { "data-gpu": g.gpu_key },
      h("th", { scope: "row" }, h("a", { href: `/#/gpu/${g.gpu_key}` }, hexText(g.gpu_key, 10, 6))),
      h("td", {}, g.model, g.simulated ? [" ", badge("simulated", "sim")] : ""),
      h("td", {}, liveness(g)),
      h("td", { class: "num" }, g.uptime_24h === null || g.uptime_24h === undefined ? "–" : `${Math.round(g.uptime_24h * 100)} %`),
      h("td", {}, until(g.expires_at))))
    : h("tr", {}, h("td", { class: "empty", colspan: 5 }, "No GPU attested yet.")));
  fill($("agents").tBodies[0], agents.items.length
    ? agents.items.map((a) => h("tr", { "data-agent": a.agent },
      h("th", { scope: "row" }, h("code", { class: "hex wrap" }, a.agent)),
      h("td", {}, a.authorized ? badge("authorized", "ok") : badge(a.revoked ? "revoked" : "expired", "bad")),
      h("td", { "data-expires": a.expires_at }, a.revoked ? "–" : until(a.expires_at)),
      h("td", { class: "row-actions" },
        h("button", { type: "button", class: "secondary", "aria-label": `Renew ${a.agent}`, onclick: () => openAgentAction(a, "renew") }, "Renew"), " ",
        a.revoked ? "" : h("button", { type: "button", class: "secondary", "aria-label": `Revoke ${a.agent}`, onclick: () => openAgentAction(a, "revoke") }, "Revoke"))))
    : h("tr", {}, h("td", { class: "empty", colspan: 4 }, "No agent authorized yet.")));
  fill($("attestations").tBodies[0], attestations.items.length
    ? attestations.items.map((a) => h("tr", { "data-outcome": a.outcome },
      h("td", {}, number(a.block_number)),
      h("td", {}, hexText(a.gpu_key, 10, 6)),
      h("td", {}, a.outcome === "accepted" ? badge("accepted", "ok") : [badge("rejected", "bad"), ` ${a.reason}`]),
      h("td", {}, hexText(a.tx_hash, 10, 6))))
    : h("tr", {}, h("td", { class: "empty", colspan: 4 }, "No attestation yet.")));
}

// ---------------------------------------------------------------- agents: renew, revoke

function isoDate(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

function openAgentAction(agent, kind) {
  if (agentAction?.busy) return;
  agentAction = { agent: agent.agent, kind, busy: false };
  const renew = kind === "renew";
  $("agent-action-title").textContent = `${renew ? "Renew" : "Revoke"} agent ${agent.agent}`;
  $("renew-box").hidden = !renew;
  $("revoke-box").hidden = renew;
  fill($("agent-progress"));
  delete $("agent-progress").dataset.indexed;
  say($("agent-status"), renew
    ? `Choose the new expiry (it now ${agent.revoked ? "is revoked" : `expires ${until(agent.expires_at)}`}), then sign.`
    : "Confirm to sign the revocation in your wallet.");
  const today = Math.floor(Date.now() / 1000);
  $("renew-date").min = isoDate(today + DAY);
  $("renew-date").max = "9999-12-31";
  if (!$("renew-date").value) $("renew-date").value = isoDate(today + 90 * DAY);
  $("renew-date-field").hidden = $("renew-period").value !== "date";
  $("agent-action").hidden = false;
  (renew ? $("renew-period") : $("revoke-form").querySelector("button[type=submit]")).focus();
}

function closeAgentAction() {
  if (agentAction?.busy) return;
  agentAction = null;
  $("agent-action").hidden = true;
  say($("agent-status"), "");
}

/** The renewed authorization's end, in unix seconds, from the form. */
function renewalExpiry() {
  const period = $("renew-period").value;
  if (period !== "date") return Math.floor(Date.now() / 1000) + Number(period) * DAY;
  const value = $("renew-date").value;
  if (!value) throw new Error("choose the date the authorization ends");
  const seconds = Math.floor(Date.parse(`${value}T23:59:59Z`) / 1000);
  if (!(seconds > Date.now() / 1000)) throw new Error("choose a date after today");
  return seconds;
}

/** The wallet's account that is the signed-in provider (an EOA, or a contract wallet such as
 * a Safe whose wallet signs for it), on the registry's chain. */
async function signingAccount(chainId) {
  const eth = window.ethereum;
  if (!eth) throw new Error("no wallet found: install or unlock a browser wallet (EIP-1193)");
  const accounts = await eth.request({ method: "eth_requestAccounts" });
  const account = (accounts || []).find((a) => a.toLowerCase() === session.address.toLowerCase());
  if (!account) {
    throw new Error(`switch your wallet to ${session.address}, the provider signed in (it offers ${accounts?.[0] ?? "no account"})`);
  }
  const walletChain = Number.parseInt(await eth.request({ method: "eth_chainId" }), 16);
  if (walletChain !== Number(chainId)) {
    throw new Error(`switch your wallet to chain ${chainId} (it is on ${walletChain})`);
  }
  return account;
}

function track(list, steps) {
  fill(list, steps.map((text, i) => h("li", { "data-step": i }, text)));
  const set = (i, state, text) => {
    list.children[i].dataset.state = state;
    if (text) list.children[i].textContent = text;
  };
  return {
    at: (i, text) => set(i, "active", text),
    done: (i, text) => set(i, "done", text),
    fail: (i, text) => set(i, "failed", text),
  };
}

/** Builds the typed data, has the wallet sign it, relays it and waits for the indexer. */
async function runAgentAction(event) {
  event.preventDefault();
  if (!agentAction || agentAction.busy) return;
  const { agent, kind } = agentAction;
  const renew = kind === "renew";
  const what = renew ? "The renewal" : "The revocation";
  const status = $("agent-status");
  const list = $("agent-progress");
  const steps = track(list, ["Prepare the message", "Sign in your wallet", "Relay the transaction", "Wait for the indexer"]);
  let stage = 0;
  delete status.dataset.code;
  agentAction.busy = true;
  for (const button of $("agent-action").querySelectorAll("button")) button.disabled = true;
  try {
    steps.at(0);
    const body = renew ? { expires_at: renewalExpiry() } : {};
    const answer = await call(`/v1/console/agents/${agent}/${renew ? "renewal" : "revocation"}`, { method: "POST", body });
    const typed = answer.typed_data;
    steps.done(0, `${typed.primaryType}: nonce ${answer.nonce}, signature valid until ${time(answer.deadline)}`);
    stage = 1;
    steps.at(1);
    say(status, "Sign the message in your wallet…");
    const account = await signingAccount(typed.domain.chainId);
    const signature = await window.ethereum.request({
      method: "eth_signTypedData_v4", params: [account, JSON.stringify(typed)],
    });
    steps.done(1, "Signed");
    stage = 2;
    steps.at(2);
    const relayed = await call("/v1/console/relay", { method: "POST", body: { typed_data: typed, signature } });
    steps.done(2, `Transaction sent: ${relayed.tx_hash}`);
    list.children[2].dataset.tx = relayed.tx_hash;
    stage = 3;
    steps.at(3);
    const expires = renew ? Number(typed.message.expiresAt) : null;
    const started = Date.now();
    for (;;) {
      const agents = await call("/v1/console/agents");
      const found = agents.items.find((a) => a.agent.toLowerCase() === agent.toLowerCase());
      if (found && (renew ? !found.revoked && Number(found.expires_at) === expires : found.revoked)) {
        steps.done(3, `Indexed at block ${agents.as_of_block}`);
        list.dataset.indexed = "1";
        break;
      }
      if (Date.now() - started > INDEX_TIMEOUT_MS) {
        throw new Error("the transaction was sent but the indexer has not shown it yet; check again later");
      }
      await sleep(POLL_MS);
    }
    agentAction = null;
    $("renew-box").hidden = true;
    $("revoke-box").hidden = true;
    $("agent-action-title").textContent = `${renew ? "Renewed" : "Revoked"} agent ${agent}`;
    say(status, renew ? `Agent ${agent} renewed until ${time(expires)}.` : `Agent ${agent} revoked.`, "ok");
    await loadFleet();
  } catch (error) {
    const message = error instanceof ApiProblem ? error.message : error.message || String(error);
    steps.fail(stage, `${["Preparing", "Signing", "Relaying", "Indexing"][stage]} failed: ${message}`);
    say(status, `${what} did not complete: ${message}`, "error");
    if (error instanceof ApiProblem) status.dataset.code = error.problem.code ?? "";
  } finally {
    if (agentAction) agentAction.busy = false;
    for (const button of $("agent-action").querySelectorAll("button")) button.disabled = false;
  }
}

// ---------------------------------------------------------------- tokens

async function loadTokens() {
  const answer = await call("/v1/console/tokens");
  fill($("tokens").tBodies[0], answer.items.length
    ? answer.items.map((t) => h("tr", { "data-token": t.id },
      h("th", { scope: "row" }, t.name),
      h("td", {}, h("code", {}, `${t.prefix}…`)),
      h("td", {}, t.scopes.join(", ")),
      h("td", {}, t.expires_at ? iso(t.expires_at) : "never"),
      h("td", {}, iso(t.last_used_at)),
      h("td", {}, t.active ? badge("active", "ok") : badge(t.revoked_at ? "revoked" : "expired", "off")),
      h("td", {}, t.active
        ? h("button", { type: "button", class: "secondary", onclick: () => revokeToken(t) }, "Revoke")
        : "")))
    : h("tr", {}, h("td", { class: "empty", colspan: 7 }, "No API token yet.")));
}

async function makeToken(event) {
  event.preventDefault();
  const form = new FormData($("token-form"));
  const days = Number(form.get("days") || 0);
  const body = { name: String(form.get("name") || "").trim(), scopes: form.getAll("scope") };
  if (days > 0) body.expires_in = Math.round(days * 86400);
  try {
    const made = await call("/v1/console/tokens", { method: "POST", body });
    fill($("token-made"),
      h("p", {}, `Your token “${made.name}”: copy it now, it is not shown again.`),
      h("pre", { id: "new-token" }, made.token));
    $("token-made").hidden = false;
    say($("token-status"), "Token made.", "ok");
    $("token-form").reset();
    await loadTokens();
  } catch (error) {
    say($("token-status"), `The token was not made: ${error.message}`, "error");
  }
}

async function revokeToken(token) {
  try {
    await call(`/v1/console/tokens/${token.id}`, { method: "DELETE" });
    say($("token-status"), `Token “${token.name}” revoked.`, "ok");
    await loadTokens();
  } catch (error) {
    say($("token-status"), `The token was not revoked: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- webhooks

async function loadHooks() {
  const answer = await call("/v1/console/subscriptions");
  const rows = await Promise.all(answer.items.map(async (s) => {
    const detail = await call(`/v1/console/subscriptions/${s.id}?limit=5`);
    const latest = detail.deliveries.map((d) => h("li", {}, `${EVENTS[d.event] ?? d.event}: ${d.state} (${d.attempts} attempts)`));
    return h("tr", { "data-subscription": s.id },
      h("th", { scope: "row" }, h("code", { class: "wrap" }, s.url)),
      h("td", {}, s.events.map((e) => EVENTS[e] ?? e).join(", ")),
      h("td", {}, s.active ? badge("active", "ok") : [badge("disabled", "bad"), h("div", { class: "muted" }, s.disabled_reason)]),
      h("td", {}, latest.length ? h("ul", { class: "signers" }, latest) : h("span", { class: "muted" }, "none yet")),
      h("td", {},
        s.active ? "" : h("button", { type: "button", onclick: () => enableHook(s) }, "Enable"),
        h("button", { type: "button", class: "secondary", onclick: () => deleteHook(s) }, "Delete")));
  }));
  fill($("hooks").tBodies[0], rows.length ? rows
    : h("tr", {}, h("td", { class: "empty", colspan: 5 }, "No webhook yet.")));
}

async function subscribe(event) {
  event.preventDefault();
  const form = new FormData($("hook-form"));
  const body = {
    url: String(form.get("url") || "").trim(),
    events: form.getAll("event"),
    offline_epochs: Number(form.get("offline_epochs") || 1),
    expiring_within_s: Math.round(Number(form.get("hours") || 24) * 3600),
  };
  try {
    const made = await call("/v1/console/subscriptions", { method: "POST", body });
    fill($("hook-made"),
      h("p", {}, "Its signing secret (X-Depin-Signature, HMAC-SHA256): copy it now, it is not shown again."),
      h("pre", { id: "new-secret" }, made.secret));
    $("hook-made").hidden = false;
    say($("hook-status"), "Subscribed.", "ok");
    await loadHooks();
  } catch (error) {
    say($("hook-status"), `Not subscribed: ${error.message}`, "error");
  }
}

async function deleteHook(sub) {
  try {
    await call(`/v1/console/subscriptions/${sub.id}`, { method: "DELETE" });
    say($("hook-status"), "Subscription deleted.", "ok");
    await loadHooks();
  } catch (error) {
    say($("hook-status"), `Not deleted: ${error.message}`, "error");
  }
}

async function enableHook(sub) {
  try {
    await call(`/v1/console/subscriptions/${sub.id}/enable`, { method: "POST" });
    say($("hook-status"), "Subscription enabled.", "ok");
    await loadHooks();
  } catch (error) {
    say($("hook-status"), `Not enabled: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- start

fill($("w-events"), h("legend", {}, "Events"), Object.entries(EVENTS).map(([value, label]) =>
  h("label", {}, h("input", { type: "checkbox", name: "event", value, checked: value === "gpu_offline" }), ` ${label}`)));
$("sign-in").addEventListener("click", signIn);
$("sign-out").addEventListener("click", signOut);
$("token-form").addEventListener("submit", makeToken);
$("hook-form").addEventListener("submit", subscribe);
$("renew-form").addEventListener("submit", runAgentAction);
$("revoke-form").addEventListener("submit", runAgentAction);
$("renew-period").addEventListener("change", () => {
  $("renew-date-field").hidden = $("renew-period").value !== "date";
});
for (const button of $("agent-action").querySelectorAll("[data-cancel]")) button.addEventListener("click", closeAgentAction);
const kept = sessionStorage.getItem(STORE);
if (kept) {
  try {
    session = JSON.parse(kept);
    signedIn().catch(() => signedOut("Sign in to continue."));
  } catch {
    signedOut("Sign in to continue.");
  }
} else if (!window.ethereum) {
  say($("signin-status"), "No wallet found: install or unlock a browser wallet (EIP-1193).", "error");
}
