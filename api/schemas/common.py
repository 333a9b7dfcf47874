"""Base models shared by every schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Input(BaseModel):
    """A request body: unknown fields are an error, not silently dropped, so a
    misspelt optional field (``surnumeraire_reson``) cannot go unnoticed."""

    model_config = ConfigDict(extra="forbid")


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


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemOut, "content": {"application/problem+json": {}}, "description": what}
    for status, what in (
        (401, "Missing or invalid bearer token"),
        (403, "Your role cannot do this"),
        (404, "Not found, or not visible to your CPTS"),
        (422, "Invalid input: each wrong field is named with the fix"),
    )
}
