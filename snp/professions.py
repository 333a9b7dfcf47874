"""Health professions, by their national code (ANS nomenclature TRE_G15)."""

from __future__ import annotations

from enum import IntEnum

from snp.errors import DomainError


class Profession(IntEnum):
    MEDECIN = 10
    PHARMACIEN = 21
    CHIRURGIEN_DENTISTE = 40
    SAGE_FEMME = 50
    INFIRMIER = 60
    MASSEUR_KINESITHERAPEUTE = 70

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Profession.MEDECIN: "médecin",
    Profession.PHARMACIEN: "pharmacien",
    Profession.CHIRURGIEN_DENTISTE: "chirurgien-dentiste",
    Profession.SAGE_FEMME: "sage-femme",
    Profession.INFIRMIER: "infirmier",
    Profession.MASSEUR_KINESITHERAPEUTE: "masseur-kinésithérapeute",
}

GENERAL_PRACTICE = "SM54"  # ANS specialty code for médecine générale


def parse_profession(value: str | int) -> Profession:
    """Accept the national code (``10``) or the enum name (``medecin``)."""
    text = str(value).strip()
    if text.isdigit() and int(text) in Profession._value2member_map_:
        return Profession(int(text))
    by_name = {p.name.lower(): p for p in Profession}
    found = by_name.get(text.lower().replace("-", "_"))
    if found is None:
        valid = ", ".join(f"{p.value} ({p.name.lower()})" for p in Profession)
        raise DomainError("profession", f"unknown profession {text!r}", f"Use one of: {valid}.")
    return found
