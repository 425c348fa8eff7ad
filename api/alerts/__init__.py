"""Webhook alerts of a provider's console.

- :mod:`~api.alerts.store`: subscriptions, their deliveries and log;
- :mod:`~api.alerts.evaluate`: alerts made incrementally from the changes feed, the events it
  leaves out and the watches that come due;
- :mod:`~api.alerts.deliver`: signed deliveries, retried with backoff, disabling after failures;
- :mod:`~api.alerts.signing`: the ``X-Depin-Signature`` header and its check;
- :mod:`~api.alerts.urls`: which URLs the API may call;
- :mod:`~api.alerts.worker`: the two together, in the API process or alone.
"""

from __future__ import annotations

from api.alerts.deliver import Deliverer, Policy
from api.alerts.evaluate import Evaluator, idempotency_key, seed, subscribe
from api.alerts.signing import HEADER, signature, verify
from api.alerts.store import ALERT_EVENTS, AlertStore, Subscription
from api.alerts.urls import check_webhook_url
from api.alerts.worker import AlertRunner, AlertWorker, policy_of

__all__ = [
    "ALERT_EVENTS",
    "HEADER",
    "AlertRunner",
    "AlertStore",
    "AlertWorker",
    "Deliverer",
    "Evaluator",
    "Policy",
    "Subscription",
    "check_webhook_url",
    "idempotency_key",
    "policy_of",
    "seed",
    "signature",
    "subscribe",
    "verify",
]
