"""Deliveries of alerts to webhook URLs: at least once, signed, retried with exponential backoff,
and a subscription disabled after repeated failures, with the reason in its log.

Each attempt POSTs the alert's body, fixed when the alert was made, with
``X-Depin-Idempotency-Key`` (the same on every attempt: a receiver that saw it already answers
2xx and does nothing), ``X-Depin-Event`` and ``X-Depin-Signature`` (:mod:`api.alerts.signing`).
A 2xx answer delivers it; anything else (another status, a refused or timed-out connection, a
redirect, which is not followed) is a failed attempt: the next one waits
``backoff * 2**(attempts - 1)`` seconds (at most ``backoff_max``), persisted as
``next_attempt_at``, so a restarted API keeps the schedule. After ``max_attempts`` the delivery
is given up; after ``disable_after`` failed attempts in a row the subscription is disabled (its
pending deliveries wait until its provider enables it again).

Several API processes may deliver: an attempt is claimed first (its ``next_attempt_at`` moved
past the attempt's timeout), so two processes do not send it at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from api.alerts import signing
from api.alerts.store import bump_version, log
from api.alerts.urls import Resolver, check_webhook_url, resolve
from api.errors import ApiError
from api.shared import State

_log = logging.getLogger("depin.api.alerts")
LOCK = "depin.api.alerts.deliver"
USER_AGENT = "depin-alerts/1"


@dataclass(frozen=True)
class Policy:
    """When to retry, give up and disable."""

    timeout_s: float = 5.0
    backoff_s: float = 10.0
    backoff_max_s: float = 3600.0
    max_attempts: int = 12
    disable_after: int = 10
    allow_private: bool = False

    def delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** max(attempts - 1, 0)))


@dataclass(frozen=True)
class _Claimed:
    id: int
    subscription_id: str
    idempotency_key: str
    event: str
    body: str
    attempts: int
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    detail: str


class Deliverer:
    """Sends the due deliveries; one :meth:`run_once` per tick."""

    def __init__(
        self,
        state: State,
        policy: Policy,
        *,
        clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
        resolver: Resolver = resolve,
        batch: int = 100,
        concurrency: int = 8,
    ) -> None:
        self.state = state
        self.policy = policy
        self.clock = clock
        self.client = client or httpx.Client(
            timeout=policy.timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )
        self.resolver = resolver
        self.batch = batch
        self.concurrency = concurrency

    def close(self) -> None:
        self.client.close()

    def run_once(self) -> int:
        """Attempts every due delivery once, ``concurrency`` at a time (a slow receiver holds
        one sender, not the others); returns how many were attempted."""
        claimed = self._claim(self.clock())
        if not claimed:
            return 0
        with ThreadPoolExecutor(min(self.concurrency, len(claimed))) as pool:
            outcomes = list(pool.map(self._send, claimed))
        for delivery, outcome in zip(claimed, outcomes, strict=True):
            self._record(delivery, outcome, self.clock())
        return len(claimed)

    def _claim(self, at: float) -> list[_Claimed]:
        with self.state.transaction() as tx:
            tx.lock(LOCK)
            rows = tx.execute(
                "SELECT d.id, d.subscription_id, d.idempotency_key, d.event, d.body, d.attempts, "
                "s.url, s.secret FROM alert_deliveries d "
                "JOIN alert_subscriptions s ON s.id = d.subscription_id "
                "WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND s.disabled_at IS NULL "
                "ORDER BY d.next_attempt_at, d.id LIMIT ?",
                (at, self.batch),
            ).fetchall()
            lease = at + self.policy.timeout_s + 30.0
            for row in rows:
                tx.execute(
                    "UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ?", (lease, row[0])
                )
        return [
            _Claimed(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                int(r[5]),
                str(r[6]),
                str(r[7]),
            )
            for r in rows
        ]

    def _send(self, delivery: _Claimed) -> Outcome:
        try:
            check_webhook_url(
                delivery.url,
                allow_http=True,  # the scheme was checked when the subscription was made
                allow_private=self.policy.allow_private,
                resolver=self.resolver,
            )
        except ApiError as exc:
            return Outcome(False, None, f"refused before sending ({exc.code}): {exc.detail}")
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Depin-Event": delivery.event,
            "X-Depin-Delivery": str(delivery.id),
            "X-Depin-Idempotency-Key": delivery.idempotency_key,
            "Idempotency-Key": delivery.idempotency_key,
            signing.HEADER: signing.signature(delivery.secret, body, int(time.time())),
        }
        try:
            response = self.client.post(delivery.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(False, None, f"no answer within {self.policy.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, "delivered")
        return Outcome(False, response.status_code, f"answered HTTP {response.status_code}")

    def _record(self, delivery: _Claimed, outcome: Outcome, at: float) -> None:
        attempt = delivery.attempts + 1
        with self.state.transaction() as tx:
            if outcome.ok:
                tx.execute(
                    "UPDATE alert_deliveries SET state = 'delivered', attempts = ?, "
                    "delivered_at = ? WHERE id = ?",
                    (attempt, at, delivery.id),
                )
                tx.execute(
                    "UPDATE alert_subscriptions SET failures = 0 WHERE id = ?",
                    (delivery.subscription_id,),
                )
                log(
                    tx,
                    delivery.subscription_id,
                    delivery.id,
                    attempt,
                    "delivered",
                    outcome.status,
                    outcome.detail,
                    at,
                )
                return
            if attempt >= self.policy.max_attempts:
                tx.execute(
                    "UPDATE alert_deliveries SET state = 'failed', attempts = ? WHERE id = ?",
                    (attempt, delivery.id),
                )
                detail = f"{outcome.detail}; given up after {attempt} attempts"
            else:
                delay = self.policy.delay(attempt)
                tx.execute(
                    "UPDATE alert_deliveries SET attempts = ?, next_attempt_at = ? WHERE id = ?",
                    (attempt, at + delay, delivery.id),
                )
                detail = f"{outcome.detail}; next attempt in {delay:g} s"
            log(
                tx,
                delivery.subscription_id,
                delivery.id,
                attempt,
                "failed",
                outcome.status,
                detail,
                at,
            )
            failures = tx.execute(
                "UPDATE alert_subscriptions SET failures = failures + 1 WHERE id = ? "
                "AND disabled_at IS NULL",
                (delivery.subscription_id,),
            )
            if failures.rowcount == 0:
                return
            row = tx.execute(
                "SELECT failures FROM alert_subscriptions WHERE id = ?",
                (delivery.subscription_id,),
            ).fetchone()
            if row is not None and int(row[0]) >= self.policy.disable_after:
                reason = (
                    f"disabled after {int(row[0])} failed delivery attempts in a row; the last: "
                    f"{outcome.detail}"
                )
                tx.execute(
                    "UPDATE alert_subscriptions SET disabled_at = ?, disabled_reason = ? "
                    "WHERE id = ?",
                    (at, reason, delivery.subscription_id),
                )
                log(tx, delivery.subscription_id, None, None, "disabled", None, reason, at)
                bump_version(tx)
                _log.warning("webhook subscription %s %s", delivery.subscription_id, reason)
