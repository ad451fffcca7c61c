"""The batch flow never branches on an entity's name: whatever differs between entities is in
its module (``sync/entities``), so adding one is one module and one migration."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sync import models
from sync.entities import INSERT_ORDER, PHONE_ENTITIES, REGISTRY, catalogue
from sync.entities.base import columns_of

SYNC = Path(__file__).resolve().parents[2] / "sync"
FLOW = ("push.py", "pull.py", "engine.py", "store.py", "scope.py")
NAMES = set(REGISTRY) | {e.table for e in REGISTRY.values()}


def _names_compared(tree: ast.AST) -> list[tuple[int, str]]:
    """Entity names (string literals) compared with anything: ``x == "contact"``, ``x in
    ("participant", "group")``, ``match x: case "group":``."""
    found: list[tuple[int, str]] = []

    def literals(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return [v for e in node.elts for v in literals(e)]
        return []

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                found += [(node.lineno, s) for s in literals(side) if s in NAMES]
        elif isinstance(node, ast.MatchValue):
            found += [(node.lineno, s) for s in literals(node.value) if s in NAMES]
    return found


@pytest.mark.parametrize("name", FLOW)
def test_the_batch_flow_compares_no_value_with_an_entity_name(name: str) -> None:
    tree = ast.parse((SYNC / name).read_text(), filename=name)
    assert _names_compared(tree) == []


def test_the_check_finds_a_branch_on_an_entity_name() -> None:
    tree = ast.parse('if entity == "contact" or kind in ("group", "x"):\n    pass\n')
    assert _names_compared(tree) == [(1, "contact"), (1, "group")]


def test_every_entity_is_in_the_registry_under_its_own_name() -> None:
    for name, entity in REGISTRY.items():
        assert entity.name == name
        assert {"id", "version", "seq", "updated_at"} <= set(entity.columns), name


def test_a_batch_inserts_every_entity_after_the_ones_it_refers_to() -> None:
    order = list(INSERT_ORDER)
    assert sorted(order) == sorted(REGISTRY)
    for name, entity in REGISTRY.items():
        for parent in entity.refers_to:
            assert order.index(parent) < order.index(name), (parent, name)


def test_the_phones_catalogue_is_every_phone_entitys_rules() -> None:
    fields = catalogue()["fields"]
    assert list(fields) == list(PHONE_ENTITIES)
    for name in PHONE_ENTITIES:
        assert list(fields[name]) == list(REGISTRY[name].rules)
        assert REGISTRY[name].wire_writable == tuple(REGISTRY[name].rules)


def test_columns_come_from_the_model_with_each_foreign_key_as_its_column() -> None:
    columns = columns_of(models.Assessment)
    assert columns["participant_id"] == "uuid"
    assert columns["instrument_id"] == "text"  # an instrument's id is its slug
    assert columns["answers"] == "json" and columns["assessed_on"] == "date"
    assert "created_at" not in columns and "participant" not in columns
