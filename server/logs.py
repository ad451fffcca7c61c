"""Logging set-up: ``PEERLOG_LOG_LEVEL`` for Peerlog's and Tortoise's loggers.

What DEBUG adds is each SQL statement, never its values: the filter on Tortoise's and
aiosqlite's loggers is installed with the sync engine (``sync.engine._NoQueryValues``), so it
holds whatever sets up logging.
"""

from __future__ import annotations

import logging

from sync import engine  # noqa: F401 - installs the filter on the SQL loggers

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str) -> None:
    """Set the level of Peerlog's own loggers and of Tortoise's. ``logging.basicConfig(level=…)``
    alone did nothing once uvicorn had set up logging, so DEBUG came out as INFO."""
    level = level.upper()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=FORMAT)
    # Other libraries stay at INFO at most (aiosqlite's DEBUG lines are one per call).
    root.setLevel(max(logging.getLevelName(level), logging.INFO))
    for name in ("peerlog", "tortoise"):
        logging.getLogger(name).setLevel(level)
