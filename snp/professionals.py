"""Participating professionals and their national identifier (RPPS)."""

from __future__ import annotations

from dataclasses import dataclass

from snp.errors import DomainError
from snp.professions import Profession

RPPS_LENGTH = 11


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def normalise_rpps(value: str) -> str:
    """Return the 11-digit RPPS, accepting the national FHIR form prefixed by "8".

    Length and digits are enforced. The Luhn key holds on nearly every real
    RPPS but is not an official rule (SNP.md), so it is checked separately by
    :func:`rpps_warnings` and never rejects a number on its own.
    """
    text = value.strip().replace(" ", "")
    if len(text) == RPPS_LENGTH + 1 and text.startswith("8"):
        text = text[1:]
    if len(text) != RPPS_LENGTH or not text.isdigit():
        raise DomainError(
            "rpps",
            f"{value!r} is not an RPPS number",
            "An RPPS has exactly 11 digits (optionally prefixed by 8 in the IDNPS form).",
        )
    return text


def rpps_warnings(rpps: str) -> list[str]:
    if luhn_valid(rpps):
        return []
    return [f"RPPS {rpps} fails the Luhn check digit: please double-check it"]


@dataclass(frozen=True, slots=True)
class Professional:
    rpps: str
    last_name: str
    first_name: str
    profession: Profession
    cpts_code: str
    specialty: str | None = None
    accepts_surnumeraire: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rpps", normalise_rpps(self.rpps))
        if not self.last_name.strip():
            raise DomainError("last_name", "is empty", "Give the professional's last name.")
