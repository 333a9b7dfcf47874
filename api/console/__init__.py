"""The web console (French pages over the JSON API); see :mod:`api.console.router`."""

from api.console.router import router

__all__ = ["router"]
