"""Which webhook URLs the API may call: https (http only on a dev chain), and, unless the
operator allows it, only hosts whose every address is public (no loopback, private, link-local,
shared, multicast or reserved address), so a subscription cannot make the API reach into its
own network. The check runs when a subscription is made and again before each delivery (a
name may resolve elsewhere later)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from api.errors import (
    InvalidWebhookUrlError,
    PrivateWebhookUrlError,
    UnresolvableWebhookUrlError,
)

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``getaddrinfo``)."""
    infos: list[Any] = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_webhook_url(
    url: str, *, allow_http: bool, allow_private: bool, resolver: Resolver = resolve
) -> str:
    """``url`` if the API may call it; raises the named refusal otherwise."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidWebhookUrlError(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise InvalidWebhookUrlError("the URL must be https://host/... (http on a dev chain)")
    if scheme == "http" and not allow_http:
        raise InvalidWebhookUrlError(
            "only https URLs are called off a dev chain (a body signed in the clear still "
            "leaks what it says)"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrlError("the URL must not carry credentials; verify the signature")
    if parts.fragment:
        raise InvalidWebhookUrlError("the URL must not have a #fragment")
    if allow_private:
        return url
    try:
        addresses = resolver(host, port or (443 if scheme == "https" else 80))
    except (OSError, UnicodeError) as exc:
        raise UnresolvableWebhookUrlError(f"{host} does not resolve: {exc}") from None
    if not addresses:
        raise UnresolvableWebhookUrlError(f"{host} resolves to no address")
    private = [a for a in addresses if not _public(a)]
    if private:
        raise PrivateWebhookUrlError(
            f"{host} resolves to {', '.join(private)}, which is not a public address (the "
            "operator may allow private URLs with DEPIN_API_ALERTS_ALLOW_PRIVATE_URLS)",
            addresses=private,
        )
    return url
