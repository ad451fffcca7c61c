"""The published contract describes the sync and sign-in APIs' bodies and answers (issue 13,
section 2): a client generated from ``/api/schema/openapi.json`` could sign in and sync. Each
body and each success answer of every operation under ``/api/sync/`` and ``/api/auth/`` is a
component schema (``$ref``), and those components say what the structs say."""

from __future__ import annotations

from typing import Any

import httpx

from server.auth import bodies
from sync.wire import PullResponse, PushRequest, PushResponse, ResyncResponse

API = ("/api/sync/", "/api/auth/")

# (path, method) → (the component its request body must be, or None for no body; the components
# its success answer may be).
SYNC_OPERATIONS: dict[tuple[str, str], tuple[str | None, set[str]]] = {
    ("/api/sync/push", "post"): ("PushRequest", {"PushResponse"}),
    ("/api/sync/pull", "get"): (None, {"PullResponse", "ResyncResponse"}),
}


def _refs(schema: dict[str, Any]) -> set[str]:
    """The components a schema names: itself a ``$ref``, or a ``oneOf`` of ``$ref``s."""
    if "$ref" in schema:
        return {schema["$ref"].rsplit("/", 1)[-1]}
    options = schema.get("oneOf") or schema.get("anyOf") or []
    refs = {o["$ref"].rsplit("/", 1)[-1] for o in options if "$ref" in o}
    assert refs and len(refs) == len(options), schema
    return refs


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_every_sync_body_and_answer_is_a_component_schema(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    components = document.get("components", {}).get("schemas", {})
    for (path, method), (body, answers) in SYNC_OPERATIONS.items():
        operation = document["paths"][path][method]
        if body is None:
            assert "requestBody" not in operation, path
        else:
            content = operation["requestBody"]["content"]["application/json"]
            assert _refs(content["schema"]) == {body}, path
        success = next(
            operation["responses"][s] for s in ("200", "201") if s in operation["responses"]
        )
        schema = success["content"]["application/json"]["schema"]
        assert schema.get("type") != "string", path
        assert _refs(schema) == answers, path
        for name in _refs(schema) | ({body} if body else set()):
            assert name in components, name


async def test_the_components_say_what_the_wire_structs_say(client: httpx.AsyncClient) -> None:
    components = (await _document(client))["components"]["schemas"]
    for struct in (PushRequest, PushResponse, PullResponse, ResyncResponse):
        schema = components[struct.__name__]
        assert set(schema["properties"]) == set(struct.__struct_fields__), struct
        required = {
            f for f, d in zip(struct.__struct_fields__, _defaults(struct), strict=True) if not d
        }
        assert set(schema.get("required", [])) == required, struct
    mutation = components["MutationIn"]
    assert mutation["properties"]["mutation_id"]["type"] == "integer"
    assert set(mutation["required"]) == {"mutation_id", "entity", "id", "fields"}


async def test_every_api_operation_names_a_component_for_its_body_and_answer(
    client: httpx.AsyncClient,
) -> None:
    """Derived from the document: a new operation with an untyped body or answer fails here."""
    document = await _document(client)
    components = document["components"]["schemas"]
    operations = [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        if path.startswith(API)
        for method, operation in methods.items()
    ]
    assert len(operations) >= 20  # every sign-in, account and sync operation is published
    for method, path, operation in operations:
        named: set[str] = set()
        if "requestBody" in operation:
            named |= _refs(operation["requestBody"]["content"]["application/json"]["schema"])
        answers = [r for status, r in operation["responses"].items() if status.startswith("2")]
        assert len(answers) == 1, (method, path)
        named |= _refs(answers[0]["content"]["application/json"]["schema"])
        for name in named:
            assert components[name].get("type") == "object", (method, path, name)
    bodies_in = {
        (path, method): set(_refs(op["requestBody"]["content"]["application/json"]["schema"]))
        for method, path, op in operations
        if "requestBody" in op
    }
    # Every body the phone sends is declared (none is read as "any JSON").
    assert bodies_in == {
        ("/api/sync/push", "POST"): {"PushRequest"},
        ("/api/auth/login", "POST"): {"PasskeyCredential"},
        ("/api/auth/device-key/login", "POST"): {"DeviceKeySignIn"},
        ("/api/auth/invites/{code}/register", "POST"): {"PasskeyCredential"},
        ("/api/auth/invites/{code}/device-key", "POST"): {"DeviceKeyRegistration"},
        ("/api/auth/passkeys", "POST"): {"NewPasskey"},
        ("/api/auth/passkeys/{passkey_id}", "PATCH"): {"PasskeyName"},
    }


async def test_the_sign_in_components_say_what_the_structs_say(client: httpx.AsyncClient) -> None:
    components = (await _document(client))["components"]["schemas"]
    for struct in (
        bodies.PasskeyCredential,
        bodies.CreationOptions,
        bodies.RequestOptions,
        bodies.DeviceKeyRegistration,
        bodies.DeviceKeySignIn,
        bodies.SignedIn,
        bodies.Me,
        bodies.PasskeyList,
        bodies.DeviceList,
    ):
        schema = components[struct.__name__]
        assert set(schema["properties"]) == set(struct.__struct_fields__), struct
        required = {
            f for f, d in zip(struct.__struct_fields__, _defaults(struct), strict=True) if not d
        }
        assert set(schema.get("required", [])) == required, struct


def _defaults(struct: type) -> list[bool]:
    fields = struct.__struct_fields__  # type: ignore[attr-defined]
    defaults = struct.__struct_defaults__  # type: ignore[attr-defined]
    return [False] * (len(fields) - len(defaults)) + [True] * len(defaults)
