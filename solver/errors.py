"""Errors raised by the matching core.

Bad input must never turn into a wrong answer: every check that fails raises
``InvalidInputError`` (a ``ValueError``) naming the offending slot or request.
"""

from __future__ import annotations


class InvalidInputError(ValueError):
    """The slot pool, a request or the load is malformed; the message names the item."""
