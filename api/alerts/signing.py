"""Webhook bodies signed with HMAC-SHA256, as GitHub and Stripe sign theirs.

``X-Depin-Signature: t=<unix seconds>,sha256=<hex>``, where the MAC is over
``f"{t}.".encode() + body`` with the subscription's secret. A receiver recomputes it over the
raw body it received, compares in constant time, and refuses a ``t`` too far from its clock
(a replayed old delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Depin-Signature"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},sha256={mac.hexdigest()}"


def verify(
    secret: str, body: bytes, header: str, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["sha256"]
    except (KeyError, ValueError):
        return False
    at = time.time() if now is None else now
    if abs(at - timestamp) > tolerance_s:
        return False
    expected = signature(secret, body, timestamp).split("sha256=", 1)[1]
    return hmac.compare_digest(expected, given)
