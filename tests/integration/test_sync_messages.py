"""Why a record was not accepted, in the reader's language: the push answers a zh-CN phone in
Chinese and an English one in English, with the numbers of the rule; a replay is answered in
the language of whoever asks again; the mutation log stays English; staff pages too."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from server.settings import Settings
from sync.models import Mutation, Role
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, push


async def leader_with_participant(client: httpx.AsyncClient, settings: Settings) -> tuple[Any, Any]:
    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    person = await f.participant(committee, peer_leader=leader, full_name="陈美玲")
    await f.sign_in(client, leader, settings)
    return leader, person


def bad_batch(person_id: Any, other_id: Any) -> list[dict[str, Any]]:
    return [
        mutation(1, "contact", uuid.uuid4(), contact_fields(person_id, glucose_mmol=80)),
        mutation(2, "contact", uuid.uuid4(), contact_fields(person_id, duration_min=0)),
        mutation(
            3,
            "contact",
            uuid.uuid4(),
            contact_fields(person_id, occurred_at="2099-01-01T00:00:00+08:00"),
        ),
        mutation(4, "contact", uuid.uuid4(), contact_fields(other_id)),
        mutation(5, "participant", person_id, {"hba1c": 9.0}, base_version=1),
        mutation(
            6, "contact", uuid.uuid4(), contact_fields(person_id, functions=["being_there", "x"])
        ),
        mutation(7, "contact", uuid.uuid4(), contact_fields(person_id, glucose_mmol=6.2)),
    ]


CHINESE = [
    {"glucose_mmol": ["应在 1 到 35 mmol/L 之间"]},
    {"duration_min": ["应在 1 到 1440 分钟之间"]},
    {"occurred_at": ["不能是将来的时间"]},
    {"participant_id": ["您负责的参与者中没有这个人"]},
    {"hba1c": ["同伴组长不能修改这一项"]},
    {
        "functions": [
            "第 2 项：只能是以下之一：being_there、daily_management、social_emotional、"
            "linkage_to_care、ongoing_support"
        ]
    },
]
ENGLISH = [
    {"glucose_mmol": ["must be between 1 and 35 mmol/L"]},
    {"duration_min": ["must be between 1 and 1440 minutes"]},
    {"occurred_at": ["must not be in the future"]},
    {"participant_id": ["no such participant in your scope"]},
    {"hba1c": ["your role (peer_leader) may not change this field"]},
    {
        "functions": [
            "item 1 must be one of being_there, daily_management, social_emotional, "
            "linkage_to_care, ongoing_support"
        ]
    },
]


def errors_of(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    return [r.get("errors") for r in response.json()["results"]]


async def test_a_chinese_phone_reads_why_in_chinese_with_the_rules_numbers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, person = await leader_with_participant(client, settings)
    client.cookies.set("lang", "zh-CN")
    response = await push(client, uuid.uuid4(), bad_batch(person.id, uuid.uuid4()))
    assert errors_of(response) == [*CHINESE, None]
    assert response.headers["content-language"] == "zh-CN"
    assert response.json()["results"][6]["status"] == "applied"


async def test_a_refusal_carries_its_templates_for_a_phone_that_switches_language_later(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, person = await leader_with_participant(client, settings)
    client.cookies.set("lang", "zh-CN")
    results = (await push(client, uuid.uuid4(), bad_batch(person.id, uuid.uuid4()))).json()[
        "results"
    ]
    glucose = results[0]["templates"]["glucose_mmol"][0]
    assert glucose[0] == "must be between %(low)s and %(high)s %(unit)s"
    assert {k: str(v) for k, v in glucose[1].items()} == {
        "low": "1",
        "high": "35",
        "unit": "mmol/L",
    }
    functions = results[5]["templates"]["functions"][0]
    assert functions[1]["number"] == 2 and "message" in functions[1]["problem"]
    assert "templates" not in results[6]  # accepted: nothing to say


async def test_an_english_phone_reads_why_in_english(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, person = await leader_with_participant(client, settings)
    client.headers["accept-language"] = "en-GB,en;q=0.9,zh-CN;q=0.5"
    response = await push(client, uuid.uuid4(), bad_batch(person.id, uuid.uuid4()))
    assert errors_of(response) == [*ENGLISH, None]
    assert response.headers["content-language"] == "en"


async def test_the_lang_cookie_wins_over_the_browsers_languages_and_chinese_is_the_default(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # As for the pages: the language switch sets the cookie, which outranks Accept-Language.
    _, person = await leader_with_participant(client, settings)
    batch = bad_batch(person.id, uuid.uuid4())[:1]
    client.headers["accept-language"] = "en"
    client.cookies.set("lang", "zh-CN")
    assert errors_of(await push(client, uuid.uuid4(), batch)) == CHINESE[:1]
    del client.headers["accept-language"]
    client.cookies.delete("lang")
    assert errors_of(await push(client, uuid.uuid4(), batch)) == CHINESE[:1]


async def test_a_replay_is_answered_in_the_language_of_whoever_asks_and_the_log_stays_english(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, person = await leader_with_participant(client, settings)
    device = uuid.uuid4()
    batch = bad_batch(person.id, uuid.uuid4())
    client.headers["accept-language"] = "en"
    assert errors_of(await push(client, device, batch)) == [*ENGLISH, None]
    # The answer was lost; the phone, now switched to Chinese, sends the batch again.
    client.cookies.set("lang", "zh-CN")
    again = await push(client, device, batch)
    assert errors_of(again) == [*CHINESE, None]
    assert all(r["duplicate"] for r in again.json()["results"])
    logged = await Mutation.get(device_id=device, mutation_id=1)  # type: ignore[call-arg]
    result = logged.result
    assert isinstance(result, dict)
    assert result["errors"] == {"glucose_mmol": ["must be between 1 and 35 mmol/L"]}
    assert "陈美玲" not in str(result) and "80" not in str(result)


async def test_a_staff_page_shows_the_engines_message_in_the_readers_language(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    committee = await f.committee(community)
    person = await f.participant(committee, hba1c=8.1)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    await f.sign_in(client, coordinator, settings)
    url = f"/admin/participants/{person.id}"
    page = await client.get(url)
    form = dict(
        (name, value)
        for name, value in _inputs(page.text)
        if name not in ("needs_visit",) and value is not None
    )
    form["hba1c"] = "25"
    client.cookies.set("lang", "zh-CN")
    refused = await client.post(url, data=form)
    assert refused.status_code == 422
    assert "应在 3 到 20 % 之间" in refused.text
    assert "must be between" not in refused.text
    client.cookies.set("lang", "en")
    refused = await client.post(url, data=form)
    assert refused.status_code == 422 and "must be between 3 and 20 %" in refused.text


def _inputs(html: str) -> list[tuple[str, str | None]]:
    """name/value of the form's inputs and selected options (enough to post the form back)."""
    import re

    out: list[tuple[str, str | None]] = []
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            out.append((name.group(1), value.group(1) if value else ""))
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option[^>]*value="([^"]*)"[^>]*selected', body)
        out.append((name, chosen.group(1) if chosen else ""))
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        out.append((name, body))
    return out
