"""The onboarding page in headless Chromium with an injected EIP-1193 test wallet.

The wallet is a small JavaScript object that answers eth_requestAccounts and eth_chainId itself
and forwards eth_signTypedData_v4 to Python, where eth-account signs with a fresh key. The page
then relays through the real API, and the indexer's view of the chain decides when it is done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web_helpers import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

WALLET_JS = """
(() => {
  const account = %(account)s;
  const chainId = %(chain)s;
  window.ethereum = {
    isDepinInjectedWallet: true,
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
      if (method === "eth_chainId") return chainId;
      if (method === "eth_signTypedData_v4") return window.depinTestSign(params[0], params[1]);
      const error = new Error(`unsupported method ${method}`);
      error.code = 4200;
      throw error;
    },
    on() {},
    removeListener() {},
  };
})();
"""


class InjectedWallet:
    """The Python side of the injected wallet: signs what the page asks, and records it."""

    def __init__(self, account: LocalAccount, *, refuse: bool = False) -> None:
        self.account = account
        self.refuse = refuse
        self.signed: list[dict[str, Any]] = []

    def sign(self, address: str, typed_json: str) -> str:
        assert address.lower() == self.account.address.lower(), address
        if self.refuse:
            raise RuntimeError("User rejected the request.")
        typed = json.loads(typed_json)
        self.signed.append(typed)
        signed = Account.sign_typed_data(self.account.key, full_message=typed)
        return "0x" + bytes(signed.signature).hex()

    def install(self, page: Any, chain_id: int) -> None:
        page.expose_function("depinTestSign", self.sign)
        page.add_init_script(
            WALLET_JS
            % {"account": json.dumps(self.account.address), "chain": json.dumps(hex(chain_id))}
        )


def test_onboarding_registers_and_authorizes_an_agent(
    stack: Stack, page: Any, make_account: Callable[..., LocalAccount], tmp_path: Path
) -> None:
    wallet = InjectedWallet(make_account(fund=False))  # gasless: the wallet holds no ether
    agent = make_account(fund=False)
    wallet.install(page, int(stack.w3.eth.chain_id))
    page.goto(stack.url + "/onboard")

    page.get_by_role("button", name="Connect wallet").click()
    page.locator("#account", has_text=wallet.account.address).wait_for()
    page.locator("#register-status", has_text="Not registered yet").wait_for()

    page.get_by_label("Name").fill("Cirrus GPU")
    page.get_by_label("Region").fill("ap-south")
    page.get_by_label("Endpoint").fill("https://gpu.cirrus.example")
    page.get_by_role("button", name="Review registration").click()
    review = page.locator("#registration-review")
    review.locator("caption", has_text="Registration for").wait_for()
    shown = review.inner_text()
    for expected in ("Cirrus GPU", "ap-south", wallet.account.address, stack.registry.address):
        assert expected in shown
    page.screenshot(path=str(tmp_path / "onboard-review.png"), full_page=True)

    page.get_by_role("button", name="Sign and submit registration").click()
    page.locator('#registration-progress[data-indexed="1"]').wait_for(timeout=60_000)
    page.locator("#register-status", has_text="Registered as “Cirrus GPU”").wait_for()
    assert [t["primaryType"] for t in wallet.signed] == ["Registration"]
    assert wallet.signed[0]["message"]["name"] == "Cirrus GPU"
    tx = page.locator("#registration-progress li").nth(1).get_attribute("data-tx")
    assert tx and stack.w3.eth.get_transaction_receipt(tx)["status"] == 1

    page.get_by_label("Agent address").fill(agent.address)
    page.get_by_role("button", name="Review authorization").click()
    page.locator("#agent-review", has_text=agent.address).wait_for()
    page.get_by_role("button", name="Sign and submit authorization").click()
    page.locator('#agent-progress[data-indexed="1"]').wait_for(timeout=60_000)
    page.locator("#agent-status", has_text="Agent authorized").wait_for()
    assert [t["primaryType"] for t in wallet.signed] == ["Registration", "AgentAuthorization"]
    page.screenshot(path=str(tmp_path / "onboard-done.png"), full_page=True)

    with httpx.Client(base_url=stack.url) as client:
        listed = client.get("/v1/providers", params={"limit": 200}).json()
        assert wallet.account.address in {p["address"] for p in listed["items"]}
        detail = client.get(f"/v1/providers/{wallet.account.address}").json()["provider"]
    assert detail["name"] == "Cirrus GPU"
    assert detail["region"] == "ap-south"
    assert [(a["agent"], a["authorized"]) for a in detail["agents"]] == [(agent.address, True)]
    assert stack.registry.is_authorized_agent(wallet.account.address, agent.address)


def test_onboarding_without_a_wallet_says_what_to_do(stack: Stack, page: Any) -> None:
    page.goto(stack.url + "/onboard")
    page.locator("#wallet-status", has_text="No wallet found").wait_for()
    assert page.get_by_role("button", name="Review registration").is_disabled()


def fill_profile(page: Any, name: str) -> None:
    page.get_by_role("button", name="Connect wallet").click()
    page.locator("#register-status", has_text="Not registered yet").wait_for()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Review registration").click()
    page.locator("#registration-review caption", has_text="Registration for").wait_for()


def test_onboarding_refuses_to_sign_for_another_chain(
    stack: Stack, page: Any, make_account: Callable[..., LocalAccount]
) -> None:
    wallet = InjectedWallet(make_account(fund=False))
    wallet.install(page, 1)  # the wallet is on mainnet, the registry on anvil
    page.goto(stack.url + "/onboard")
    fill_profile(page, "Wrong Chain Ltd")
    assert "your wallet is on chain 1" in page.locator("#registration-review").inner_text()
    assert page.get_by_role("button", name="Sign and submit registration").is_disabled()
    page.locator("#register-status", has_text="Switch your wallet").wait_for()
    assert wallet.signed == []


def test_onboarding_reports_a_refused_signature(
    stack: Stack, page: Any, make_account: Callable[..., LocalAccount]
) -> None:
    wallet = InjectedWallet(make_account(fund=False), refuse=True)
    wallet.install(page, int(stack.w3.eth.chain_id))
    page.goto(stack.url + "/onboard")
    fill_profile(page, "Hesitant GPU")
    page.get_by_role("button", name="Sign and submit registration").click()
    failed = page.locator('#registration-progress li[data-state="failed"]')
    failed.wait_for()
    assert "Signing failed" in failed.inner_text()
    assert "User rejected the request." in failed.inner_text()
    page.locator("#register-status", has_text="did not complete").wait_for()
    # Nothing was relayed, and the user can try again.
    assert page.get_by_role("button", name="Sign and submit registration").is_enabled()
    with httpx.Client(base_url=stack.url) as client:
        assert client.get(f"/v1/providers/{wallet.account.address}").status_code == 404
