"""``peerlog demo``: a realistic synthetic program (filled in by the foundation issue)."""

from __future__ import annotations

from server.settings import Settings


async def run(settings: Settings, *, seed: int = 2026, if_empty: bool = False) -> None:
    raise NotImplementedError("the demo generator is not written yet")
