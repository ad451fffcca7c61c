"""Schemathesis against a real ``peerlog serve`` (``tests/fuzzing.py``): every operation of the
OpenAPI schema, signed in as an administrator and as a peer leader, with generated valid and
invalid input; not one answer is a 5xx. Bounded (a few cases per operation, a fixed seed);
``make fuzz`` runs many more."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BACKENDS, POSTGRES_URL
from tests.fuzzing import fuzz


@pytest.mark.parametrize("backend", BACKENDS)
async def test_no_generated_request_gets_a_5xx(backend: str, tmp_path: Path) -> None:
    results = await fuzz(
        postgres=POSTGRES_URL if backend == "postgres" else None,
        max_examples=4,
        seed=11,
        folder=tmp_path,
    )
    assert [r.role for r in results] == ["admin", "peer_leader"]
    for r in results:
        # Every operation was reached, signed in (not a run of 401s that proves nothing).
        assert r.operations >= 40 and r.cases >= 300, (
            r.role,
            r.operations,
            r.cases,
            r.output[-2000:],
        )
        assert r.server_errors == [], (r.role, sorted(set(r.server_errors)))
        assert r.signed_in, r.role
