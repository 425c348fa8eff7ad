"""The webhook signature (``X-Depin-Signature: t=...,sha256=...``) and which URLs the API may
call, each refusal by its code."""

from __future__ import annotations

import time

import pytest

from api.alerts import check_webhook_url, signature, verify
from api.errors import ApiError

BODY = b'{"event":"gpu_offline","id":"evt_1"}'


def test_a_signature_verifies_only_for_its_secret_body_and_time() -> None:
    now = int(time.time())
    header = signature("whsec_a", BODY, now)
    assert header.startswith(f"t={now},sha256=") and len(header.split("sha256=")[1]) == 64
    assert verify("whsec_a", BODY, header)
    assert not verify("whsec_b", BODY, header)
    assert not verify("whsec_a", BODY + b" ", header)
    old = signature("whsec_a", BODY, now - 3600)
    assert not verify("whsec_a", BODY, old)  # a replayed old delivery
    assert verify("whsec_a", BODY, old, tolerance_s=7200)
    for malformed in ("", "t=1", "sha256=00", "t=x,sha256=00", "garbage"):
        assert not verify("whsec_a", BODY, malformed)


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda _host, _port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
    ],
)
def test_a_url_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(ApiError) as refused:
        check_webhook_url(
            "https://hooks.example/x",
            allow_http=False,
            allow_private=False,
            resolver=resolver("93.184.216.34", address),
        )
    assert refused.value.code == "private_webhook_url"
    assert refused.value.extra["addresses"] == [address]
    # allowed by the operator (the dev stack), it is not even resolved
    assert check_webhook_url(
        "https://hooks.example/x", allow_http=False, allow_private=True, resolver=resolver()
    )


def test_public_https_urls_pass_and_the_rest_are_refused_by_name() -> None:
    public = resolver("93.184.216.34", "2606:2800:220:1::1")
    url = "https://hooks.example:8443/x?y=1"
    assert check_webhook_url(url, allow_http=False, allow_private=False, resolver=public) == url
    cases = {
        "http://hooks.example/x": "invalid_webhook_url",
        "ftp://hooks.example/x": "invalid_webhook_url",
        "https:///x": "invalid_webhook_url",
        "https://u:p@hooks.example/x": "invalid_webhook_url",
        "https://hooks.example/x#frag": "invalid_webhook_url",
        "https://[::1/x": "invalid_webhook_url",
    }
    for bad, code in cases.items():
        with pytest.raises(ApiError) as refused:
            check_webhook_url(bad, allow_http=False, allow_private=False, resolver=public)
        assert refused.value.code == code, bad
    assert check_webhook_url(
        "http://hooks.example/x", allow_http=True, allow_private=False, resolver=public
    )

    def nowhere(_host: str, _port: int) -> list[str]:
        raise OSError("Name or service not known")

    for lookup in (nowhere, resolver()):
        with pytest.raises(ApiError) as refused:
            check_webhook_url(url, allow_http=False, allow_private=False, resolver=lookup)
        assert refused.value.code == "unresolvable_webhook_url"
