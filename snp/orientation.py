"""An orientation: a care request given a slot, and what happened next.

The lifecycle is a small state machine; every transition is checked here so
that the service layer, the API and the batch plan cannot take a shortcut.
"""

from __future__ import annotations

from enum import StrEnum

from snp.errors import DomainError


class OrientationStatus(StrEnum):
    HELD = "held"  # slot kept for this request for a few minutes
    BOOKED = "booked"  # appointment confirmed to the patient
    EXPIRED = "expired"  # the hold lapsed; capacity went back to the pool
    CANCELLED = "cancelled"
    HONOURED = "honoured"  # the patient was seen
    NO_SHOW = "no_show"
    REDIRECTED_15 = "redirected_15"  # sent to the SAMU-Centre 15
    REDIRECTED_ED = "redirected_ed"  # sent to the emergency department


OUTCOMES = frozenset(
    {
        OrientationStatus.HONOURED,
        OrientationStatus.NO_SHOW,
        OrientationStatus.REDIRECTED_15,
        OrientationStatus.REDIRECTED_ED,
    }
)

_ALLOWED: dict[OrientationStatus, frozenset[OrientationStatus]] = {
    OrientationStatus.HELD: frozenset(
        {OrientationStatus.BOOKED, OrientationStatus.EXPIRED, OrientationStatus.CANCELLED}
    ),
    OrientationStatus.BOOKED: frozenset({OrientationStatus.CANCELLED} | OUTCOMES),
    # An outcome may be corrected (a no-show reclassified as honoured, or a
    # consultation recorded by mistake then cancelled); the ledger then posts
    # reversing entries rather than editing history.
    **{
        outcome: frozenset((OUTCOMES - {outcome}) | {OrientationStatus.CANCELLED})
        for outcome in OUTCOMES
    },
    OrientationStatus.EXPIRED: frozenset(),
    OrientationStatus.CANCELLED: frozenset(),
}

# States in which the orientation occupies a place of its slot.
OCCUPYING = frozenset({OrientationStatus.HELD, OrientationStatus.BOOKED} | OUTCOMES)


def check_transition(current: OrientationStatus, target: OrientationStatus) -> None:
    if target not in _ALLOWED[current]:
        allowed = ", ".join(sorted(_ALLOWED[current])) or "none (final state)"
        raise DomainError(
            "status",
            f"an orientation that is {current} cannot become {target}",
            f"Allowed next states: {allowed}.",
        )


def frees_capacity(current: OrientationStatus, target: OrientationStatus) -> bool:
    """Whether moving to ``target`` gives the place back to the slot."""
    return current in OCCUPYING and target not in OCCUPYING
