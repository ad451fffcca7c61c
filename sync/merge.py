"""The field-level three-way merge: plain values in, a decision out. No I/O.

A device says "set these fields, I last saw version ``base``". Against the record's version
history the rule is:

* the record is new, or nobody wrote it since ``base``   → ``applied``: write every field;
* it moved on, but none of *these* fields changed since  → ``merged``: write every field;
* some field changed since ``base`` to a value other than the device's
                                                          → ``conflict`` for those fields: they keep
  the server's value; every other field is written.

A field changed on both sides *to the same value* is not a conflict. Sequential edits (base is the
current version) never conflict, whatever they change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

APPLIED = "applied"
MERGED = "merged"
CONFLICT = "conflict"


@dataclass(frozen=True)
class FieldConflict:
    base: Any
    server: Any
    device: Any


@dataclass
class Decision:
    status: str
    # Fields to write and their new values (may be empty: e.g. every field already had its value).
    write: dict[str, Any] = field(default_factory=dict)
    conflicts: dict[str, FieldConflict] = field(default_factory=dict)


def merge(
    *,
    base_version: int,
    current_version: int,
    current: Mapping[str, Any] | None,
    proposed: Mapping[str, Any],
    changed_since_base: Mapping[str, Any],
) -> Decision:
    """Decide one mutation.

    ``current`` is the server record (None when it does not exist yet, ``current_version`` 0);
    ``changed_since_base`` maps each field written by anyone after ``base_version`` to its value
    at ``base_version`` (the base value).
    """
    if current is None or base_version >= current_version:
        return Decision(APPLIED, dict(proposed))
    write: dict[str, Any] = {}
    conflicts: dict[str, FieldConflict] = {}
    for name, value in proposed.items():
        if name not in changed_since_base:
            write[name] = value
            continue
        server_value = current.get(name)
        if server_value == value:
            continue  # both sides reached the same value: nothing to decide
        base_value = changed_since_base[name]
        if base_value == value:
            # The device "sets" the value it started from: it did not really change it, so the
            # newer server value stands and there is nothing for anyone to resolve.
            continue
        conflicts[name] = FieldConflict(base=base_value, server=server_value, device=value)
    return Decision(CONFLICT if conflicts else MERGED, write, conflicts)


def changed_since(
    history: Sequence[tuple[int, Mapping[str, Any]]], base_version: int
) -> dict[str, Any]:
    """From a record's history ``[(version, {field: [old, new]}), …]`` (any order), the fields
    written after ``base_version`` with their value at ``base_version`` (the oldest ``old``)."""
    changed: dict[str, Any] = {}
    for version, changes in sorted(history, key=lambda entry: entry[0]):
        if version <= base_version:
            continue
        for name, (old, _new) in changes.items():
            changed.setdefault(name, old)
    return changed
