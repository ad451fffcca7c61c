"""One data layer on the phone: `outbox.js` alone writes the queue ("outbox") and "needs
attention" ("attention"), names the sync lock and maps entities to their stores; screens and the
sync client call what it exports. `db.js` defines the stores; dates have their own module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "pwa" / "static" / "js"
OWNER = "outbox.js"

# A write to the queue or to "needs attention": through a transaction's stores (`s.outbox.put`)
# or db.js's one-store helpers (`put("attention", …)`).
WRITE = re.compile(
    r"""\.(?:outbox|attention)\s*\.\s*(?:put|add|delete|clear)\s*\("""
    r"""|\b(?:put|setMeta)\s*\(\s*["'](?:outbox|attention)["']"""
)
LOCK = re.compile(r"""["']peerlog-sync["']""")
# An entity → store map (STORE_OF), rebuilt elsewhere.
STORE_MAP = re.compile(r"""\bcontact\s*:\s*["']contacts["']""")


def _modules() -> list[Path]:
    # The service worker too: its Background Sync handler must match the tag app.js registers.
    found = [*sorted(JS.glob("*.js")), JS.parent / "sw" / "sw.js"]
    assert any(p.name == OWNER for p in found)
    return found


def _offenders(pattern: re.Pattern[str], allowed: set[str]) -> list[str]:
    out = []
    for path in _modules():
        if path.name in allowed:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                out.append(f"{path.name}:{n}: {line.strip()}")
    return out


@pytest.mark.parametrize(
    ("what", "pattern"),
    [("writes the outbox or attention store", WRITE), ("names the sync lock", LOCK)],
    ids=["writes", "lock"],
)
def test_only_outbox_js(what: str, pattern: re.Pattern[str]) -> None:
    assert not _offenders(pattern, {OWNER, "db.js"}), f"only {OWNER} {what}"


def test_entity_stores_are_mapped_once() -> None:
    assert not _offenders(STORE_MAP, {OWNER}), "use STORE_OF from outbox.js"


def test_the_owner_is_what_the_scan_sees() -> None:
    # The patterns find what outbox.js really does (else the tests above prove nothing).
    text = (JS / OWNER).read_text(encoding="utf-8")
    assert WRITE.search(text) and LOCK.search(text) and STORE_MAP.search(text)


def test_dates_have_their_own_module() -> None:
    defines = re.compile(r"""\b(?:function\s+|const\s+)(?:todayISO|addDays)\b""")
    assert len(_offenders(defines, set())) == 2
    assert not _offenders(defines, {"dates.js"})
    # The data modules stay free of the page shell (app.js touches the DOM and starts syncs).
    from_app = re.compile(r"""from\s+["']\./app\.js["']""")
    assert not _offenders(from_app, {p.name for p in _modules()} - {"model.js", OWNER, "sync.js"})
