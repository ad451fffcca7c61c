"""Every word on a page is a label in the reader's language: no msgid translated two ways (the
participant's "Code" was served as 邀请码, invite code, because two catalogues translated it), and
no raw enumeration value (``chc_doctor``, ``home_visit``) on a staff page, in either language."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from babel.messages.pofile import read_po

from server import i18n
from server.settings import Settings
from sync.models import (
    Contact,
    ContactMode,
    KeyFunction,
    ParticipantStatus,
    Referral,
    Role,
    Sex,
)
from tests import factories

REFERRAL_TO = ("chc_doctor", "hospital", "community_resource")
# Values that are also ordinary English words a label may use ("Active", "Urgent", "none"):
# only the underscored codes and the ones no label would write in lower case are checked.
RAW = sorted(
    {
        v.value
        for enum in (ContactMode, KeyFunction, ParticipantStatus, Referral, Sex)
        for v in enum
        if "_" in v.value
    }
    | set(REFERRAL_TO)
)


def test_no_msgid_is_translated_two_ways() -> None:
    seen: dict[tuple[str | None, str], dict[str, str]] = defaultdict(dict)
    for po in sorted((i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale="zh_CN"):
                if message.id and message.string and isinstance(message.id, str):
                    seen[(message.context, message.id)][po.name] = str(message.string)
    collisions = {key: files for key, files in seen.items() if len(set(files.values())) > 1}
    assert collisions == {}, "give one of them a context (pgettext): " + repr(collisions)


def test_a_word_with_two_meanings_gets_each_in_its_place() -> None:
    zh = i18n.translations("zh-CN")
    assert zh.gettext("Code") == "编号"  # a participant's program code
    assert zh.pgettext("invite", "Code") == "邀请码"
    assert zh.pgettext("status", "Open") != zh.pgettext("verb", "Open")
    assert i18n.catalogue("zh-CN")["status\x04Open"] == "待处理"


def visible_text(html: str) -> str:
    html = re.sub(r"(?is)<(script|style|template)\b.*?</\1>", " ", html)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
async def test_staff_pages_show_labels_never_raw_codes(
    client: httpx.AsyncClient, settings: Settings, lang: str
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    person = await factories.participant(committee, leader)
    for i, (mode, where) in enumerate(zip(list(ContactMode)[:3], REFERRAL_TO, strict=False)):
        await Contact.create(
            participant=person,
            peer_leader=leader,
            community=community,
            occurred_at=datetime.now(UTC) - timedelta(days=i + 1),
            mode=mode,
            functions=[KeyFunction.LINKAGE_TO_CARE.value],
            referral="urgent",
            referral_to=where,
            referral_reason="dizzy",
        )
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    client.cookies.set("lang", lang)
    for path in ("/admin", "/admin/dashboard", "/admin/places", "/admin/participants"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        text = visible_text(answer.text)
        raw = [code for code in RAW if re.search(rf"(?<![\w-]){code}(?![\w-])", text)]
        assert raw == [], f"{path} ({lang}) shows raw codes {raw}"
    if lang == "zh-CN":
        assert "社区卫生服务中心医生" in visible_text((await client.get("/admin")).text)
