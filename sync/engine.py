"""The sync engine's public face: the one write path for phones, administration pages and the
command line, the pull, and conflict resolution.

    actor = await engine.actor_for(user)
    response = await engine.push(user, push_request)             # phones (POST /api/sync/push)
    page = await engine.pull(user, cursor, limit)                  # phones (GET /api/sync/pull)
    result = await engine.write(user, "participant", pid, {"phone": "…"})   # pages, CLI
    results = await engine.write_many(user, "participant", [(pid, {…}), …])   # imports
    result = await engine.write_group(user, None, {"name": "…", "community_id": "…"})  # staff
    result = await engine.resolve_conflict(conflict_id, admin, {"phone": ("device", None)})
    await engine.dismiss_conflict(conflict_id, admin)
    await engine.force_resync(user_id, …)                           # after a user's scope changed
    engine.configure(timezone="Asia/Shanghai")   # the program's settings, once, at start-up
    slug, errors = await engine.add_instrument(admin, {"id": "phq2", "title": …})  # a questionnaire

Nothing here logs or audits a value: ids, statuses and field names only.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sized
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from sync import db, instruments, sequence, store, validate
from sync import pull as _pull
from sync import push as _push
from sync.cursor import BadCursor
from sync.entities import REGISTRY
from sync.models import Conflict, ConflictStatus, Group, Role, User
from sync.outbox import OutboxReport
from sync.push import DeviceForbidden, MutationGap, Outcome
from sync.scope import Actor
from sync.wire import (
    Message,
    MutationIn,
    MutationResult,
    PullResponse,
    PushRequest,
    PushResponse,
    ResyncResponse,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "BadCursor",
    "ConflictClosed",
    "DeviceForbidden",
    "MutationGap",
    "NotAllowed",
    "actor_for",
    "add_instrument",
    "configure",
    "dismiss_conflict",
    "force_resync",
    "pull",
    "push",
    "resolve_conflict",
    "server_device_id",
    "write",
    "write_group",
    "write_many",
]


class _NoQueryValues(logging.Filter):
    """Query values carry names, phones and readings. At DEBUG, Tortoise logs every statement
    with its values and aiosqlite each call with its arguments: keep the statement, drop the
    values, whatever level an operator turns on. Quoted literals in a statement's text are
    blanked too, and the connection lines' parameters (a password among them) dropped."""

    _LITERAL = re.compile(r"'(?:[^']|'')*'")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "aiosqlite" and args:
            record.args = tuple("[arguments not logged]" for _ in args)
        elif not record.name.startswith("tortoise"):
            return True
        elif record.msg == "%s: %s" and isinstance(args, tuple) and len(args) == 2:
            values = args[1]
            count = len(values) if isinstance(values, Sized) else 0
            record.args = (self._statement(args[0]), f"[{count} values not logged]")
        elif isinstance(args, tuple) and args:
            record.args = tuple("[not logged]" for _ in args)
        elif not args:
            record.msg = self._statement(record.msg)  # a script, logged as its text
        return True

    def _statement(self, text: object) -> str:
        return self._LITERAL.sub("'?'", str(text))


for _name in ("tortoise.db_client", "aiosqlite"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(existing, _NoQueryValues) for existing in _logger.filters):
        _logger.addFilter(_NoQueryValues())

log = logging.getLogger("peerlog.sync")

DEFAULT_LIMIT = _pull.DEFAULT_LIMIT
MAX_LIMIT = _pull.MAX_LIMIT

# What a server-side writer may write: every entity (phones only ``PHONE_ENTITIES``).
SERVER_ENTITIES = tuple(REGISTRY)

# Records per transaction in ``write_many``.
WRITE_BATCH = 500

SERVER_DEVICE_NS = uuid.UUID("0f6f7d1e-3b8a-4c55-9a61-2d1f5e7c9b40")

Choice = tuple[Literal["server", "device", "value"], Any]


def configure(*, timezone: str = _push.DEFAULT_TIMEZONE) -> None:
    """What the engine takes from the program's settings (sync/ reads no environment and
    imports nothing of the server: ``create_app`` and the command line pass them here, as they
    pass the database's URL to ``db.init``). ``timezone``: the IANA zone the program's days are
    counted in (``PEERLOG_TIMEZONE``); a contact's reported values are dated by its day there."""
    _push.zone = ZoneInfo(timezone)


class ConflictClosed(ValueError):
    """The conflict is already resolved or dismissed, or does not exist."""


class NotAllowed(PermissionError):
    """The user's role may not do this (e.g. resolve a conflict outside their community)."""


async def actor_for(user: User) -> Actor:
    """The user's scope: role, community, committee and the groups they lead or co-lead."""
    user_id = str(user.id)
    group_ids: frozenset[str] = frozenset()
    if Role(user.role) in (Role.PEER_LEADER, Role.ADMIN):
        from tortoise.expressions import Q

        rows = await Group.filter(Q(leader_id=user.id) | Q(co_leader_id=user.id)).values_list(
            "id", flat=True
        )
        group_ids = frozenset(str(r) for r in rows)
    community = getattr(user, "community_id", None)
    committee = getattr(user, "committee_id", None)
    return Actor(
        user_id=user_id,
        role=Role(user.role),
        community_id=str(community) if community else None,
        committee_id=str(committee) if committee else None,
        group_ids=group_ids,
        scope_token=int(user.scope_token),
    )


async def add_instrument(
    user: User | None, data: Any, *, request_id: str | None = None
) -> tuple[str, dict[str, list[Message]]]:
    """Add a program's own questionnaire: ``data`` is its JSON file (``id`` and the definition,
    ``sync.instruments``). Returns its id and the messages by field (none: it was added).

    Administrators only (``user`` None: the command line, run by whoever runs the server).
    Like every write, in one transaction: the row at version 1 with a change-sequence number
    (every phone that asks questionnaires pulls it) and an audit event (``instrument.add``: the
    id and the number of items, never the wording). An instrument's key is its id, a word, not
    the UUID the mutation log keeps, so it is not a mutation; an id already taken is refused,
    since past assessments are scored by the definition they were answered against.

    Raises ``NotAllowed`` for anyone but an administrator."""
    if user is not None and Role(user.role) is not Role.ADMIN:
        raise NotAllowed("Only administrators add a questionnaire.")
    slug, definition, errors = instruments.instrument_errors(data)
    if errors:
        return slug, errors
    taken = {"id": [Message(instruments.INSTRUMENT_TAKEN)]}
    now = datetime.now(UTC)
    dialect = store.Dialect(db.dialect())
    table = REGISTRY["instrument"].table
    from tortoise.transactions import in_transaction

    try:
        async with in_transaction() as conn:
            if await store.fetch_by_ids(conn, dialect, table, [slug], ["id"]):
                return slug, taken
            row = {
                "id": slug,
                "definition": definition,
                "active": True,
                "version": 1,
                "seq": await sequence.allocate(conn, 1),
                "updated_at": validate.canonical_instant(now),
            }
            await store.insert_many(conn, dialect, table, [row], now)
            m = dialect.marks(7)
            await conn.execute_query(
                "INSERT INTO audit_event (at, actor_id, action, entity, record_id, request_id, "
                f"detail) VALUES ({', '.join(m)})",
                [
                    now,
                    str(user.id) if user is not None else None,
                    "instrument.add",
                    "instrument",
                    slug,
                    request_id,
                    store.encode_json({"items": len(definition["items"])}),
                ],
            )
    except IntegrityError:
        return slug, taken  # another writer added the same id meanwhile
    log.info("instrument %s added by user=%s", slug, user.id if user else "command line")
    return slug, {}


MAX_CONFLICT_IDS = 100


async def conflict_statuses(user: User, ids: list[uuid.UUID]) -> dict[str, str]:
    """Where the conflicts this user's pushes opened stand: id → ``open``, ``resolved`` or
    ``dismissed`` (at most ``MAX_CONFLICT_IDS``; another user's conflicts are not answered).
    A phone shows it in "needs attention": the values that stand come with its next pull."""
    rows = await Conflict.filter(id__in=ids[:MAX_CONFLICT_IDS], user_id=user.id).values_list(
        "id", "status"
    )
    return {str(conflict_id): str(status) for conflict_id, status in rows}


async def push(
    user: User,
    request: PushRequest,
    *,
    request_id: str | None = None,
    outbox: OutboxReport | None = None,
) -> PushResponse:
    """Apply a phone's batch (one transaction) and answer one result per mutation, in order.
    ``outbox``: the phone's report of its queue (``sync.outbox``), kept on the device row.

    Raises ``DeviceForbidden`` (403: revoked, or another user's device) and ``MutationGap``
    (409: a mutation id skips ahead of the device's last + 1)."""
    actor = await actor_for(user)
    return await _push.push(
        actor, request.device_id, request.mutations, request_id=request_id, outbox=outbox
    )


async def pull(
    user: User,
    cursor: str | None,
    limit: int = _pull.DEFAULT_LIMIT,
    *,
    device_id: str | None = None,
    request_id: str | None = None,
    outbox: OutboxReport | None = None,
) -> PullResponse | ResyncResponse:
    """One page of changes in the user's scope after ``cursor`` (None: everything, i.e. a full
    resync). Answers ``ResyncResponse`` when the cursor was made under another scope.
    ``device_id``'s row gets its last sync time and ``outbox``, the phone's report.
    Raises ``BadCursor`` for a cursor this server did not make."""
    actor = await actor_for(user)
    return await _pull.pull(
        actor, cursor, limit, device_id=device_id, request_id=request_id, outbox=outbox
    )


def server_device_id(user_id: uuid.UUID | str) -> uuid.UUID:
    """The stable device that stands for a user's writes from pages and the command line."""
    return uuid.uuid5(SERVER_DEVICE_NS, f"server:{user_id}")


async def write(
    user: User,
    entity: str,
    record_id: uuid.UUID | str,
    fields: Mapping[str, Any],
    base_version: int | None = None,
    *,
    device_label: str = "web",
    request_id: str | None = None,
) -> MutationResult:
    """Write one record through the engine, as a phone would (validation, role rules, version,
    merge, conflicts, audit), from an administration page or the command line.

    ``fields`` holds wire values (the entity's ``rules`` in ``sync.entities``: dates
    ``YYYY-MM-DD``, ids as strings).
    ``base_version``: the version the form showed (a stale one is merged or opens a conflict);
    None writes over the current version. ``record_id``: a new UUID creates the record.

    ``entity`` may also be ``group`` (coordinators and administrators only; see ``write_group``),
    which phones may pull but never push.

    Returns the result: ``status`` applied/merged/conflict/rejected, ``version``, ``errors``
    (field → messages) when rejected, ``conflict_id`` on conflict. Raises ``DeviceForbidden``
    if the user's server-side device was revoked."""
    mutation = MutationIn(
        mutation_id=0,
        entity=entity,
        id=uuid.UUID(str(record_id)),
        fields=dict(fields),
        base_version=base_version if base_version is not None else 0,
    )
    actor = await actor_for(user)
    response = await _push.push(
        actor,
        server_device_id(user.id),
        [mutation],
        request_id=request_id,
        device_label=device_label,
        assign_ids=True,
        current_base=base_version is None,
        entities=SERVER_ENTITIES,
    )
    return response.results[0]


async def write_many(
    user: User,
    entity: str,
    items: list[tuple[uuid.UUID, Mapping[str, Any]]],
    *,
    request_id: str | None = None,
    device_label: str = "web",
) -> list[MutationResult]:
    """Create many records through the engine (an import), ``WRITE_BATCH`` per transaction, one
    result per item, in order. Each record is all or nothing, like ``write``'s: a rejected one
    writes nothing and its result carries the errors.

    A batch that breaks a unique constraint (a participant code another writer took while the
    batch ran) is rolled back and written again one record at a time, so one row cannot take its
    neighbours down; a record that still breaks it is rejected on that field (``CODE_TAKEN``)."""
    actor = await actor_for(user)
    device = server_device_id(user.id)

    async def apply(part: list[tuple[uuid.UUID, Mapping[str, Any]]]) -> list[MutationResult]:
        mutations = [
            MutationIn(mutation_id=0, entity=entity, id=uuid.UUID(str(rid)), fields=dict(f))
            for rid, f in part
        ]
        response = await _push.push(
            actor,
            device,
            mutations,
            request_id=request_id,
            device_label=device_label,
            assign_ids=True,
            entities=SERVER_ENTITIES,
        )
        return response.results

    results: list[MutationResult] = []
    for start in range(0, len(items), WRITE_BATCH):
        chunk = items[start : start + WRITE_BATCH]
        try:
            results.extend(await apply(chunk))
            continue
        except IntegrityError as exc:
            _taken_field(entity, exc)  # re-raises a constraint no field answers for
        for one in chunk:
            try:
                results.extend(await apply([one]))
            except IntegrityError as exc:
                name = _taken_field(entity, exc)
                message = Message(REGISTRY[entity].unique[name])
                results.append(
                    MutationResult(
                        mutation_id=0,
                        id=str(one[0]),
                        status="rejected",
                        errors={name: [message]},
                    )
                )
    return results


def _taken_field(entity: str, exc: IntegrityError) -> str:
    """The field whose unique constraint ``exc`` names (SQLite: ``participant.code``;
    PostgreSQL: ``participant_code_key``). Only the first line is read: PostgreSQL's detail
    line quotes the value. A constraint no field answers for is a bug: re-raised."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    # The unique columns a concurrent writer can take between a batch's reads and its writes
    # (the batch checks them first, so only a race reaches the database's constraint).
    table = REGISTRY[entity].table
    for name in REGISTRY[entity].unique:
        if f"{table}.{name}" in first or f"{table}_{name}_" in first:
            return name
    raise exc


async def write_group(
    user: User,
    group_id: uuid.UUID | str | None,
    fields: Mapping[str, Any],
    base_version: int | None = None,
    *,
    request_id: str | None = None,
) -> MutationResult:
    """Create (``group_id`` None: a new id is made) or change a group through the engine.

    ``fields``: ``name``, ``community_id`` (on creation; a group never changes community),
    ``committee_id`` (of that community), ``leader_id`` and ``co_leader_id`` (peer leaders of
    that community, or None). Coordinators write the groups of their community, administrators
    any. Like every write: a new version and change-sequence number (every phone in scope pulls
    it), a mutation-log row (the version history), an audit event, and, in the same
    transaction, a resync for each leader who starts or stops leading the group. The result's
    ``id`` is the group's."""
    record_id = uuid.uuid4() if group_id is None else group_id
    return await write(user, "group", record_id, fields, base_version, request_id=request_id)


async def resolve_conflict(
    conflict_id: uuid.UUID | str,
    resolver: User,
    choices: Mapping[str, Choice],
    *,
    request_id: str | None = None,
) -> MutationResult:
    """Resolve an open conflict, field by field, by writing a new version every device receives.

    ``choices`` maps each conflicting field to ``("server", None)`` (keep the value the server
    has now), ``("device", None)`` (take the value the device sent) or ``("value", v)`` (a typed
    wire value). A conflicting field missing from ``choices`` keeps the server's value.
    The write goes through ``write`` with the resolver's rights (admins; coordinators in their
    community); the conflict is marked ``resolved`` with the choices, resolver and time, and an
    audit event is written, all in the same transaction. If the write is rejected (an invalid
    typed value) the conflict stays open and the result carries the errors.

    Raises ``ConflictClosed`` (unknown, resolved or dismissed) and ``NotAllowed``."""
    conflict = await _open_conflict(conflict_id, resolver)
    conflicting: dict[str, Any] = conflict.fields_json or {}
    unknown = sorted(set(choices) - set(conflicting))
    if unknown:
        raise ValueError("not conflicting fields: " + ", ".join(unknown))
    table = store.TABLE[conflict.entity]
    dialect = store.Dialect(db.dialect())
    rows = await store.fetch_by_ids(_push.connection(), dialect, table, [str(conflict.record_id)])
    current = rows[0] if rows else {}
    fields: dict[str, Any] = {}
    resolution: dict[str, Any] = {}
    for name, sides in conflicting.items():
        kind, value = choices.get(name, ("server", None))
        if kind == "server":
            chosen = current.get(name)
        elif kind == "device":
            chosen = sides.get("device")
        elif kind == "value":
            chosen = value
        else:
            raise ValueError(f"{name}: choice must be server, device or value")
        fields[name] = chosen
        # The resolution names the side taken; the values live in the record and its history.
        resolution[name] = {"choice": kind}

    async def mark_resolved(conn: BaseDBAsyncClient, outcomes: list[Outcome]) -> None:
        if not outcomes or outcomes[0].status == "rejected":
            return
        await _close_conflict(
            conn, conflict, resolver, ConflictStatus.RESOLVED, resolution, request_id
        )

    actor = await actor_for(resolver)
    response = await _push.push(
        actor,
        server_device_id(resolver.id),
        [
            MutationIn(
                mutation_id=0,
                entity=conflict.entity,
                id=conflict.record_id,
                fields=fields,
            )
        ],
        request_id=request_id,
        device_label="web",
        assign_ids=True,
        current_base=True,
        force_version=True,
        after_write=mark_resolved,
    )
    return response.results[0]


async def dismiss_conflict(
    conflict_id: uuid.UUID | str, resolver: User, *, request_id: str | None = None
) -> None:
    """Close an open conflict without writing: the server's values stand. Audited.

    Raises ``ConflictClosed`` and ``NotAllowed`` like ``resolve_conflict``."""
    conflict = await _open_conflict(conflict_id, resolver)
    from tortoise.transactions import in_transaction

    async with in_transaction() as conn:
        await _close_conflict(conn, conflict, resolver, ConflictStatus.DISMISSED, None, request_id)


async def force_resync(*user_ids: uuid.UUID | str) -> None:
    """Make these users' next pull answer ``{"resync": true}``.

    Call it whenever a user's scope changes outside an engine write: a volunteer moves
    committee, a coordinator changes community. (Participant reassignments and group leader
    changes through the engine do this by themselves, in the same transaction.)"""
    if not user_ids:
        return
    from tortoise.expressions import F

    await User.filter(id__in=[str(u) for u in user_ids]).update(scope_token=F("scope_token") + 1)


async def _open_conflict(conflict_id: uuid.UUID | str, resolver: User) -> Conflict:
    conflict = await Conflict.get_or_none(id=str(conflict_id))
    if conflict is None or conflict.status != ConflictStatus.OPEN.value:
        raise ConflictClosed("This conflict does not exist or is no longer open.")
    role = Role(resolver.role)
    if role is Role.ADMIN:
        return conflict
    if role is Role.COORDINATOR and str(conflict.community_id) == str(  # type: ignore[attr-defined]
        getattr(resolver, "community_id", None)
    ):
        return conflict
    raise NotAllowed("Only administrators, or coordinators of its community, resolve a conflict.")


async def _close_conflict(
    conn: BaseDBAsyncClient,
    conflict: Conflict,
    resolver: User,
    status: ConflictStatus,
    resolution: dict[str, Any] | None,
    request_id: str | None,
) -> None:
    now = datetime.now(UTC)
    dialect = store.Dialect(db.dialect())
    m = dialect.marks(6)
    await conn.execute_query(
        f"UPDATE conflict SET status = {m[0]}, resolved_by_id = {m[1]}, resolved_at = {m[2]}, "
        f"resolution = {m[3]} WHERE id = {m[4]} AND status = {m[5]}",
        [
            status.value,
            str(resolver.id),
            now,
            store.encode_json(resolution) if resolution is not None else None,
            str(conflict.id),
            ConflictStatus.OPEN.value,
        ],
    )
    m = dialect.marks(7)
    await conn.execute_query(
        "INSERT INTO audit_event (at, actor_id, action, entity, record_id, request_id, detail) "
        f"VALUES ({', '.join(m)})",
        [
            now,
            str(resolver.id),
            f"conflict.{status.value}",
            conflict.entity,
            str(conflict.record_id),
            request_id,
            store.encode_json(
                {
                    "conflict_id": str(conflict.id),
                    "fields": sorted(conflict.fields_json or {}),
                    **(
                        {"choices": {k: v["choice"] for k, v in resolution.items()}}
                        if resolution
                        else {}
                    ),
                }
            ),
        ],
    )
    log.info("conflict %s %s by user=%s", conflict.id, status.value, resolver.id)
