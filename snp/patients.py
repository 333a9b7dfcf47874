"""The minimum the orientation needs to reach a patient: kept apart, purgeable.

Nothing here enters logs or the audit chain in clear: the trace refers to a
contact by its keyed digest (see :func:`contact_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from snp.errors import DomainError

_PHONE = re.compile(r"^\+?[0-9 .\-]{6,20}$")


@dataclass(frozen=True, slots=True)
class PatientContact:
    display_name: str
    phone: str | None = None
    birth_year: int | None = None

    def __post_init__(self) -> None:
        if not self.display_name.strip() or len(self.display_name) > 120:
            raise DomainError(
                "patient.display_name", "missing or too long", "Give a name of 1-120 characters."
            )
        if self.phone is not None and not _PHONE.match(self.phone):
            raise DomainError(
                "patient.phone", "not a phone number", "Use digits, spaces, dots or dashes."
            )
        if self.birth_year is not None and not 1900 <= self.birth_year <= 2100:
            raise DomainError("patient.birth_year", "out of range", "Give a year like 1984.")

    def __repr__(self) -> str:  # keep identity out of tracebacks and logs
        return "PatientContact(<redacted>)"


def contact_digest(key: bytes, contact: PatientContact) -> str:
    """A keyed hash that lets the trace refer to a patient without naming them."""
    material = f"{contact.display_name}|{contact.phone or ''}|{contact.birth_year or ''}"
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()
