"""What a form field's HTML says about its limits, from the rule the server checks it with.

A template writes ``<input name="note"{{ limits("contact", "note") }}>`` and gets
``maxlength="10000"`` from the contact's rule for ``note``: the same number the engine refuses a
longer note with, never a copy typed into the template. The few fields that are no synced
record's (a community's name, a user name, a referral's handled note) get the constant their
handler checks with from the handler, as ``{{ limit(name_max) }}``.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from sync import entities, validate


def _number(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def _attributes(rule: dict[str, Any]) -> Markup:
    parts: list[str] = []
    if rule.get("kind") == "text":
        parts.append(f'maxlength="{int(rule["max"])}"')
    elif rule.get("kind") == "number":
        parts += [f'min="{_number(rule["low"])}"', f'max="{_number(rule["high"])}"']
    return Markup("".join(f" {p}" for p in parts))  # numbers from the rules, never input


def limits(entity: str, field: str) -> Markup:
    """The HTML limits of ``entity``'s ``field``; a name the engine does not know is an error at
    render time (a test renders every page), not a field without limits."""
    rule = entities.REGISTRY[entity].rules[field]
    return _attributes(validate.describe(rule))


def limit(max_len: int) -> Markup:
    """``maxlength`` for a field that is no synced record's, from its handler's constant."""
    return _attributes({"kind": "text", "max": max_len})


def install(environment: Any) -> None:
    environment.globals["limits"] = limits
    environment.globals["limit"] = limit
