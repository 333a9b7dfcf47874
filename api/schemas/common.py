"""Base models shared by every schema."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, field_validator


class Input(BaseModel):
    """A request body: unknown fields are an error, not silently dropped, so a
    misspelt optional field (``surnumeraire_reson``) cannot go unnoticed."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        """PostgreSQL cannot store a NUL character, nor UTF-8 an unpaired surrogate:
        refuse them here (422) rather than fail at the database (500)."""
        texts = value if isinstance(value, list | tuple | set) else [value]
        for text in texts:
            if isinstance(text, str) and (
                "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)
            ):
                raise ValueError("contains a NUL character or an unpaired surrogate")
        return value


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FieldError(Output):
    field: str
    problem: str
    fix: str


class ProblemOut(Output):
    """RFC 9457 problem details, as every 4xx and 5xx answer carries them."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = []


# The days a query may name. Python and PostgreSQL cannot place year 1 or 9999 in a
# time zone and in UTC both (the conversion overflows: a 500 schemathesis found), and
# no SNP activity falls outside this range.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def day_query(description: str, alias: str | None = None) -> Any:
    """``Query`` for a calendar day: outside FIRST_DAY..LAST_DAY is a 422 naming it."""
    # FastAPI types ge/le as numbers; pydantic applies them to dates all the same.
    return Query(
        alias=alias,
        ge=FIRST_DAY,  # type: ignore[arg-type]
        le=LAST_DAY,  # type: ignore[arg-type]
        description=f"{description} ({FIRST_DAY} to {LAST_DAY})",
    )
