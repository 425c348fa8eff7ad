"""The provider console in headless Chromium: sign-in with the injected EIP-1193 test wallet
(personal_sign of the EIP-4361 message, signed in Python by eth-account), the fleet the
indexer mirrored, an agent key renewed and another revoked (typed data the wallet signs,
relayed, then indexed), an API token made and revoked, a webhook URL refused by name,
sign-out."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from test_onboard_page import InjectedWallet
from web_helpers import Stack, chain_now

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PERSONAL_SIGN_JS = """
(() => {
  const request = window.ethereum.request.bind(window.ethereum);
  window.ethereum.request = async ({ method, params }) => {
    if (method === "personal_sign") return window.depinTestPersonalSign(params[0], params[1]);
    return request({ method, params });
  };
})();
"""


class ConsoleWallet(InjectedWallet):
    """The onboarding suite's injected wallet, answering personal_sign too (SIWE)."""

    messages: list[str]

    def personal_sign(self, message_hex: str, address: str) -> str:
        assert address.lower() == self.account.address.lower(), address
        self.messages.append(bytes.fromhex(message_hex[2:]).decode())
        signed = Account.sign_message(encode_defunct(hexstr=message_hex), self.account.key)
        return "0x" + bytes(signed.signature).hex()

    def install(self, page: Any, chain_id: int) -> None:
        self.messages = []
        super().install(page, chain_id)
        page.expose_function("depinTestPersonalSign", self.personal_sign)
        page.add_init_script(PERSONAL_SIGN_JS)


def test_a_provider_signs_in_sees_its_fleet_and_manages_tokens(
    stack: Stack, page: Any, tmp_path: Path, make_account: Callable[..., LocalAccount]
) -> None:
    acme = stack.providers["acme"]
    spare = make_account(fund=False)  # a second agent key of acme's, to revoke
    stack.registry.authorize_agent(acme, spare.address, chain_now(stack.w3) + 10 * 86400)
    stack.sync()
    wallet = ConsoleWallet(acme)
    wallet.install(page, int(stack.w3.eth.chain_id))
    page.goto(stack.url + "/console")

    page.get_by_role("button", name="Sign in with wallet").click()
    page.locator("#account", has_text=acme.address).wait_for()
    (message,) = wallet.messages
    assert message.startswith(f"{stack.url.removeprefix('http://')} wants you to sign in")
    assert f"\n{acme.address}\n" in message and f"URI: {stack.url}/console" in message

    # the fleet: acme's two GPUs (its H100 live, its L4 not), its agent
    mine = [g for g in stack.gpus if g.provider == acme.address]
    page.locator("#gpu-count", has_text=str(len(mine))).wait_for()
    rows = page.locator("#gpus tbody tr[data-gpu]")
    assert rows.count() == len(mine)
    assert {rows.nth(i).get_attribute("data-gpu") for i in range(rows.count())} == {
        g.key for g in mine
    }
    page.locator("#gpus tbody tr", has_text="online").first.wait_for()
    page.locator(
        f"#agents tr[data-agent='{stack.agents['acme'].address}']", has_text="authorized"
    ).wait_for()

    # renew acme's agent key until a date: typed data signed, relayed, the new expiry indexed
    agent = stack.agents["acme"].address
    row = page.locator(f"#agents tr[data-agent='{agent}']")
    row.get_by_role("button", name="Renew").click()
    page.locator("#agent-action-title", has_text=f"Renew agent {agent}").wait_for()
    page.get_by_label("New expiry").select_option("date")
    day = datetime.fromtimestamp(time.time() + 200 * 86400, UTC).date()
    page.get_by_label("Expires on (UTC)").fill(day.isoformat())
    page.get_by_role("button", name="Sign and renew").click()
    page.locator('#agent-progress[data-indexed="1"]').wait_for(timeout=60_000)
    page.locator("#agent-status", has_text=f"Agent {agent} renewed until").wait_for()
    (renewal,) = wallet.signed
    assert renewal["primaryType"] == "AgentAuthorization"
    assert renewal["message"]["provider"] == acme.address and renewal["message"]["agent"] == agent
    expires = int(renewal["message"]["expiresAt"])
    assert datetime.fromtimestamp(expires, UTC).date() == day
    row.locator(f"td[data-expires='{expires}']", has_text=day.isoformat()).wait_for()
    assert stack.registry.agent_expiry(acme.address, agent) == expires
    assert row.filter(has_text="authorized").count() == 1

    # revoke the other: a refusal in the wallet is shown, then the confirmed revocation lands
    spare_row = page.locator(f"#agents tr[data-agent='{spare.address}']")
    spare_row.filter(has_text="authorized").wait_for()
    spare_row.get_by_role("button", name="Revoke").click()
    page.locator("#agent-action-title", has_text=f"Revoke agent {spare.address}").wait_for()
    wallet.refuse = True
    page.get_by_role("button", name="Sign and revoke").click()
    page.locator("#agent-status", has_text="User rejected the request").wait_for()
    page.locator("#agent-progress li[data-state='failed']", has_text="Signing failed").wait_for()
    wallet.refuse = False
    page.get_by_role("button", name="Sign and revoke").click()
    page.locator("#agent-status", has_text=f"Agent {spare.address} revoked.").wait_for(
        timeout=60_000
    )
    spare_row.filter(has_text="revoked").wait_for()
    assert spare_row.get_by_role("button", name="Revoke").count() == 0
    assert [t["primaryType"] for t in wallet.signed] == ["AgentAuthorization", "AgentRevocation"]
    assert not stack.registry.is_authorized_agent(acme.address, spare.address)
    assert stack.registry.is_authorized_agent(acme.address, agent)
    page.screenshot(path=str(tmp_path / "console-agents.png"), full_page=True)

    # an API token, shown once, that works until it is revoked
    page.fill("#t-name", "ci")
    page.get_by_label("relay").check()
    page.get_by_role("button", name="Make token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("depin_pat_")
    who = httpx.get(f"{stack.url}/v1/console/whoami", headers={"Authorization": f"Bearer {token}"})
    assert who.status_code == 200 and who.json()["provider"] == acme.address
    assert who.json()["scopes"] == ["read", "relay"]
    page.locator("#tokens tbody tr", has_text="ci").get_by_role("button", name="Revoke").click()
    page.locator("#tokens tbody tr", has_text="revoked").wait_for()
    gone = httpx.get(f"{stack.url}/v1/console/whoami", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401 and gone.json()["code"] == "token_revoked"

    # a webhook on this machine is refused outside a dev stack that allows it, by name
    page.fill("#w-url", "http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Subscribe").click()
    page.locator("#hook-status", has_text="not a public address").wait_for()
    # a public address (a literal: no DNS needed) is subscribed; its secret is shown once
    page.fill("#w-url", "https://93.184.216.34/hook")
    page.get_by_label("agent expiring").check()
    page.get_by_role("button", name="Subscribe").click()
    assert page.locator("#new-secret").inner_text().strip().startswith("whsec_")
    row = page.locator("#hooks tbody tr[data-subscription]")
    row.filter(has_text="agent expiring").filter(has_text="active").wait_for()
    row.get_by_role("button", name="Delete").click()
    page.locator("#hooks tbody", has_text="No webhook yet").wait_for()

    page.screenshot(path=str(tmp_path / "console-signed-in.png"), full_page=True)

    # sign-out: the console goes, and the session token is refused from then on
    session = page.evaluate(
        "() => JSON.parse(sessionStorage.getItem('depin.console.session')).token"
    )
    page.get_by_role("button", name="Sign out").click()
    page.locator("#signin-status", has_text="Signed out").wait_for()
    assert page.locator("#console").is_hidden()
    after = httpx.get(
        f"{stack.url}/v1/console/whoami", headers={"Authorization": f"Bearer {session}"}
    )
    assert after.status_code == 401 and after.json()["code"] == "session_revoked"
