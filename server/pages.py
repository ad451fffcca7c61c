"""Routes for this feature (filled in by its issue)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
