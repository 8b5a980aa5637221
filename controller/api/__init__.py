"""The HTTP JSON API and WebSocket (aiohttp)."""

from .app import build_app

__all__ = ["build_app"]
