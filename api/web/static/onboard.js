// Provider onboarding: connect an EIP-1193 wallet, review and sign the registration and agent
// authorization typed data (eth_signTypedData_v4), hand each signature to the relay and follow
// the transaction until the indexer shows its effect in /v1/providers/<address>.

import { ApiProblem, api, duration, fill, h, pick, say, sleep, time } from "/web/common.js";

const $ = (id) => document.getElementById(id);
const INDEX_TIMEOUT_MS = 180000;
const POLL_MS = 1000;

const wallet = { account: null, chainId: null };
const pending = { registration: null, agent: null };

// ---------------------------------------------------------------- wallet

function provider() {
  return window.ethereum;
}

async function connect() {
  const eth = provider();
  if (!eth) {
    say($("wallet-status"), "No wallet found: install or unlock a browser wallet (EIP-1193).", "error");
    return;
  }
  try {
    const accounts = await eth.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
    wallet.account = accounts[0];
    wallet.chainId = Number.parseInt(await eth.request({ method: "eth_chainId" }), 16);
  } catch (error) {
    say($("wallet-status"), `Wallet refused: ${error.message || error}`, "error");
    return;
  }
  $("step-wallet").dataset.done = "1";
  fill($("wallet-status"), "Connected ", h("code", { id: "account" }, wallet.account), ` on chain ${wallet.chainId}.`);
  $("wallet-status").dataset.kind = "ok";
  $("connect").textContent = "Reconnect";
  await checkRegistered();
}

async function readProvider(address) {
  try {
    return await api(`/v1/providers/${address}`);
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 404) return null;
    throw error;
  }
}

async function checkRegistered() {
  let found = null;
  try {
    found = await readProvider(wallet.account);
  } catch (error) {
    say($("register-status"), `Could not ask the explorer: ${error.message}`, "error");
  }
  const p = found && (pick(found, "provider") ?? found);
  if (p && pick(p, "status") !== "deregistered") {
    registered(p, "Already registered");
  } else {
    $("prepare-registration").disabled = false;
    say($("register-status"), "Not registered yet: fill in your profile.");
  }
}

function registered(p, prefix) {
  $("step-register").dataset.done = "1";
  $("prepare-registration").disabled = true;
  $("sign-registration").hidden = true;
  say($("register-status"), `${prefix} as “${pick(p, "name") ?? wallet.account}”.`, "ok");
  $("prepare-agent").disabled = false;
}

// ---------------------------------------------------------------- review

const TIME_FIELDS = /deadline|expires|At$/;

function describe(value, type, name) {
  if (type === "address") return h("code", { class: "hex wrap" }, value);
  if (type === "bytes32" && /^0x0+$/.test(String(value))) return h("span", { class: "muted" }, "(none)");
  if (type.startsWith("uint") && TIME_FIELDS.test(name)) {
    const seconds = Number(value);
    const rel = seconds - Date.now() / 1000;
    return `${time(seconds)} (${rel >= 0 ? `in ${duration(rel)}` : `${duration(rel)} ago`})`;
  }
  if (type.startsWith("bytes")) return h("code", { class: "hex wrap" }, value);
  return value === "" ? h("span", { class: "muted" }, "(empty)") : String(value);
}

const LABELS = {
  provider: "Provider (you)", agent: "Agent key", nonce: "Nonce", deadline: "Signature valid until",
  expiresAt: "Authorization expires", name: "Name", region: "Region", endpoint: "Endpoint",
  metadataURI: "Metadata URI", metadataUri: "Metadata URI", metadataHash: "Metadata hash",
};

/** Shows the typed data as a table a person can check, and the exact JSON beside it. */
function review(node, answer, intro) {
  const typed = answer.typed_data;
  const fields = typed.types[typed.primaryType] || [];
  const d = typed.domain;
  const chainOk = Number(d.chainId) === wallet.chainId;
  fill(node,
    h("p", {}, intro),
    h("table", { class: "data compact", "aria-label": "What you will sign" },
      h("caption", {}, `${typed.primaryType} for ${d.name} v${d.version}`),
      h("tbody", {},
        fields.map((f) => h("tr", {},
          h("th", { scope: "row" }, LABELS[f.name] ?? f.name),
          h("td", {}, describe(typed.message[f.name], f.type, f.name)))),
        h("tr", {}, h("th", { scope: "row" }, "Contract"), h("td", {}, h("code", { class: "hex wrap" }, d.verifyingContract))),
        h("tr", {}, h("th", { scope: "row" }, "Chain"), h("td", {}, String(d.chainId),
          chainOk ? "" : h("strong", { class: "status", "data-kind": "error" }, ` – your wallet is on chain ${wallet.chainId}`))),
        h("tr", {}, h("th", { scope: "row" }, "EIP-712 digest"), h("td", {}, h("code", { class: "hex wrap" }, answer.digest))))),
    h("details", {}, h("summary", {}, "Exact typed data (eth_signTypedData_v4)"),
      h("pre", {}, JSON.stringify(typed, null, 2))),
  );
  node.hidden = false;
  return chainOk;
}

// ---------------------------------------------------------------- progress

function progress(list, steps) {
  fill(list, steps.map((text, i) => h("li", { "data-step": i }, text)));
  return {
    at(i, text) {
      [...list.children].forEach((li, j) => {
        li.dataset.state = j < i ? "done" : j === i ? "active" : "";
      });
      if (text) list.children[i].textContent = text;
    },
    done(i, text) {
      list.children[i].dataset.state = "done";
      if (text) list.children[i].textContent = text;
    },
    fail(i, text) {
      list.children[i].dataset.state = "failed";
      if (text) list.children[i].textContent = text;
    },
  };
}

async function sign(typed) {
  return provider().request({
    method: "eth_signTypedData_v4",
    params: [wallet.account, JSON.stringify(typed)],
  });
}

/** Signs, relays and waits until `indexed(providerJson)` holds; reports each stage. */
async function submit(answer, list, status, indexed, what) {
  const track = progress(list, ["Sign in your wallet", "Relay the transaction", "Wait for the indexer"]);
  let stage = 0;
  try {
    track.at(0);
    const signature = await sign(answer.typed_data);
    track.done(0, "Signed");
    stage = 1;
    track.at(1);
    const relayed = await api("/v1/relay", { typed_data: answer.typed_data, signature });
    track.done(1, `Transaction sent: ${relayed.tx_hash}`);
    list.children[1].dataset.tx = relayed.tx_hash;
    stage = 2;
    track.at(2);
    const started = Date.now();
    for (;;) {
      const found = await readProvider(wallet.account);
      const p = found && (pick(found, "provider") ?? found);
      if (p && (await indexed(p, found))) {
        track.done(2, `Indexed at block ${pick(found, "as_of_block") ?? "?"}`);
        list.children[2].dataset.state = "done";
        list.dataset.indexed = "1";
        return p;
      }
      if (Date.now() - started > INDEX_TIMEOUT_MS) {
        throw new Error("the transaction was sent but the explorer has not shown it yet; check again later");
      }
      await sleep(POLL_MS);
    }
  } catch (error) {
    const message = error instanceof ApiProblem ? error.message : error.message || String(error);
    track.fail(stage, `${["Signing", "Relaying", "Indexing"][stage]} failed: ${message}`);
    say(status, `${what} did not complete: ${message}`, "error");
    return null;
  }
}

// ---------------------------------------------------------------- registration

async function prepareRegistration(event) {
  event.preventDefault();
  const form = new FormData($("register-form"));
  const body = { provider: wallet.account };
  for (const key of ["name", "region", "endpoint", "metadata_uri"]) body[key] = String(form.get(key) || "").trim();
  try {
    pending.registration = await api("/v1/typed-data/registration", body);
  } catch (error) {
    say($("register-status"), `Could not prepare the registration: ${error.message}`, "error");
    return;
  }
  const ok = review($("registration-review"), pending.registration,
    "Your wallet will ask you to sign exactly this. It costs no gas: the relayer pays.");
  $("sign-registration").hidden = false;
  $("sign-registration").disabled = !ok;
  say($("register-status"), ok ? "Check the details, then sign." : "Switch your wallet to the registry's chain.", ok ? "info" : "error");
}

async function signRegistration() {
  $("sign-registration").disabled = true;
  say($("register-status"), "Waiting for your wallet…");
  const p = await submit(pending.registration, $("registration-progress"), $("register-status"),
    async () => true, "The registration");
  if (p) registered(p, "Registered");
  else $("sign-registration").disabled = false;
}

// ---------------------------------------------------------------- agent authorization

async function agentsOf(p, address) {
  let agents = pick(p, "agents");
  if (!Array.isArray(agents)) {
    try {
      agents = (await api(`/v1/providers/${address}/agents`)).items ?? [];
    } catch {
      agents = [];
    }
  }
  return agents.map((a) => String(typeof a === "object" ? pick(a, "agent", "address") : a).toLowerCase());
}

async function prepareAgent(event) {
  event.preventDefault();
  const form = new FormData($("agent-form"));
  const agent = String(form.get("agent") || "").trim();
  const days = Number(form.get("days") || 365);
  const body = {
    provider: wallet.account,
    agent,
    expires_at: Math.floor(Date.now() / 1000) + Math.round(days * 86400),
  };
  try {
    pending.agent = await api("/v1/typed-data/agent-authorization", body);
  } catch (error) {
    say($("agent-status"), `Could not prepare the authorization: ${error.message}`, "error");
    return;
  }
  const ok = review($("agent-review"), pending.agent,
    "This lets the agent key sign attestations for your GPUs until it expires; you can revoke it at any time.");
  $("sign-agent").hidden = false;
  $("sign-agent").disabled = !ok;
  say($("agent-status"), ok ? "Check the details, then sign." : "Switch your wallet to the registry's chain.", ok ? "info" : "error");
}

async function signAgent() {
  $("sign-agent").disabled = true;
  const agent = String(pending.agent.typed_data.message.agent).toLowerCase();
  say($("agent-status"), "Waiting for your wallet…");
  const p = await submit(pending.agent, $("agent-progress"), $("agent-status"),
    async (prov) => (await agentsOf(prov, wallet.account)).includes(agent), "The authorization");
  if (p) {
    $("step-agent").dataset.done = "1";
    fill($("agent-status"), "Agent authorized. See it on ",
      h("a", { href: `/#/provider/${wallet.account}` }, "your provider page"), ".");
    $("agent-status").dataset.kind = "ok";
  } else {
    $("sign-agent").disabled = false;
  }
}

// ---------------------------------------------------------------- start

$("connect").addEventListener("click", connect);
$("register-form").addEventListener("submit", prepareRegistration);
$("sign-registration").addEventListener("click", signRegistration);
$("agent-form").addEventListener("submit", prepareAgent);
$("sign-agent").addEventListener("click", signAgent);
if (provider()?.on) {
  provider().on("accountsChanged", () => connect());
  provider().on("chainChanged", () => connect());
}
if (!provider()) say($("wallet-status"), "No wallet found: install or unlock a browser wallet (EIP-1193).", "error");
