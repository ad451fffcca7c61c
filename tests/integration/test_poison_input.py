"""Poison input: control characters, bidi overrides, broken UTF-8, deep nesting and odd digits
are refused for the field or the request that carries them, with a reason, and never become a
5xx (on PostgreSQL a NUL used to fail the whole batch, forever) or block the rest of a batch."""

from __future__ import annotations

import uuid

import httpx
import pytest

from server.settings import Settings
from sync import entities, validate
from sync.models import Community, Contact, Credential, Participant, Role
from tests import factories as f
from tests.integration.test_import import HEADER, token_of, upload
from tests.integration.test_sync_helpers import contact_fields, mutation, push

# NUL, another C0 control, DEL, a C1 control, a right-to-left override, an isolate: each
# refused in a text field.
POISON = ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\u202a", "\u202e", "\u2066", "\u2069"]


@pytest.mark.parametrize("bad", POISON, ids=[f"U+{ord(c):04X}" for c in POISON])
def test_text_rules_refuse_controls_and_bidi_overrides(bad: str) -> None:
    now = validate.datetime.now(validate.UTC)
    clean, errors = entities.check("contact", {"note": f"ok{bad}ok", "referral_to": "CHC"}, now)
    assert list(errors) == ["note"]
    assert "control" in errors["note"][0]
    assert clean == {"referral_to": "CHC"}


def test_tabs_line_breaks_and_bidi_marks_stay_allowed_in_text() -> None:
    now = validate.datetime.now(validate.UTC)
    note = "line one\n\tline two\r\nthree\rfour \u200f王\u200e"
    clean, errors = entities.check("contact", {"note": note}, now)
    # A staff page's textarea sends CRLF: one form of line break is kept.
    assert not errors and clean["note"] == "line one\n\tline two\nthree\nfour \u200f王\u200e"


async def _leader_world(client: httpx.AsyncClient, settings: Settings):
    leader = await f.user(Role.PEER_LEADER)
    committee = await f.committee(await leader.community)
    person = await f.participant(committee, peer_leader=leader)
    await f.sign_in(client, leader, settings)
    return leader, person


async def test_a_nul_in_a_text_field_rejects_that_field_and_the_rest_of_the_batch_is_applied(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person = await _leader_world(client, settings)
    device = uuid.uuid4()
    poisoned, fine = uuid.uuid4(), uuid.uuid4()
    batch = [
        mutation(1, "contact", poisoned, contact_fields(person.id, note="bad\x00note")),
        mutation(2, "contact", fine, contact_fields(person.id, note="fine note")),
        mutation(3, "participant", person.id, {"address": "Bldg 3\u202e", "notes": "a\x01"}, 1),
        # A NUL in what names the entity or a field: kept (escaped) in the log, not a 5xx.
        mutation(4, "contact\x00", uuid.uuid4(), contact_fields(person.id)),
        mutation(5, "contact", uuid.uuid4(), contact_fields(person.id, **{"no\x00te": "x"})),
    ]
    response = await push(client, device, batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["last_mutation_id"] == 5
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["rejected", "applied", "rejected", "rejected", "rejected"]
    assert set(body["results"][4]["errors"]) == {"no\\u0000te"}
    assert set(body["results"][0]["errors"]) == {"note"}
    assert set(body["results"][2]["errors"]) == {"address", "notes"}
    assert await Contact.exists(id=fine) and not await Contact.exists(id=poisoned)
    # The log kept the rejection: the same batch again is answered the same, not a 5xx.
    again = await push(client, device, batch)
    assert again.status_code == 200
    assert [r["status"] for r in again.json()["results"]] == statuses


async def test_a_nul_in_a_staff_form_is_refused_for_that_field(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    committee = await f.committee(community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    await f.sign_in(client, coordinator, settings)
    client.cookies.set("lang", "en")
    form = {
        "code": "SH-0900",
        "full_name": "Bad\x00Name",
        "committee_id": str(committee.id),
        "status": "active",
        "consent_on": "2026-05-01",
        "enrolled_on": "2026-05-01",
    }
    response = await client.post("/admin/participants", data=form)
    assert response.status_code == 422
    assert "control" in response.text
    assert not await Participant.exists(code="SH-0900")
    # Places are written directly, not through the engine: the same rule, a reason on the page.
    response = await client.post(
        "/admin/places/committees",
        data={"community_id": str(community.id), "name": "RC\x00", "code": "RC-X"},
    )
    assert response.status_code == 303
    assert "error=bad_text" in response.headers["location"]
    page = await client.get(response.headers["location"])
    assert "control" in page.text


async def test_admin_place_and_user_forms_refuse_control_characters(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await f.user(Role.ADMIN)
    await f.sign_in(client, admin, settings)
    client.cookies.set("lang", "en")
    response = await client.post(
        "/admin/places/communities", data={"name": "North\x00", "code": "N1"}
    )
    assert response.status_code == 303 and "error=bad_text" in response.headers["location"]
    assert not await Community.exists(code="N1")
    response = await client.post(
        "/admin/users",
        data={"username": "eve\u202e", "role": "admin", "display_name": "Eve"},
    )
    assert response.status_code == 422 and "control" in response.text


async def test_a_csv_import_row_with_a_nul_is_reported_and_the_others_import(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    await f.committee(community, code="RC-A")
    coordinator = await f.user(Role.COORDINATOR, community=community)
    await f.sign_in(client, coordinator, settings)
    client.cookies.set("lang", "en")
    text = "\n".join(
        [
            HEADER,
            "N-1,Good One,RC-A,2026-05-01,,,,,,,,,,,",
            "N-2,Bad\x00One,RC-A,2026-05-01,,,,,,,,,,,",
            "N-3,Also Good,RC-A,2026-05-01,,,,,,,,,,,fine \u202enote",
        ]
    )
    page = await upload(client, text)
    assert page.status_code == 200, page.text
    assert "1 rows are ready to import; 2 rows have a problem" in page.text or (
        "ready to import" in page.text and "have a problem" in page.text
    )
    confirmed = await client.post(f"/admin/participants/import/{token_of(page)}/confirm")
    assert confirmed.status_code == 200
    assert await Participant.exists(code="N-1")
    assert not await Participant.exists(code="N-2")
    assert not await Participant.exists(code="N-3")


async def test_invalid_utf8_and_deep_nesting_in_a_push_are_422_naming_the_problem(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person = await _leader_world(client, settings)
    device = uuid.uuid4()
    head = (
        f'{{"device_id": "{device}", "schema_version": 1, "mutations": [{{"mutation_id": 1, '
        f'"entity": "contact", "id": "{uuid.uuid4()}", "fields": {{"participant_id": '
        f'"{person.id}", "note": '
    ).encode()
    broken = head + b'"caf\xc3\x28"}}]}'
    response = await client.post(
        "/api/sync/push", content=broken, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "UTF-8" in response.json()["message"]

    deep = head + b"[" * 1000 + b"]" * 1000 + b"}}]}"
    response = await client.post(
        "/api/sync/push", content=deep, headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["results"][0]["status"] == "rejected"
    else:
        assert "deep" in response.json()["message"]


@pytest.mark.parametrize("limit", ["4²", "٣", "１０", "-1", "0", "1e3", " 5"])
async def test_a_pull_limit_that_is_not_plain_digits_is_422(
    client: httpx.AsyncClient, settings: Settings, limit: str
) -> None:
    await _leader_world(client, settings)
    response = await client.get("/api/sync/pull", params={"limit": limit})
    assert response.status_code == 422, response.text
    assert "limit" in response.json()["message"]


@pytest.mark.parametrize(
    "code",
    ["A" * 5000, "ÄÖÜ-ß漢字", "K7P2-9QX%00", "%00", "K7P2\u202e9QXD", "４４４４-ＡＡＡＡ", "ß" * 8],
    ids=["long", "non-ascii", "nul", "only-nul", "bidi", "full-width", "grows-when-upper-cased"],
)
async def test_odd_invite_codes_are_unknown_invites_not_errors(
    client: httpx.AsyncClient, settings: Settings, code: str
) -> None:
    await client.get("/signin")
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    # A body of the right shape, so that only the code can be wrong.
    credential = {"id": "x", "response": {"clientDataJSON": "x"}}
    for path in (f"/api/auth/invites/{code}/options", f"/api/auth/invites/{code}/register"):
        response = await client.post(path, json=credential)
        # Unknown, or (a control character in the path) a 400 naming the parameter.
        assert response.status_code in (400, 404), (path, response.status_code, response.text)
        if response.status_code == 404:
            assert response.json()["error"] == "invite_unknown"
        else:
            assert response.json()["message"].startswith("code: must not contain control")
    page = await client.get(f"/invite/{code}")
    assert page.status_code in (400, 404)
    typed = await client.get("/invite", params={"code": code})
    assert typed.status_code in (303, 302, 400, 404)


@pytest.mark.parametrize("token", ["A" * 5000, "ünïcode", "a%00b", "a\u202eb"])
async def test_odd_import_tokens_are_not_found(
    client: httpx.AsyncClient, settings: Settings, token: str
) -> None:
    coordinator = await f.user(Role.COORDINATOR)
    await f.sign_in(client, coordinator, settings)
    response = await client.post(f"/admin/participants/import/{token}/confirm")
    assert response.status_code in (400, 404), response.text
    response = await client.get(f"/admin/participants/import/{token}/rejected.csv")
    assert response.status_code in (400, 404), response.text


async def test_json_bodies_with_broken_utf8_or_deep_nesting_are_4xx_everywhere(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader = await f.user(Role.PEER_LEADER)
    passkey = await Credential.create(
        user=leader, credential_id="cred-1", public_key=b"k", name="Phone"
    )
    await f.sign_in(client, leader, settings)
    json_header = {"content-type": "application/json"}
    bodies = {
        "broken UTF-8": b'{"name": "caf\xc3\x28"}',
        "deep": b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    }
    for what, body in bodies.items():
        for method, path in (
            ("PATCH", f"/api/auth/passkeys/{passkey.id}"),
            ("POST", "/api/auth/login"),
            ("POST", "/api/auth/passkeys"),
        ):
            response = await client.request(method, path, content=body, headers=json_header)
            assert 400 <= response.status_code < 500, (what, path, response.status_code)
    response = await client.patch(f"/api/auth/passkeys/{passkey.id}", json={"name": "My\x00phone"})
    assert response.status_code == 422 and "control" in response.json()["message"]
    await passkey.refresh_from_db()
    assert passkey.name == "Phone"


async def test_page_filters_with_control_characters_or_huge_page_numbers_are_no_5xx(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await f.user(Role.ADMIN)
    await f.sign_in(client, admin, settings)
    for path, params in (
        ("/admin/participants", {"q": "王\x00"}),
        ("/admin/participants", {"status": "active\u202e"}),
        ("/admin/audit", {"user": "\x00", "action": "x", "record": "r"}),
        ("/admin/conflicts", {"record": "P-1\x00"}),
        ("/admin/roster", {"committee": "\x00"}),
        ("/api/sync/conflicts", {"id": "\x00"}),
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 400, (path, response.status_code)
        assert "must not contain control characters" in response.text
    for path in ("/admin/participants", "/admin/audit", "/admin/conflicts"):
        for page in ("99999999999999999999999999", "4²", "-3"):
            response = await client.get(path, params={"page": page})
            assert response.status_code == 200, (path, page, response.status_code)


async def test_numbers_beyond_the_columns_are_a_malformed_push_not_a_5xx(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person = await _leader_world(client, settings)
    device = uuid.uuid4()
    for field, value in (
        ("base_version", 2**31),
        ("mutation_id", 2**63),
        ("mutation_id", -(2**64)),
    ):
        m = mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))
        m[field] = value
        response = await push(client, device, [m])
        assert response.status_code == 422, (field, response.status_code)
        assert response.json()["message"].startswith(f"mutations[0].{field}: expected int")
    # Far below the device's last id but inside the column: answered, not applied, not a 5xx.
    m = mutation(-(2**62), "contact", uuid.uuid4(), contact_fields(person.id))
    response = await push(client, device, [m])
    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "rejected"
