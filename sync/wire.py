"""What travels on the wire: the push and pull bodies (msgspec structs), a volunteer's roster
fields, and the messages of rejections.

The structs forbid unknown keys at the envelope level (a typo in ``base_version`` must not
silently become 0). The per-entity ``fields`` object is a plain mapping here and is checked
field by field by its entity (``sync.entities``), so that one bad field rejects one mutation, not the batch.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NewType

import msgspec

SCHEMA_VERSION = 1

# Each entity's fields (what a mutation may set, what each role reads) are declared by its
# module in ``sync/entities``.

# A volunteer's roster, SPEC 1: name, building/unit, phone, peer leader, status, last contact
# date, next follow-up, and the "needs visit" mark they set (plus the committee it is the roster
# of). No clinical values, no notes, no contacts or meetings at all; no program code, sex or
# group either. Changing this list means raising ROSTER_REVISION.
ROSTER_FIELDS: tuple[str, ...] = (
    "full_name",
    "phone",
    "address",
    "committee_id",
    "peer_leader_id",
    "status",
    "needs_visit",
    "needs_visit_reason",
    "last_contact_at",
    "next_follow_up_on",
)
# Part of a volunteer's cursor: a phone holding a roster made under an earlier list (revision 1
# carried code, sex and group_id) is told to resync once, and its records are replaced by ones
# with only these fields.
ROSTER_REVISION = 2


# --- messages -----------------------------------------------------------------------------------
#
# A rejected mutation's ``errors`` (field → messages) is read by a person, in their language, on
# the phone's "needs attention" screen and on the staff pages. ``sync/`` knows no languages (it
# imports neither Litestar nor ``server/``): it makes each message from an English gettext
# template with named placeholders and keeps both, and the edge (``server.i18n.localize``)
# renders it in the reader's language. Everywhere else a message is its English text: it *is* a
# ``str``, so logs, the mutation log, ``", ".join(...)`` and comparisons with English strings all
# see English. Parameters are field rules (ranges, units, lengths, item numbers, option codes),
# never a value a person typed: a value may be a name or a reading.

Template = NewType("Template", str)

# Every template the sync code can produce, with the parameters its messages carry, collected
# as the modules that define them are imported; ``server.i18n check`` and the tests require a
# zh-CN translation of each that uses only those parameters.
TEMPLATES: dict[Template, frozenset[str]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def template(text: str, *also: str) -> Template:
    """Declare a message template (a gettext msgid with ``%(name)s`` placeholders); ``also``
    names parameters its messages carry for translations only (e.g. ``number``)."""
    TEMPLATES[Template(text)] = frozenset(_PLACEHOLDER.findall(text)) | frozenset(also)
    return Template(text)


class Message(str):
    """A message for a person: its English text, plus the template and parameters to render it
    in another language. Only rejected mutations make one, so valid ones cost nothing.

    A parameter is text, a number, another ``Message`` (a role's name, the problem of a list's
    item: translated too) or a tuple of option codes (listed with the language's separator).
    A translation may use a subset of the parameters, e.g. a 1-based ``number`` where English
    says the wire's 0-based ``index``. A translation that is missing or breaks a placeholder
    falls back to English rather than fail a push (``check`` and the tests catch both)."""

    template: Template
    params: dict[str, Any]

    def __new__(cls, tmpl: Template, **params: Any) -> Message:
        text = tmpl % {k: _english(v) for k, v in params.items()} if params else tmpl
        self = super().__new__(cls, text)
        self.template = tmpl
        self.params = params
        return self

    def render(self, gettext: Callable[[str], str], separator: str = ", ") -> str:
        """The message in the language of ``gettext`` (msgid → translation)."""
        text = gettext(self.template)
        if not self.params:
            return text
        values = {k: _rendered(v, gettext, separator) for k, v in self.params.items()}
        try:
            return text % values
        except (KeyError, ValueError, TypeError):
            return str(self)

    def to_json(self) -> list[Any]:
        """``[template, params]``, JSON-native, for the mutation log (see ``from_json``)."""
        return [str(self.template), {k: _param_json(v) for k, v in self.params.items()}]

    @classmethod
    def from_json(cls, data: Any) -> Message:
        tmpl, params = data
        return cls(Template(tmpl), **{k: _param_from_json(v) for k, v in params.items()})


def _english(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value))
    return str(value)


def _rendered(value: Any, gettext: Callable[[str], str], separator: str) -> str:
    if isinstance(value, Message):
        return value.render(gettext, separator)
    if isinstance(value, tuple | list):
        return separator.join(map(str, value))
    return str(value)


def _param_json(value: Any) -> Any:
    if isinstance(value, Message):
        return {"message": value.to_json()}
    if isinstance(value, tuple | list):
        return {"list": [str(v) for v in value]}
    return value if isinstance(value, int | float) else str(value)


def _param_from_json(value: Any) -> Any:
    if isinstance(value, dict) and "message" in value:
        return Message.from_json(value["message"])
    if isinstance(value, dict) and "list" in value:
        return tuple(value["list"])
    return value


Errors = dict[str, list[str]]


def errors_json(errors: Mapping[str, list[str]]) -> dict[str, list[Any]]:
    """The templates of ``errors`` for the mutation log (fields whose messages have them)."""
    return {
        name: [m.to_json() if isinstance(m, Message) else str(m) for m in messages]
        for name, messages in errors.items()
    }


def errors_from_json(data: Mapping[str, list[Any]]) -> Errors:
    """``errors_json`` read back: messages again, to be rendered in the asker's language."""
    return {
        name: [m if isinstance(m, str) else Message.from_json(m) for m in messages]
        for name, messages in data.items()
    }


def plain_errors(errors: Mapping[str, list[str]]) -> Errors:
    """The English text only (``str``): what JSON encoders and the mutation log take."""
    return {name: [str(m) for m in messages] for name, messages in errors.items()}


# --- push ---------------------------------------------------------------------------------------


# What the database columns hold (mutation ids: BIGINT; versions: INTEGER). A number beyond
# them is no mutation a phone made: the body is malformed (422), never a 5xx from PostgreSQL.
MutationId = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Version = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


class MutationIn(msgspec.Struct, forbid_unknown_fields=True):
    mutation_id: MutationId
    entity: str
    id: uuid.UUID
    fields: dict[str, Any]
    base_version: Version = 0
    client_time: str | None = None
    # The phone sends this mutation again: the server had acknowledged it, then lost it when its
    # database was restored from an earlier copy (SPEC 3). Audited; an identical creation of a
    # record that is still there is ``applied`` once.
    resend: bool = False


class PushRequest(msgspec.Struct, forbid_unknown_fields=True):
    device_id: uuid.UUID
    mutations: list[MutationIn]
    schema_version: int = SCHEMA_VERSION


class MutationResult(msgspec.Struct, omit_defaults=True):
    mutation_id: int
    id: str
    status: str
    version: int | None = None
    conflict_id: str | None = None
    errors: dict[str, list[str]] | None = None
    # Set only when the answer comes from the mutation log: the mutation was processed before.
    duplicate: bool = False
    # With ``errors``: each message's template and parameters (``errors_json``), so that a phone
    # can show them again in the language it is switched to later. An addition to SPEC 3's
    # result: a client that does not know it reads ``errors`` as before.
    templates: dict[str, list[Any]] | None = None


class PushResponse(msgspec.Struct):
    last_mutation_id: int
    results: list[MutationResult]


# --- pull ---------------------------------------------------------------------------------------


class Change(msgspec.Struct):
    entity: str
    id: str
    version: int
    fields: dict[str, Any]


class PeerLeaderName(msgspec.Struct):
    """A peer leader as a coordinator's forms name them: id and name, nothing else."""

    id: str
    name: str
    active: bool


class PullResponse(msgspec.Struct, omit_defaults=True):
    changes: list[Change]
    cursor: str
    has_more: bool
    # The changes in scope after the request's cursor, this page's included: the phone's
    # progress is what it had before this page plus this (``pwa/static/js/sync.js``).
    total_estimate: int
    # A coordinator's last page only: every peer leader of their community (``sync.directory``),
    # whole each time, for the supervision, training and rating forms to pick from offline. An
    # addition to SPEC 3's answer: a client that does not know it reads the rest as before.
    peer_leaders: list[PeerLeaderName] | None = None


class ResyncResponse(msgspec.Struct):
    resync: bool = True


class MalformedBody(ValueError):
    """The push body is not a push request; the message names where and why (no values)."""


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)

_push_decoder = msgspec.json.Decoder(PushRequest)


def decode_push(body: bytes) -> PushRequest:
    """Decode a push body or raise ``MalformedBody`` with a message such as
    ``mutations[3].mutation_id: expected int, got str``."""
    try:
        request = _push_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise MalformedBody(_describe(str(exc))) from None
    except msgspec.DecodeError:
        raise MalformedBody("body: not valid JSON") from None
    except UnicodeDecodeError:
        raise MalformedBody("body: a string is not valid UTF-8") from None
    except RecursionError:
        raise MalformedBody("body: nested too deeply") from None
    if request.schema_version != SCHEMA_VERSION:
        raise MalformedBody(
            f"schema_version: this server speaks version {SCHEMA_VERSION}, got {request.schema_version}"
        )
    return request


def _describe(message: str) -> str:
    match = _AT.match(message)
    assert match is not None
    text, path = match.group("msg"), (match.group("path") or "").lstrip(".")
    # msgspec quotes the offending key for unknown/missing fields: keep the key, never a value.
    text = text.replace("`", "")
    if text.startswith("Object contains unknown field "):
        key = text[len("Object contains unknown field ") :]
        return f"{_join(path, key)}: unknown field"
    if text.startswith("Object missing required field "):
        key = text[len("Object missing required field ") :]
        return f"{_join(path, key)}: required"
    return f"{path or 'body'}: {text[:1].lower()}{text[1:]}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
