"""The synced entities: one module each, declaring in one place what the entity is and allows.

``REGISTRY`` maps an entity's wire name to its ``Entity`` (``sync.entities.base``): its table and
columns, its field rules, which fields each role reads and writes, its reference checks and its
hooks. The batch flow (``sync.push``, ``sync.pull``, ``sync.store``, ``sync.scope``,
``sync.engine``) asks the entity; it never branches on an entity's name (a test reads them).

Adding an entity is one module and one migration:

1. a migration in ``sync/migrations`` (and its model in ``sync/models.py``) for the table, with
   ``version``, ``seq``, ``updated_at`` and ``created_at`` like every synced table (and an index on
   ``seq``: a pull scans it);
2. ``sync/entities/NAME.py``: a subclass of ``Entity`` and ``ENTITY = Subclass()``. Declare
   ``name``, ``table``, ``columns`` (every column but ``created_at``), ``defaults``, ``rules`` (the
   builders of ``sync.validate``: a phone-writable entity's rules are the fields a mutation may
   set, and become the phone's catalogue), ``required``, ``server_set``, ``refers_to`` (entities
   inserted before it), and ``phone_writes = False`` for one only staff write. Then what differs
   from the defaults:

   - who reads it: ``read_filter`` / ``own_filter`` (SQL per role; volunteers see nothing unless
     ``fields_for`` says otherwise: a staff-only entity returns None from ``own_filter`` for peer
     leaders, keyed on ``actor.role``);
   - who writes it: ``write_errors`` (``scope.refused_fields`` for a role's allowed fields);
   - ``refer`` + ``reference_errors``: records it points at, read once per batch through a
     ``Lookup`` (``sync.entities.lookups`` has participants, committees, groups, peer leaders),
     and the server-set fields taken from them (``after["community_id"] = …``) or from the writer
     (``batch.actor.user_id``); a computed field (a score) is set there too;
   - ``after_change``: what the change does to other records (``batch.put(entity, record)``, new
     version and ``updated_at`` set by the hook), and work for the whole batch queued once with
     ``batch.before_write(hook)`` (after every mutation is decided, e.g. columns of another entity
     derived from this one's rows: ``batch.put(entity, record, columns)``) or
     ``batch.after_write(hook)`` (after the writes, same transaction);
3. add the module to ``_MODULES`` below, after the entities it refers to.

Nothing else changes: ``store.COLUMNS``, the phone's rule catalogue (``catalogue``), the pull's
scans, the push's loading, deciding and writing all come from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync import validate
from sync.entities import (
    assessment,
    contact,
    evaluation,
    group,
    group_activity,
    group_meeting,
    implementation_rating,
    instrument,
    measurement,
    participant,
    supervision,
    training,
)
from sync.entities.base import Entity, Errors

# In the order pulls scan them and phones list them.
_MODULES = (
    participant,
    contact,
    group_meeting,
    group,
    instrument,
    measurement,
    assessment,
    group_activity,
    supervision,
    training,
    implementation_rating,
)

REGISTRY: dict[str, Entity] = {m.ENTITY.name: m.ENTITY for m in _MODULES}

# What phones push (the others are written only by server-side writers).
PHONE_ENTITIES: tuple[str, ...] = tuple(n for n, e in REGISTRY.items() if e.phone_writes)
# Entity → fields a mutation from a phone may set, in the order they are listed (SPEC 3).
WRITABLE: dict[str, tuple[str, ...]] = {
    n: e.wire_writable for n, e in REGISTRY.items() if e.phone_writes
}
# Fields the server maintains and sends, but no mutation from a phone may set.
SERVER_SET: dict[str, tuple[str, ...]] = {n: e.server_set for n, e in REGISTRY.items()}
# Everything a full reader (peer leader in scope, coordinator, admin) receives.
READABLE: dict[str, tuple[str, ...]] = {n: e.readable for n, e in REGISTRY.items()}
# table → column → kind (``sync.store``).
COLUMNS: dict[str, dict[str, str]] = {e.table: dict(e.columns) for e in REGISTRY.values()}
TABLE: dict[str, str] = {n: e.table for n, e in REGISTRY.items()}


def _insert_order() -> tuple[str, ...]:
    """Entities in an order that inserts every row after the rows it refers to."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ValueError(f"entities refer to each other in a loop: {' → '.join(path)}")
        for parent in REGISTRY[name].refers_to:
            visit(parent, (*path, name))
        if name not in order:
            order.append(name)

    for name in REGISTRY:
        visit(name, ())
    return tuple(order)


# Parents first: a contact may refer to a participant or (expanded from a meeting) a meeting
# made in the same batch, and foreign keys are checked per statement.
INSERT_ORDER = _insert_order()


def get(name: str) -> Entity:
    return REGISTRY[name]


def check(entity: str, fields: Any, now: datetime) -> tuple[dict[str, Any], Errors]:
    """``entity``'s valid fields in canonical form, and messages for the others."""
    return REGISTRY[entity].check(fields, now)


def check_record(entity: str, record: Any, creating: bool) -> Errors:
    """``entity``'s rules across fields, on the record as it would be after the write."""
    return REGISTRY[entity].record_errors(record, creating)


def catalogue() -> dict[str, Any]:
    """The phone-writable entities' field rules as JSON-native data, for the phone to check a
    form before the record leaves it (served as ``/static/js/rules.js``, precached): the same
    numbers the server checks with, never a copy. ``urgent``: SPEC 3's referral thresholds;
    ``before_enrolment``: how long before the participant's enrolment a reading or a
    questionnaire may be dated, which field of which entity, and the refusal's message."""
    phone = {name: REGISTRY[name] for name in PHONE_ENTITIES}
    return {
        "fields": {
            name: {field: validate.describe(rule) for field, rule in e.rules.items()}
            for name, e in phone.items()
        },
        "urgent": validate.urgent(),
        "before_enrolment": evaluation.before_enrolment_rule(phone),
    }
