"""Request bodies of the HTTP API (pydantic; the same models document the API)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CommandRequest(BaseModel):
    """``POST /api/devices/{id}/commands``."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=32)
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = Field(default=None, max_length=200)
    timeout_s: float | None = Field(default=None, gt=0, le=60)
