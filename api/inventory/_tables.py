"""Short names for the columns of the indexer's tables, as the inventory's statements use them."""

from __future__ import annotations

from indexer.models import Agent, Attestation, Change, Checkpoint, Gpu, LivenessEpoch, Provider

G = Gpu.__table__.c
P = Provider.__table__.c
A = Agent.__table__.c
AT = Attestation.__table__.c
L = LivenessEpoch.__table__.c
CH = Change.__table__.c
CP = Checkpoint.__table__.c

#: the GPUs with their providers' rows (a GPU whose provider is unknown keeps NULL there)
GPU_SOURCE = Gpu.__table__.outerjoin(Provider.__table__, P.address == G.provider)
