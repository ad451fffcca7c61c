"""What every synced entity declares, and what its hooks may ask of the batch being applied.

An ``Entity`` is data (table, columns, rules, who reads which fields) plus a few hooks the push
engine calls at fixed points of a batch, in this order:

1. ``check`` (pure, before the transaction): the fields in canonical form, messages for the others;
2. ``refer``: which referenced records the mutation needs (``batch.need(LOOKUP, ids)``); each
   ``Lookup`` is read once per batch, whichever entities asked for it;
3. per mutation, in order: ``write_errors`` (the role's rules), ``record_errors`` and
   ``reference_errors`` (the record as it would be; the latter may fill server-set fields such as
   ``community_id`` from the records it refers to), ``accepted`` (claims, e.g. a unique code),
   ``after_change`` (when a new version is written: the place to change *other* records with
   ``batch.put`` and to queue ``batch.before_write`` / ``batch.after_write`` hooks);
4. the writes, then the queued ``after_write`` hooks, in the same transaction.

The batch flow (``sync.push``) knows no entity by name: whatever differs between them is here.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sync import validate
from sync.models import Role
from sync.scope import Actor
from sync.validate import Validator
from sync.wire import Template

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient
    from tortoise.models import Model

    from sync.store import Dialect

Errors = dict[str, list[str]]
Record = dict[str, Any]
Key = tuple[str, str]  # (entity, id)
T = TypeVar("T")
Hook = Callable[["Batch"], Awaitable[None]]
Columns = Mapping[str, str]  # column → kind
Rules = Mapping[str, Validator]  # field → rule
Values = Mapping[str, Any]
Messages = Mapping[str, Template]  # field → the message of its refusal
# ``mark(n)``: the next ``n`` placeholders of the statement being built.
Mark = Callable[[int], list[str]]


class Batch(Protocol):
    """What an entity's hooks may use of the batch being applied (``sync.push``)."""

    actor: Actor
    conn: BaseDBAsyncClient
    dialect: Dialect
    now_text: str
    zone: ZoneInfo  # the program's time zone (``engine.configure``)
    # Records as they will be, by (entity, id); those read from the database are in ``existing``.
    records: dict[Key, Record]
    existing: set[Key]
    dirty: dict[Key, None]  # written with the batch, in order

    def need(self, lookup: Lookup, ids: Iterable[str]) -> None:
        """Ask for ``ids`` to be read by ``lookup`` before the mutations are decided."""

    def found(self, lookup: Lookup) -> dict[str, Any]:
        """What ``lookup`` read (id → its answer); a hook may update it (a claimed code)."""

    def shared(self, key: object, make: Callable[[], T]) -> T:
        """Per-batch state owned by the module that made ``key`` (made on first use)."""

    def keep(self, entity: str, row: Record, columns: tuple[str, ...] = ()) -> None:
        """A row read from the database; with ``columns``, only those were read."""

    def put(self, entity: str, record: Record, columns: tuple[str, ...] = ()) -> None:
        """Write ``record`` (a new version of another record, made by a hook) with the batch.
        A record read in part (``keep`` with columns) names the ``columns`` the hook changed:
        only those are written (and ``version``, ``seq``, ``updated_at``)."""

    def blank(self, entity: str) -> Record:
        """The empty record of ``entity``."""

    async def fetch(
        self, table: str, ids: Iterable[str], columns: list[str] | None = None, key: str = "id"
    ) -> list[Record]:
        """Rows of ``table`` whose ``key`` is one of ``ids``, in canonical form."""

    def before_write(self, hook: Hook) -> None:
        """Run ``hook`` once, after every mutation is decided and before the writes."""

    def after_write(self, hook: Hook) -> None:
        """Run ``hook`` once, after the writes, in the same transaction."""


@dataclass(frozen=True, eq=False)
class Lookup:
    """Records a batch's mutations refer to (a committee's community, a group, the peer leaders),
    read once per batch whatever the entities that ask: ``load(batch, ids)`` returns id → what
    the hooks need to know (it may also ``keep`` rows as records of the batch)."""

    name: str
    load: Callable[[Batch, list[str]], Awaitable[dict[str, Any]]]


# Tortoise field class → the kind ``sync.store`` converts values by (the first found in the MRO).
_KINDS = {
    "UUIDField": "uuid",
    "CharField": "text",
    "TextField": "text",
    "IntField": "int",
    "FloatField": "float",
    "BooleanField": "bool",
    "DateField": "date",
    "DatetimeField": "instant",
    "JSONField": "json",
}


def columns_of(model: type[Model]) -> dict[str, str]:
    """Every column of ``model``'s table (column → kind), in the model's order, except
    ``created_at`` (set on insert): a foreign key ``x`` is its column ``x_id``."""
    meta = model._meta
    columns: dict[str, str] = {}
    for name, f in meta.fields_map.items():
        forward = name in meta.fk_fields or name in meta.o2o_fields
        if name == "created_at" or (name in meta.fetch_fields and not forward):
            continue  # a relation seen from the other side (once Tortoise is initialised)
        if forward:
            # The kind of the key it points at (a UUID, or an instrument's text slug).
            target = getattr(f, "related_model", None) or getattr(
                sys.modules[model.__module__], getattr(f, "model_name", "").split(".")[-1]
            )
            columns[getattr(f, "source_field", None) or f"{name}_id"] = _kind(target._meta.pk)
        else:
            columns[name] = _kind(f)
    return columns


def _kind(f: Any) -> str:
    kind = next((_KINDS[c.__name__] for c in type(f).__mro__ if c.__name__ in _KINDS), None)
    if kind is None:
        raise TypeError(f"{f.model_field_name}: no column kind for {type(f).__name__}")
    return kind


class Entity:
    """One synced entity. A module in ``sync/entities`` makes one subclass and one instance."""

    name: str
    model: ClassVar[type[Model]]  # its table (``sync.models``)
    # The model's defaults: what a new record starts from besides NULLs.
    defaults: ClassVar[Values] = {}
    # Field → rule (``sync.validate``'s builders) for every field a mutation may set.
    rules: ClassVar[Rules]
    required: tuple[str, ...] = ()  # fields a new record must have
    # Fields the server maintains and sends (a full reader receives ``rules`` + these).
    server_set: tuple[str, ...] = ()
    # Phones push it; False: only server-side writers (staff pages), phones pull it read-only.
    phone_writes: bool = True
    # Entities whose rows this one's foreign keys point at: inserted before it in a batch.
    refers_to: tuple[str, ...] = ()
    # Unique columns a concurrent writer may take during the batch → the message of the refusal.
    unique: ClassVar[Messages] = {}

    def __init__(self) -> None:
        self.table: str = self.model._meta.db_table
        # Every column of a synced row (column → kind: uuid, text, int, float, bool, date,
        # instant, json) but created_at. ``version``, ``seq``, ``updated_at`` included.
        self.columns: Columns = columns_of(self.model)

    @property
    def wire_writable(self) -> tuple[str, ...]:
        """What a phone's mutation may set (none when only the server writes it)."""
        return tuple(self.rules) if self.phone_writes else ()

    @property
    def readable(self) -> tuple[str, ...]:
        """Everything a full reader (in scope, not a volunteer) receives."""
        return self.wire_writable + self.server_set

    # --- reading ---------------------------------------------------------------------------------

    def fields_for(self, actor: Actor) -> tuple[str, ...]:
        """The fields ``actor`` receives (volunteers: none unless the entity says otherwise)."""
        return () if actor.role is Role.VOLUNTEER else self.readable

    def read_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        """SQL condition and parameters restricting rows to the actor's scope, or None when the
        role sees none. Coordinators: their community's rows; volunteers: none; peer leaders
        (and an administrator's bounded offline scope): ``own_filter``."""
        if actor.role is Role.COORDINATOR:
            if actor.community_id is None:
                return None
            return f"community_id = {mark(1)[0]}", [actor.community_id]
        if actor.role is Role.VOLUNTEER:
            return None
        return self.own_filter(actor, mark)

    def own_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        return None

    # --- checking --------------------------------------------------------------------------------

    def check(self, fields: Mapping[str, Any], now: datetime) -> tuple[Record, Errors]:
        return validate.check(self.name, self.rules, fields, now)

    def record_errors(self, record: Mapping[str, Any], creating: bool) -> Errors:
        """Rules across fields, on the record as it would be after the write."""
        return validate.check_record(record, self.required if creating else ())

    def write_errors(
        self, actor: Actor, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Errors:
        """The role's rules: may ``actor`` create or change this record, these fields?"""
        return {}

    # --- hooks of a batch ------------------------------------------------------------------------

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        """Ask (``batch.need``) for the records this mutation refers to."""

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        """Referenced records exist and are in the writer's scope; fills server-set fields."""
        return {}

    def accepted(self, batch: Batch, before: Record, after: Record, written: Record) -> None:
        """The mutation passed every check (even if it changes nothing)."""

    def after_change(self, batch: Batch, before: Record | None, after: Record) -> None:
        """A new version of the record is written (``before`` None: created)."""
