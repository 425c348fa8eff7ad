"""The messages the API relayed, by provider, with their outcomes from the relayer's ledger."""

from __future__ import annotations

from typing import Any

from api.relay import RELAY, RelayLedger
from api.shared import State, now


class RelayedMessages:
    """Which provider each relayed message was for (the ledger knows only its digest)."""

    def __init__(self, state: State, ledger: RelayLedger) -> None:
        self.state = state
        self.ledger = ledger

    def record(self, ref: str, provider: str, primary_type: str, nonce: int, tx_hash: str) -> None:
        with self.state.transaction() as db:
            db.execute(
                "INSERT INTO relayed_messages (ref, provider, primary_type, nonce, tx_hash, "
                "relayed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING",
                (ref, provider, primary_type, str(nonce), tx_hash, now()),
            )

    def of(self, provider: str, limit: int) -> list[dict[str, Any]]:
        """The provider's relayed messages, newest first, each with its transaction's state
        (``sent`` until settled; then ``mined``, ``reverted``, ``dropped``, ``replaced`` or
        ``cancelled``) and latest hash (a replacement at higher fees has a new one)."""
        with self.state.transaction() as db:
            rows = db.execute(
                "SELECT ref, primary_type, nonce, tx_hash, relayed_at FROM relayed_messages "
                "WHERE provider = ? ORDER BY relayed_at DESC, ref LIMIT ?",
                (provider, limit),
            ).fetchall()
        items = []
        for ref, primary_type, nonce, first_hash, relayed_at in rows:
            records = self.ledger.ledger.find(RELAY, str(ref))
            latest = records[-1] if records else None
            items.append(
                {
                    "digest": ref,
                    "primary_type": primary_type,
                    "nonce": int(nonce),
                    "relayed_at": float(relayed_at),
                    "tx_hash": "0x" + latest.tx_hash.hex() if latest else first_hash,
                    "outcome": str(latest.state) if latest else "unknown",
                }
            )
        return items
