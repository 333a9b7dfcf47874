"""Errors the domain raises when an input breaks one of its rules.

Each error names the offending field and says how to fix it, so that the CLI,
the importers and the API can show the message as it is.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A rule of the domain refused an input."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {problem}. {fix}")


class NotFoundError(LookupError):
    """A referenced object does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class ConflictError(RuntimeError):
    """The state changed under the caller (e.g. the slot was taken meanwhile)."""
