"""Which GPU models this oracle deals with: the spec table's, and ``sim:`` ones only where
allowed. One check for the attestation pipeline and the proof service alike."""

from __future__ import annotations

from depin.simulation import is_simulated, real_model
from depin.specs import GpuSpec, by_model_id
from oracle.errors import SimulatedNotAllowed, UnknownModel


def known_model(model_id: str, *, allow_simulated: bool) -> GpuSpec:
    """The spec of ``model_id`` (of the model a ``sim:`` id simulates); refuses a simulated
    model where it is not allowed and a model the table lacks."""
    if is_simulated(model_id) and not allow_simulated:
        raise SimulatedNotAllowed(model_id)
    spec = by_model_id(real_model(model_id))
    if spec is None:
        raise UnknownModel(model_id)
    return spec
