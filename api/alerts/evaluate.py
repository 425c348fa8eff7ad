"""Alerts evaluated incrementally: each step reads what the indexer added since the last one
(the changes feed, and the agent and rejection events the feed leaves out), and the watches
that came due; never every subscription.

- ``provider_changed``, ``gpu_unhealthy``, ``attestation_rejected`` fire on their change or
  event, for the subscriptions of the provider it concerns (an in-memory index by provider,
  reloaded only when a subscription changes).
- ``gpu_offline`` (for N epochs), ``attestation_expiring`` and ``agent_expiring`` (within T)
  become *watches* when their change or event arrives (and when a subscription is made, from
  what the inventory holds then): one row per subscription, kind and subject, due at an epoch
  or a time, updated in place (an upsert) rather than deleted and inserted anew. A later change
  about its subject re-arms it (the GPU attested again: its new expiry; the agent authorized
  again; the GPU offline again after it came back) or makes it moot (the GPU came back: no
  longer due; the GPU or the agent revoked: deleted); one that fires, or is dropped when due,
  is no longer due and stays for the next change. An expiry watch already due no later than
  the new expiry's alert time keeps its due time, and when that comes it is re-armed for the
  expiry it then holds: a GPU attested again writes its row, not the due index. A GPU already
  watched as offline stays watched from the first epoch it was missed. Before firing, a watch
  is checked against the inventory (the GPU still offline, the expiry still the one held,
  nothing revoked), so one left by a reorged event, or by a change that reached another
  subscription only (a GPU attested under another provider, a subscription disabled
  meanwhile), does not fire. A change or event at or before a subscription's position (what
  its seeding read) leaves its watches as seeded.
- The changes are read with the provider of the GPU each names (one query), which picks the
  subscriptions concerned; a provider without subscriptions costs no write.

An alert is a delivery row unique on (subscription, alert key): whatever runs twice, it is made
once (an expiring agent alerts once, not on every block). Each step is one transaction of the
shared state under a lock, with the evaluator's cursors in it: two API processes never evaluate
the same change twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.alerts.store import VERSION, Subscription, insert, new_subscription, subscription
from api.inventory import Snapshot, snapshot
from api.inventory._tables import AT, A, G
from api.shared import State, Tx
from depin.attestation import RejectReason
from indexer.models import EVENTS

EV = EVENTS.c
#: the events the changes feed leaves out that alerts need
EVENT_NAMES = ("AgentAuthorized", "AgentRevoked", "AttestationRejected")
PROVIDER_CHANGES = ("provider_registered", "provider_updated", "provider_deregistered")
#: the changes whose alerts go to the subscriptions of the GPU's provider
GPU_CHANGES = ("gpu_offline", "gpu_online", "gpu_unhealthy", "gpu_revoked")
LOCK = "depin.api.alerts.evaluate"
#: an event cursor after every log of a block
END_OF_BLOCK = 2**31 - 1

_SUBS = (
    "id, provider, url, events, offline_epochs, expiring_within_s, secret, created_at, "
    "since_change, since_block, failures, disabled_at, disabled_reason"
)


def _marks(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join("?" * len(values))


def idempotency_key(sub_id: str, alert_key: str) -> str:
    """The key a receiver deduplicates on: the same for every attempt of one alert."""
    return "evt_" + hashlib.sha256(f"{sub_id}|{alert_key}".encode()).hexdigest()[:32]


def _iso(at: float) -> str:
    from api.auth import utc_iso

    return utc_iso(at)


@dataclass
class Cursors:
    change: int = 0
    event_block: int = -1
    event_log: int = END_OF_BLOCK
    version: int = -1


@dataclass
class StepResult:
    changes: int = 0
    events: int = 0
    fired: int = 0
    due: int = 0
    caught_up: bool = True


class _Change(NamedTuple):
    """A row of the changes feed."""

    id: int
    block_number: int
    kind: str
    subject: str | None
    data: dict[str, Any] | None


@dataclass
class _Step:
    """What one step accumulates before it writes."""

    tx: Tx
    known: Snapshot
    at: float
    fired: int = 0
    providers_of_gpus: dict[str, str | None] = field(default_factory=dict)

    @functools.cached_property
    def created_at(self) -> str:
        """The time of the step, as the alerts it makes say it."""
        return _iso(self.at)


class Evaluator:
    """Turns the inventory's new changes and events, and the due watches, into deliveries."""

    def __init__(
        self,
        state: State,
        inventory: Callable[[], Session],
        *,
        clock: Callable[[], float] = time.time,
        batch: int = 1000,
    ) -> None:
        self.state = state
        self.inventory = inventory
        self.clock = clock
        self.batch = batch
        self._version = -2
        self._by_provider: dict[str, list[Subscription]] = {}
        self._by_id: dict[str, Subscription] = {}

    # ------------------------------------------------------------------ the step

    def step(self) -> StepResult:
        """One batch of changes, one of events, and the watches due; caught up when both
        batches were short."""
        result = StepResult()
        with self.state.transaction() as tx:
            tx.lock(LOCK)
            cursors = self._cursors(tx)
            self._load(tx, cursors.version)
            with self.inventory() as session:
                known = snapshot(session)
                step = _Step(tx, known, self.clock())
                changes = self._changes(session, step, cursors.change)
                for change in changes:
                    self._change(session, step, cursors, change)
                    cursors.change = int(change.id)
                # read after the changes: a reorg among them moved the event cursor back
                events = self._events(session, cursors, known.block)
                self._prefetch_providers(session, step, events)
                for event in events:
                    self._event(session, step, event)
                    cursors.event_block, cursors.event_log = (
                        int(event.block_number),
                        int(event.log_index),
                    )
                if len(events) < self.batch:  # every event up to the snapshot's block is read
                    cursors.event_block, cursors.event_log = known.block, END_OF_BLOCK
                result.due = self._due(session, step)
            self._save(tx, cursors)
        result.changes, result.events, result.fired = len(changes), len(events), step.fired
        result.caught_up = len(changes) < self.batch and len(events) < self.batch
        return result

    def run_until_caught_up(self, max_steps: int = 100) -> StepResult:
        total = StepResult()
        for _ in range(max_steps):
            one = self.step()
            total.changes += one.changes
            total.events += one.events
            total.fired += one.fired
            total.due += one.due
            if one.caught_up:
                break
        return total

    # ------------------------------------------------------------------ subscriptions

    def _load(self, tx: Tx, version: int) -> None:
        if version == self._version:
            return
        by_provider: dict[str, list[Subscription]] = defaultdict(list)
        for row in tx.execute(
            f"SELECT {_SUBS} FROM alert_subscriptions WHERE disabled_at IS NULL"
        ).fetchall():
            sub = subscription(row)
            by_provider[sub.provider].append(sub)
        self._by_provider = dict(by_provider)
        self._by_id = {s.id: s for group in self._by_provider.values() for s in group}
        self._version = version

    def _subs(self, provider: str | None, event: str) -> list[Subscription]:
        if provider is None:
            return []
        return [s for s in self._by_provider.get(provider, ()) if event in s.events]

    # ------------------------------------------------------------------ cursors

    @staticmethod
    def _cursors(tx: Tx) -> Cursors:
        values = {
            str(n): int(v)
            for n, v in tx.execute("SELECT name, value FROM alert_cursors").fetchall()
        }
        return Cursors(
            values.get("change", 0),
            values.get("event_block", -1),
            values.get("event_log", END_OF_BLOCK),
            values.get(VERSION, 0),
        )

    @staticmethod
    def _save(tx: Tx, cursors: Cursors) -> None:
        for name, value in (
            ("change", cursors.change),
            ("event_block", cursors.event_block),
            ("event_log", cursors.event_log),
        ):
            moved = tx.execute("UPDATE alert_cursors SET value = ? WHERE name = ?", (value, name))
            if moved.rowcount == 0:
                tx.execute("INSERT INTO alert_cursors (name, value) VALUES (?, ?)", (name, value))

    def start_at_head(self) -> None:
        """Starts a new evaluator's cursors at the inventory's head (the past is not alerted;
        subscriptions seed what matters from the inventory)."""
        with self.state.transaction() as tx:
            tx.lock(LOCK)
            if tx.execute("SELECT 1 FROM alert_cursors WHERE name = 'change'").fetchone():
                return
            with self.inventory() as session:
                known = snapshot(session)
            self._save(tx, Cursors(known.change, known.block, END_OF_BLOCK))

    # ------------------------------------------------------------------ changes

    def _change(self, session: Session, step: _Step, cursors: Cursors, change: Any) -> None:
        kind, subject, data = str(change.kind), change.subject, change.data or {}
        change_id = int(change.id)
        if kind == "reorg":  # the events above the ancestor were replaced: read them again
            ancestor = int(change.block_number)
            if ancestor < cursors.event_block:
                cursors.event_block, cursors.event_log = ancestor, END_OF_BLOCK
            return
        if kind in PROVIDER_CHANGES:
            for sub in self._subs(subject, "provider_changed"):
                if change_id > sub.since_change:
                    self._fire(
                        step,
                        sub,
                        "provider_changed",
                        f"provider_changed:{change_id}",
                        str(subject),
                        {"change": kind, **data, "block_number": int(change.block_number)},
                    )
            return
        if subject is None:
            return
        gpu = str(subject)
        if kind == "gpu_attested":
            provider = data.get("provider")
            step.providers_of_gpus[gpu] = provider
            for sub in self._subs(provider, "attestation_expiring"):
                if change_id > sub.since_change:
                    self._watch_expiry(
                        step.tx, sub, "attestation_expiring", gpu, data["expires_at"]
                    )
        elif kind == "gpu_revoked":
            provider = data.get("provider") or self._provider_of(session, step, gpu)
            subs = self._by_provider.get(provider, []) if provider else []
            fresh = [s.id for s in subs if change_id > s.since_change]
            self._forget(step.tx, gpu, ("attestation_expiring", "gpu_offline"), fresh)
        elif kind == "gpu_online":
            subs = self._subs(self._provider_of(session, step, gpu), "gpu_offline")
            self._disarm(step.tx, gpu, [s.id for s in subs if change_id > s.since_change])
        elif kind == "gpu_offline":
            epoch = int(data.get("epoch", 0))
            for sub in self._subs(self._provider_of(session, step, gpu), "gpu_offline"):
                if change_id > sub.since_change:
                    self._watch_offline(step.tx, sub, gpu, epoch)
        elif kind == "gpu_unhealthy":
            epoch = int(data.get("epoch", 0))
            for sub in self._subs(self._provider_of(session, step, gpu), "gpu_unhealthy"):
                if change_id > sub.since_change:
                    self._fire(
                        step,
                        sub,
                        "gpu_unhealthy",
                        f"gpu_unhealthy:{gpu}:{epoch}",
                        gpu,
                        {"gpu_key": gpu, "epoch": epoch, "gpu_index": data.get("gpu_index")},
                    )

    # ------------------------------------------------------------------ events

    def _events(self, session: Session, cursors: Cursors, head: int) -> list[Any]:
        return list(
            session.execute(
                select(EV.block_number, EV.log_index, EV.tx_hash, EV.name, EV.args)
                .where(
                    or_(
                        EV.block_number > cursors.event_block,
                        and_(
                            EV.block_number == cursors.event_block,
                            EV.log_index > cursors.event_log,
                        ),
                    ),
                    EV.block_number <= head,
                    EV.name.in_(EVENT_NAMES),
                )
                .order_by(EV.block_number, EV.log_index)
                .limit(self.batch)
            ).all()
        )

    def _event(self, session: Session, step: _Step, event: Any) -> None:
        args: dict[str, Any] = event.args or {}
        block = int(event.block_number)
        if event.name == "AttestationRejected":
            gpu = str(args.get("gpuKey"))
            reason = int(args.get("reason", -1))
            for sub in self._subs(self._provider_of(session, step, gpu), "attestation_rejected"):
                if block > sub.since_block:
                    self._fire(
                        step,
                        sub,
                        "attestation_rejected",
                        f"attestation_rejected:{event.tx_hash}:{event.log_index}",
                        gpu,
                        {
                            "gpu_key": gpu,
                            "reason": RejectReason.NAMES.get(reason, f"unknown ({reason})"),
                            "tx_hash": event.tx_hash,
                            "block_number": block,
                        },
                    )
            return
        provider, agent = str(args.get("provider")), str(args.get("agent"))
        for sub in self._subs(provider, "agent_expiring"):
            if block <= sub.since_block:
                continue
            if event.name == "AgentAuthorized":
                self._watch_expiry(step.tx, sub, "agent_expiring", agent, args["expiresAt"])
            else:
                self._forget(step.tx, agent, ("agent_expiring",), [sub.id])

    # ------------------------------------------------------------------ watches

    @staticmethod
    def _forget(tx: Tx, subject: str, kinds: tuple[str, ...], sub_ids: list[str]) -> None:
        """Deletes the watches of ``subject`` for ``kinds`` of the subscriptions ``sub_ids``."""
        if sub_ids:
            tx.execute(
                f"DELETE FROM alert_watches WHERE subscription_id IN ({_marks(sub_ids)}) "
                f"AND kind IN ({_marks(kinds)}) AND subject = ?",
                (*sub_ids, *kinds, subject),
            )

    @staticmethod
    def _disarm(tx: Tx, gpu: str, sub_ids: list[str]) -> None:
        """The GPU came back: its offline watches of ``sub_ids`` are no longer due."""
        if sub_ids:
            tx.execute(
                "UPDATE alert_watches SET due_epoch = NULL "
                f"WHERE subscription_id IN ({_marks(sub_ids)}) AND kind = 'gpu_offline' "
                "AND subject = ? AND due_epoch IS NOT NULL",
                (*sub_ids, gpu),
            )

    @staticmethod
    def _watch_expiry(tx: Tx, sub: Subscription, kind: str, subject: str, expires_at: Any) -> None:
        """Watches ``subject``'s expiry at ``expires_at`` for ``sub``, in place of the one
        watched before. A watch already due no later than the new expiry's alert time keeps
        that time (its index is not written): when it comes, the watch is re-armed at the alert
        time of the expiry it then holds (see :meth:`_due`)."""
        expires = int(expires_at)
        due = float(expires - sub.expiring_within_s)
        key = (sub.id, kind, subject)
        if tx.execute(
            "UPDATE alert_watches SET value = ? "
            "WHERE subscription_id = ? AND kind = ? AND subject = ? AND due_at <= ?",
            (expires, *key, due),
        ).rowcount:
            return
        tx.execute(
            "INSERT INTO alert_watches (subscription_id, kind, subject, value, due_epoch, due_at) "
            "VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (subscription_id, kind, subject) "
            "DO UPDATE SET value = excluded.value, due_at = excluded.due_at",
            (*key, expires, due),
        )

    @staticmethod
    def _watch_offline(tx: Tx, sub: Subscription, gpu: str, since_epoch: int) -> None:
        """Watches ``gpu`` offline since ``since_epoch`` for ``sub``, unless it is watched as
        offline already (from an earlier epoch)."""
        tx.execute(
            "INSERT INTO alert_watches (subscription_id, kind, subject, value, due_epoch, due_at) "
            "VALUES (?, 'gpu_offline', ?, ?, ?, NULL) "
            "ON CONFLICT (subscription_id, kind, subject) DO UPDATE SET value = excluded.value, "
            "due_epoch = excluded.due_epoch WHERE alert_watches.due_epoch IS NULL",
            (sub.id, gpu, since_epoch, since_epoch + sub.offline_epochs - 1),
        )

    def _due(self, session: Session, step: _Step) -> int:
        """Fires (or drops) the watches that came due: offline ones by the latest liveness
        epoch, expiring ones by the clock."""
        tx = step.tx
        rows = []
        if step.known.epoch is not None:
            rows += tx.execute(
                "SELECT subscription_id, kind, subject, value FROM alert_watches "
                "WHERE due_epoch <= ? ORDER BY due_epoch LIMIT ?",
                (step.known.epoch, self.batch),
            ).fetchall()
        rows += tx.execute(
            "SELECT subscription_id, kind, subject, value FROM alert_watches "
            "WHERE due_at <= ? ORDER BY due_at LIMIT ?",
            (step.at, self.batch),
        ).fetchall()
        if not rows:
            return 0
        gpus = {str(r[2]) for r in rows if r[1] != "agent_expiring"}
        gpu_rows = (
            {
                str(g.gpu_key): g
                for g in session.execute(
                    select(G.gpu_key, G.online, G.revoked, G.expires_at, G.last_seen_epoch).where(
                        G.gpu_key.in_(sorted(gpus))
                    )
                ).all()
            }
            if gpus
            else {}
        )
        agents = {str(r[2]) for r in rows if r[1] == "agent_expiring"}
        agent_rows = (
            {
                (str(a.provider), str(a.agent)): a
                for a in session.execute(
                    select(A.provider, A.agent, A.expires_at, A.revoked).where(
                        A.agent.in_(sorted(agents))
                    )
                ).all()
            }
            if agents
            else {}
        )
        for sub_id, kind, subject, value in rows:
            subject, value = str(subject), int(value)
            sub = self._by_id.get(str(sub_id))
            rearm = None
            if sub is not None and kind in ("attestation_expiring", "agent_expiring"):
                at = float(value - sub.expiring_within_s)  # the alert time of what it holds
                rearm = at if at > step.at else None
            tx.execute(  # no longer due (whether it fires or not), or due at its expiry's time
                "UPDATE alert_watches SET due_epoch = NULL, due_at = ? "
                "WHERE subscription_id = ? AND kind = ? AND subject = ?",
                (rearm, sub_id, kind, subject),
            )
            if sub is None or rearm is not None:  # disabled meanwhile; not yet
                continue
            payload: dict[str, Any]
            if kind == "gpu_offline":
                row = gpu_rows.get(subject)
                if row is None or row.online or row.revoked:
                    continue
                since = value
                payload = {
                    "gpu_key": subject,
                    "offline_since_epoch": since,
                    "epochs": int(step.known.epoch or since) - since + 1,
                    "last_seen_epoch": row.last_seen_epoch,
                }
            elif kind in ("attestation_expiring", "agent_expiring"):
                gpu = kind == "attestation_expiring"
                held = gpu_rows.get(subject) if gpu else agent_rows.get((sub.provider, subject))
                expires = value
                if held is None or held.revoked or int(held.expires_at) != expires:
                    continue
                payload = {
                    "gpu_key" if gpu else "agent": subject,
                    "expires_at": expires,
                    "expires_in_s": int(expires - step.at),
                }
            else:
                continue
            self._fire(step, sub, kind, f"{kind}:{subject}:{value}", subject, payload)
        return len(rows)

    # ------------------------------------------------------------------ lookups and firing

    def _changes(self, session: Session, step: _Step, after: int) -> list[Any]:
        """The next batch of the changes feed, each with the provider of the GPU it names (in
        the same query, not one per change)."""
        connection = session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        # the driver's own statement: a select's row processing cost as much as the query
        rows = connection.exec_driver_sql(
            "SELECT c.id, c.block_number, c.kind, c.subject, c.data, g.provider "
            "FROM changes c LEFT JOIN gpus g ON g.gpu_key = c.subject "
            f"WHERE c.id > {mark} ORDER BY c.id LIMIT {mark}",
            (after, self.batch),
        ).all()
        changes = []
        for id_, block, kind, subject, data, provider in rows:
            if provider is not None and kind in GPU_CHANGES:
                step.providers_of_gpus[str(subject)] = str(provider)
            if isinstance(data, str | bytes):  # SQLite's JSON is text; psycopg decodes JSONB
                data = json.loads(data)
            changes.append(_Change(int(id_), int(block), str(kind), subject, data))
        return changes

    @staticmethod
    def _prefetch_providers(session: Session, step: _Step, events: Iterable[Any]) -> None:
        """The providers of every GPU the events name, in one query (not one per event)."""
        wanted = {
            str((e.args or {}).get("gpuKey")) for e in events if e.name == "AttestationRejected"
        }
        keys = sorted(wanted)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for gpu, provider in session.execute(
                select(G.gpu_key, G.provider).where(G.gpu_key.in_(chunk))
            ).all():
                step.providers_of_gpus[str(gpu)] = str(provider)

    def _provider_of(self, session: Session, step: _Step, gpu: str) -> str | None:
        if gpu not in step.providers_of_gpus:
            found = session.execute(select(G.provider).where(G.gpu_key == gpu)).scalar()
            if found is None:
                found = session.execute(
                    select(AT.provider).where(AT.gpu_key == gpu).limit(1)
                ).scalar()
            step.providers_of_gpus[gpu] = None if found is None else str(found)
        return step.providers_of_gpus[gpu]

    @staticmethod
    def _fire(
        step: _Step,
        sub: Subscription,
        event: str,
        alert_key: str,
        subject: str,
        data: dict[str, Any],
    ) -> None:
        key = idempotency_key(sub.id, alert_key)
        body = json.dumps(
            {
                "id": key,
                "event": event,
                "provider": sub.provider,
                "subscription": sub.id,
                "subject": subject,
                "created_at": step.created_at,
                "as_of_block": step.known.block,
                "data": data,
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        inserted = step.tx.execute(
            "INSERT INTO alert_deliveries (subscription_id, alert_key, idempotency_key, event, "
            "body, state, attempts, next_attempt_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) "
            "ON CONFLICT (subscription_id, alert_key) DO NOTHING",
            (sub.id, alert_key, key, event, body, step.at, step.at),
        )
        step.fired += max(inserted.rowcount, 0)


def subscribe(
    state: State,
    inventory: Callable[[], Session],
    provider: str,
    url: str,
    events: tuple[str, ...],
    *,
    offline_epochs: int,
    expiring_within_s: int,
    limit: int,
    at: float,
) -> Subscription:
    """Makes a subscription at the inventory's current position, with the watches of what the
    inventory holds there, under the evaluator's lock: the evaluator cannot move past that
    position meanwhile, so every later change is evaluated for it and no earlier one is."""
    with state.transaction() as tx:
        tx.lock(LOCK)
        with inventory() as session:
            known = snapshot(session)
            sub = new_subscription(
                provider,
                url,
                events,
                offline_epochs=offline_epochs,
                expiring_within_s=expiring_within_s,
                since_change=known.change,
                since_block=known.block,
            )
            insert(tx, sub, limit)
            seed(session, tx, sub, at)
    return sub


def seed(session: Session, tx: Tx, sub: Subscription, at: float) -> None:
    """The watches of what the inventory holds when ``sub`` is made: its GPUs' attestations
    and its agents' authorizations that have yet to expire, and its GPUs that are offline."""
    expiring = (
        ("attestation_expiring", G, G.gpu_key),
        ("agent_expiring", A, A.agent),
    )
    for event, table, subject in expiring:
        if event not in sub.events:
            continue
        for key, expires in session.execute(
            select(subject, table.expires_at).where(
                table.provider == sub.provider, table.revoked.is_(False), table.expires_at > int(at)
            )
        ).all():
            Evaluator._watch_expiry(tx, sub, event, str(key), expires)
    if "gpu_offline" in sub.events:
        for gpu, seen in session.execute(
            select(G.gpu_key, G.last_seen_epoch).where(
                G.provider == sub.provider,
                G.online.is_(False),
                G.revoked.is_(False),
                G.last_seen_epoch.is_not(None),
            )
        ).all():
            Evaluator._watch_offline(tx, sub, str(gpu), int(seen) + 1)
