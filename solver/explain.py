"""Human sentences for proposals and plan decisions (English; the API may translate)."""

from __future__ import annotations

_UNSERVED = {
    "profession": "no slot of this profession",
    "modality": "no slot with a modality the request accepts",
    "too_far": "every slot with an accepted modality is beyond the search radius",
    "outside_time_window": "every nearby slot starts outside [earliest, deadline]",
    "no_capacity": "no capacity left on the remaining slots",
    "not_mutualised": "the remaining slots belong to CPTS without a mutualisation agreement",
    "sas_reserved": "the remaining slots are reserved for SAS requests",
}
TAKEN = "every feasible slot went to other requests that needed it more (capacity exhausted)"


def unserved_reason(excluded: dict[str, int], feasible: int) -> str:
    """Why a request got no slot: the rule that removed the last candidates."""
    if feasible:
        return TAKEN
    last = [rule for rule, count in excluded.items() if count]
    return _UNSERVED[last[-1]] if last else "the slot pool is empty"


def duration(minutes: int) -> str:
    hours, mins = divmod(max(minutes, 0), 60)
    return f"{hours} h {mins:02d}" if hours else f"{mins} min"


def describe(
    slot_id: int,
    professional: int,
    km: float | None,
    wait_minutes: int,
    terms: dict[str, int],
    daily_rank: int,
) -> str:
    """One sentence that says where, when, and what moved the slot up or down."""
    where = "by teleconsultation" if km is None else f"{km:.1f} km away"
    parts = [
        f"Slot {slot_id} with professional {professional}: {where}, starts in "
        f"{duration(wait_minutes)}"
    ]
    if terms.get("other_cpts", 0):
        parts.append("another CPTS (mutualisation)")
    if terms.get("surnumeraire", 0):
        parts.append("seen as surnuméraire (beyond the planned agenda)")
    if daily_rank > 1:
        parts.append(
            f"would be this professional's SNP patient no. {daily_rank} of the day "
            f"(fairness +{terms.get('fairness_daily', 0)})"
        )
    if terms.get("sas_weekly", 0):
        parts.append("past the weekly SAS cap of this doctor")
    return "; ".join(parts) + "."


def with_medecin_traitant(sentence: str, is_medecin_traitant: bool) -> str:
    return sentence[:-1] + "; the patient's médecin traitant." if is_medecin_traitant else sentence
