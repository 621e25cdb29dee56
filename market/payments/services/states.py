"""The one check every state change here makes against its model's transition mapping."""

from collections.abc import Mapping

from market.core.errors import ApplicationError


def transition_check(
    transitions: Mapping[str, frozenset[str]], *, old: str, new: str, label: str
) -> None:
    """Refuse (409 ``invalid_transition``) a move the mapping beside the model does not allow."""
    if new not in transitions[old]:
        raise ApplicationError(
            "invalid_transition", f"{label} cannot go from {old} to {new}", status=409
        )
