"""The phone app's routes: language switch, JS catalogue, manifest, service worker, screen shells."""

from __future__ import annotations

from typing import Any

from server import i18n

ROUTES: list[Any] = [*i18n.ROUTES]
