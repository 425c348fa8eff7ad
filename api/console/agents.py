"""Whose an agent key is, as the inventory has indexed it: the console builds the typed data
that renews or revokes an agent key only for the provider that authorized it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import AgentRevokedError, NotOwnerError, UnknownAgentError
from api.inventory._tables import A
from indexer.models import Agent


@dataclass(frozen=True)
class OwnedAgent:
    provider: str
    agent: str
    expires_at: int
    revoked: bool


def owned_agent(session: Session, provider: str, agent: str) -> OwnedAgent:
    """``provider``'s authorization of ``agent``; 404 ``unknown_agent`` when no provider ever
    authorized it, 403 ``not_owner`` when only other providers did."""
    rows = session.execute(
        select(Agent.__table__).where(A.agent == agent).order_by(A.provider)
    ).all()
    for row in rows:
        if row.provider == provider:
            return OwnedAgent(row.provider, row.agent, int(row.expires_at), bool(row.revoked))
    if rows:
        raise NotOwnerError(
            f"the agent key {agent} is another provider's; {provider} never authorized it"
        )
    raise UnknownAgentError(
        f"no provider authorized the agent key {agent} (as of the indexed blocks)", agent=agent
    )


def revocable(owned: OwnedAgent) -> OwnedAgent:
    """``owned``, unless its authorization is revoked already (409 ``agent_revoked``)."""
    if owned.revoked:
        raise AgentRevokedError(
            f"the agent key {owned.agent} of {owned.provider} is revoked already",
            agent=owned.agent,
        )
    return owned
