"""CSV exports (filled in by the staff-side issue)."""

from __future__ import annotations

import argparse


async def cli_export(args: argparse.Namespace) -> None:
    raise NotImplementedError("exports are not written yet")
