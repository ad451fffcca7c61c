"""Sign-in routes (filled in by the passkey issue)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
