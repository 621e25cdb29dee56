"""The one check every state change makes against its model's transition mapping (bounties,
claims, submissions, payouts, Checkout sessions): the mappings live beside the models."""

from collections.abc import Mapping

from market.core.errors import ApplicationError


def transition_check(
    transitions: Mapping[str, frozenset[str]], *, old: str, new: str, label: str
) -> None:
    """Refuse (409 ``invalid_transition``) a move the mapping beside the model does not allow.
    ``label`` names the row for the message ("Claim #12")."""
    if new not in transitions.get(old, frozenset()):
        raise ApplicationError(
            "invalid_transition", f"{label} cannot go from {old} to {new}", status=409
        )
