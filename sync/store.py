"""Rows in and out of the synced tables with plain SQL, for the hot paths of push and pull.

The ORM builds one model instance per row; a push of 500 contacts and a pull of 10,000
participants cannot afford that. Here each table's columns have a kind, values are converted
between the database and the canonical form of ``sync.validate`` (JSON-native: UUID strings,
``YYYY-MM-DD`` dates, UTC ISO instants), and writes are ``executemany`` statements.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from tortoise.backends.base.client import BaseDBAsyncClient

from sync import entities
from sync.validate import canonical_instant

# table → column → kind, and entity → table: declared by each entity (``sync.entities``). Every
# column a synced row has, except created_at (set on insert).
COLUMNS: dict[str, dict[str, str]] = entities.COLUMNS
TABLE: dict[str, str] = entities.TABLE

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def _blank_template(entity: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    record: dict[str, Any] = dict.fromkeys(COLUMNS[TABLE[entity]])
    record.update(entities.get(entity).defaults)
    record["version"] = 0
    return record, tuple(n for n, v in record.items() if isinstance(v, list))


_BLANKS = {entity: _blank_template(entity) for entity in TABLE}


def blank(entity: str) -> dict[str, Any]:
    """The empty record of ``entity`` (a fresh dict, its lists fresh too)."""
    template, lists = _BLANKS[entity]
    record = template.copy()
    for name in lists:
        record[name] = []
    return record


# A batch repeats the same few instants and dates (its own ``updated_at``, follow-up dates):
# parse each text once. Bounded, and keyed by canonical text only.
@functools.lru_cache(maxsize=4096)
def _instant_to_db(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=4096)
def _date_to_db(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _json_to_db(value: Any) -> Any:
    return _json_encode(value).decode()


_TO_DB: dict[str, Callable[[Any], Any]] = {
    "json": _json_to_db,
    "date": _date_to_db,
    "instant": _instant_to_db,
    "bool": bool,
}


def _instant_to_sqlite(value: Any) -> Any:
    """SQLite stores an instant as the text its adapter makes of the ``datetime``
    (``isoformat(" ")``, Tortoise's): for the canonical text of a UTC instant that is the same
    text with a space for the "T", made without parsing it. A push writes a few thousand
    instants (each row's time, every contact's ``occurred_at``), most of them different."""
    if (
        isinstance(value, str)
        and len(value) in (25, 32)
        and value[10] == "T"
        and value.endswith("+00:00")
    ):
        return f"{value[:10]} {value[11:]}"
    return _instant_to_db(value)


_TO_SQLITE: dict[str, Callable[[Any], Any]] = {**_TO_DB, "instant": _instant_to_sqlite}


def _db_values(
    rows: Iterable[dict[str, Any]],
    names: Sequence[str],
    convert: list[Callable[[Any], Any] | None],
    extra: Sequence[Any] = (),
    tail: str | None = None,
) -> list[list[Any]]:
    """Each row's database values in ``names`` order (then ``extra``, then ``row[tail]``); a
    column missing from a row is NULL."""
    wanted = [*names, tail] if tail is not None else list(names)
    # itemgetter reads every column in one C call; only a few columns need converting.
    pick = operator.itemgetter(*wanted)
    fix = [(i, fn) for i, fn in enumerate(convert) if fn is not None]
    out: list[list[Any]] = []
    append = out.append
    for row in rows:
        try:
            values = list(pick(row)) if len(wanted) > 1 else [pick(row)]
        except KeyError:
            values = [row.get(name) for name in wanted]
        for i, fn in fix:
            value = values[i]
            if value is not None:
                values[i] = fn(value)
        if extra:
            if tail is not None:
                values[-1:-1] = extra
            else:
                values.extend(extra)
        append(values)
    return out


class Marks:
    """``take(n)``: the next ``n`` placeholders of one statement (``Dialect.counter``)."""

    __slots__ = ("dialect", "next")

    def __init__(self, dialect: Dialect, start: int = 1) -> None:
        self.dialect = dialect
        self.next = start

    def take(self, count: int) -> list[str]:
        marks = self.dialect.marks(count, self.next)
        self.next += count
        return marks


class Dialect:
    """Placeholders and value conversions for one backend."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.postgres = name == "postgres"

    def marks(self, count: int, start: int = 1) -> list[str]:
        """``count`` placeholders numbered from ``start``: ``$3, $4`` on PostgreSQL, ``?, ?`` on
        SQLite (whose ``?`` are numbered by their order in the text). The one place they are
        made; a statement written in pieces takes them from one ``counter``."""
        if self.postgres:
            return [f"${i}" for i in range(start, start + count)]
        return ["?"] * count

    def counter(self, start: int = 1) -> Marks:
        """Placeholders for a statement written in pieces, numbered in the order taken."""
        return Marks(self, start)

    def chunks(self, values: list[Any]) -> list[list[Any]]:
        """``values`` in pieces one ``one_of`` each: SQLite allows 999 parameters a statement,
        PostgreSQL takes any number as one array."""
        if self.postgres:
            return [values]
        return [values[start : start + 900] for start in range(0, len(values), 900)]

    def one_of(
        self, column: str, kind: str, values: Sequence[Any], start: int = 1
    ) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: the condition and its parameters, numbered from
        ``start``. On PostgreSQL one array parameter (``= ANY($n::uuid[])``): one prepared
        statement whatever the count, and its generic plan still uses the index. A list of
        ``IN ($1, …, $500)`` made a statement per count, and after a few runs PostgreSQL's
        generic plan for it turned into a sequential scan as the table grew (100+ ms a push)."""
        if self.postgres:
            return f"{column} = ANY(${start}::{_PG_ARRAY[kind]})", [list(values)]
        return f"{column} IN ({', '.join(self.marks(len(values), start))})", list(values)

    def to_db(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "json":
            return _json_encode(value).decode()
        if kind == "date":
            return date.fromisoformat(value) if isinstance(value, str) else value
        if kind == "instant":
            return datetime.fromisoformat(value) if isinstance(value, str) else value
        if kind == "bool":
            return bool(value)
        return value

    def converters(self, table: str, names: Sequence[str]) -> list[Callable[[Any], Any] | None]:
        """Per column, what ``to_db`` does for its kind, or None where it keeps the value."""
        kinds = COLUMNS[table]
        to_db = _TO_DB if self.postgres else _TO_SQLITE
        return [to_db.get(kinds[name]) for name in names]

    def from_db(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "uuid":
            return str(value)
        if kind == "json":
            return _json_decode(value) if isinstance(value, str | bytes) else value
        if kind == "date":
            return value if isinstance(value, str) else value.isoformat()
        if kind == "instant":
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return canonical_instant(value)
        if kind == "bool":
            return bool(value)
        if kind == "float":
            return float(value)
        return value

    def row(self, table: str, raw: dict[str, Any]) -> dict[str, Any]:
        """``raw`` (a row as the driver gave it, changed in place) in canonical values.

        A pull page converts hundreds of rows of ~25 columns: only the columns whose driver
        value differs from the canonical one are touched, each by one function chosen once
        per table, columns and backend."""
        for name, convert in _row_converters(self.postgres, table, tuple(raw)):
            value = raw[name]
            if value is not None:
                raw[name] = convert(value)
        return raw


def _instant_from_db(value: Any) -> str:
    if isinstance(value, str):
        # SQLite's text of a UTC instant ("2026-11-01 08:00:00+00:00"): the canonical form but
        # for the "T", without parsing it.
        if value.endswith("+00:00") and len(value) >= 25 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}"
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return canonical_instant(value)


def _text_from_db(value: Any) -> Any:
    return value if isinstance(value, str) else str(value)


def _date_from_db(value: Any) -> Any:
    return value if isinstance(value, str) else value.isoformat()


def _json_from_db(value: Any) -> Any:
    return _json_decode(value) if isinstance(value, str | bytes) else value


# Kind → what makes a driver's value canonical, per backend; a kind missing needs nothing.
# (SQLite gives UUIDs and dates as their text already, REAL columns as floats.)
_FROM_DB: dict[bool, dict[str, Callable[[Any], Any]]] = {
    True: {
        "uuid": _text_from_db,
        "json": _json_from_db,
        "date": _date_from_db,
        "instant": _instant_from_db,
        "bool": bool,
        "float": float,
    },
    False: {
        "uuid": _text_from_db,
        "json": _json_from_db,
        "date": _date_from_db,
        "instant": _instant_from_db,
        "bool": bool,
    },
}


@functools.lru_cache(maxsize=256)
def _row_converters(
    postgres: bool, table: str, names: tuple[str, ...]
) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    kinds = COLUMNS.get(table, {})
    wanted = _FROM_DB[postgres]
    return tuple(
        (name, wanted[kinds[name]]) for name in names if name in kinds and kinds[name] in wanted
    )


async def fetch_by_ids(
    conn: BaseDBAsyncClient,
    dialect: Dialect,
    table: str,
    ids: Iterable[str],
    columns: Sequence[str] | None = None,
    *,
    key: str = "id",
) -> list[dict[str, Any]]:
    """Rows whose ``key`` is one of ``ids``, converted to canonical values (one query)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    cols = ", ".join(columns or COLUMNS[table])
    kind = COLUMNS.get(table, {}).get(key, "uuid" if key == "id" or key.endswith("_id") else "text")
    out: list[dict[str, Any]] = []
    for chunk in dialect.chunks(ids):
        where, params = dialect.one_of(key, kind, chunk)
        raw = await conn.execute_query_dict(f"SELECT {cols} FROM {table} WHERE {where}", params)
        out.extend(dialect.row(table, r) for r in raw)
    return out


async def insert_many(
    conn: BaseDBAsyncClient,
    dialect: Dialect,
    table: str,
    rows: list[dict[str, Any]],
    now: datetime,
    *,
    copy: bool = True,
) -> None:
    """Insert full rows (every column of ``COLUMNS[table]`` plus ``created_at``); ``copy=False``
    forces ``executemany`` on PostgreSQL too (the benchmark's second baseline)."""
    if not rows:
        return
    kinds = COLUMNS[table]
    names = [*kinds, "created_at"]
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(dialect.marks(len(names)))})"
    )
    values = _db_values(rows, list(kinds), dialect.converters(table, list(kinds)), (now,))
    await bulk_insert(conn, dialect, table, names, values, sql, copy=copy)


async def bulk_insert(
    conn: BaseDBAsyncClient,
    dialect: Dialect,
    table: str,
    names: Sequence[str],
    values: list[list[Any]],
    sql: str | None = None,
    *,
    copy: bool = True,
) -> None:
    """Insert many rows of database values: ``COPY`` on PostgreSQL, ``executemany`` otherwise."""
    if not values:
        return
    raw = getattr(conn, "_connection", None) if dialect.postgres and copy else None
    if raw is not None and hasattr(raw, "copy_records_to_table") and len(values) > 20:
        # COPY is several times faster than a prepared INSERT per row, and runs in the same
        # transaction (``conn`` is the transaction's connection).
        await raw.copy_records_to_table(table, records=values, columns=list(names))
        return
    if sql is None:
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(dialect.marks(len(names)))})"
    await conn.execute_many(sql, values)


async def update_many(
    conn: BaseDBAsyncClient,
    dialect: Dialect,
    table: str,
    rows: list[dict[str, Any]],
    columns: Sequence[str] = (),
) -> None:
    """Rewrite rows by id (every column, or only ``columns``): on PostgreSQL one ``UPDATE …
    FROM unnest(…)`` statement with one array per column, elsewhere one ``executemany``."""
    if not rows:
        return
    kinds = {
        name: kind
        for name, kind in COLUMNS[table].items()
        if name != "id" and (not columns or name in columns)
    }
    if dialect.postgres and len(rows) > 1:
        names = list(kinds)
        values = _db_values(rows, names, dialect.converters(table, names), tail="id")
        arrays = [list(column) for column in zip(*values, strict=True)]
        casts = [_PG_ARRAY[kinds[name]] for name in names] + ["uuid[]"]
        sources = ", ".join(f"${i}::{cast}" for i, cast in enumerate(casts, start=1))
        sets = ", ".join(f"{name} = v.{name}" for name in names)
        await conn.execute_query(
            f"UPDATE {table} AS t SET {sets} FROM unnest({sources}) AS v({', '.join(names)}, id) "
            "WHERE t.id = v.id",
            arrays,
        )
        return
    marks = dialect.marks(len(kinds) + 1)
    sets = ", ".join(f"{name} = {mark}" for name, mark in zip(kinds, marks, strict=False))
    sql = f"UPDATE {table} SET {sets} WHERE id = {marks[-1]}"
    values = _db_values(rows, list(kinds), dialect.converters(table, list(kinds)), tail="id")
    await conn.execute_many(sql, values)


# Column kind → the PostgreSQL array type its values are sent as (for ``unnest``).
_PG_ARRAY = {
    "uuid": "uuid[]",
    "text": "text[]",
    "int": "bigint[]",
    "float": "float8[]",
    "bool": "boolean[]",
    "date": "date[]",
    "instant": "timestamptz[]",
    "json": "jsonb[]",
}


def encode_json(value: Any) -> str:
    return _json_encode(value).decode()


def decode_json(value: Any) -> Any:
    return _json_decode(value) if isinstance(value, str | bytes) else value
