"""The research export: a pseudonymised zip that pandas reads with ``read_csv`` alone, whose
codebook names every column and whose lookups hold every code, with no name, phone or address
anywhere in it; a participant enrolled long ago and active in the window is in it."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from server import exports, research
from server.settings import Settings
from sync.models import (
    Assessment,
    AuditEvent,
    Contact,
    GroupActivity,
    GroupMeeting,
    ImplementationRating,
    Measurement,
    Participant,
    Role,
    Supervision,
    User,
)
from tests import factories

pytestmark = pytest.mark.timezone("Asia/Shanghai")

SINCE, UNTIL = date(2026, 9, 1), date(2026, 11, 25)
# Variable names SPSS (ALL, AND, …) and Stata (byte, double, …) refuse.
RESERVED = {
    *["all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"],
    *["byte", "double", "float", "if", "in", "int", "long", "using", "strl"],
}


def when(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def make_program() -> dict[str, Any]:
    """Two communities. In the first: a participant enrolled in 2025 and contacted in the window,
    one enrolled in the window and never contacted, one last contacted before it, and a meeting
    co-led by a named staff member; the second has its own participant and contact."""
    home = await factories.community(code="SH-CF", name="长风街道")
    away = await factories.community(code="SH-XH", name="徐汇街道")
    committee = await factories.committee(home, code="CF-01", name="长风一村居委会")
    other_committee = await factories.committee(away, code="XH-01")
    leader = await factories.user(
        Role.PEER_LEADER, community=home, display_name="张美华", username="zhang.meihua"
    )
    other_leader = await factories.user(Role.PEER_LEADER, community=away, display_name="李四")
    group = await factories.group(home, leader=leader, committee=committee, name="张美华的小组")

    def person(name: str, phone: str, address: str, **kw: Any) -> dict[str, Any]:
        return {"full_name": name, "phone": phone, "address": address, "notes": "怕打针", **kw}

    old_timer = await factories.participant(
        committee,
        leader,
        group=group,
        enrolled_on=date(2025, 3, 1),
        hba1c_baseline=9.1,
        hba1c=8.4,
        **person("王秀英", "13901234567", "长风一村3号楼402室"),
    )
    newcomer = await factories.participant(
        committee,
        leader,
        enrolled_on=date(2026, 10, 5),
        **person("赵建国", "13807654321", "长风一村5号楼101室"),
    )
    lapsed = await factories.participant(
        committee,
        leader,
        enrolled_on=date(2025, 1, 1),
        **person("钱多多", "13711112222", "长风二村1号楼"),
    )
    outsider = await factories.participant(
        other_committee,
        other_leader,
        enrolled_on=date(2024, 6, 1),
        **person("孙悟空", "13633334444", "花果山1号"),
    )
    contact = await Contact.create(
        participant=old_timer,
        peer_leader=leader,
        community=home,
        occurred_at=when(date(2026, 10, 2)),
        mode="home_visit",
        duration_min=30,
        functions=["being_there", "linkage_to_care"],
        topics=["diet", "medication"],
        referral="routine",
        referral_reason="王秀英说脚疼",
        referral_to="chc_doctor",
        glucose_mmol=7.8,
        note='=HYPERLINK("http://x") 王秀英 13901234567',
    )
    await Contact.create(
        participant=old_timer,
        peer_leader=leader,
        community=home,
        occurred_at=when(date(2026, 10, 3)),
        mode="phone_call",
        voided=True,
        void_reason="wrong person",
    )
    await Contact.create(
        participant=lapsed,
        peer_leader=leader,
        community=home,
        occurred_at=when(date(2026, 6, 1)),
        mode="phone_call",
    )
    await Contact.create(
        participant=outsider,
        peer_leader=other_leader,
        community=away,
        occurred_at=when(date(2026, 10, 9)),
        mode="phone_call",
    )
    # Enrolled in 2024, with only a clinic HbA1c and a distress questionnaire in the window.
    measured = await factories.participant(
        committee,
        leader,
        enrolled_on=date(2024, 2, 1),
        **person("周一测", "13555556666", "长风三村8号楼"),
    )
    await Measurement.create(
        participant=measured,
        community=home,
        marker="hba1c",
        value=8.7,
        measured_on=date(2026, 10, 20),
        source="clinic",
        note="周一测 复查",
    )
    await Measurement.create(
        participant=measured,
        community=home,
        marker="weight",
        value=71.5,
        measured_on=date(2026, 10, 20),
        source="clinic",
        voided=True,
        void_reason="typo",
    )
    await Assessment.create(
        participant=measured,
        instrument_id="dds2",
        community=home,
        entered_by=leader,
        time_point="baseline",
        assessed_on=date(2026, 10, 20),
        answers={"dds2_1": 4, "dds2_2": 3},
        score=3.5,
        note="哭了",
    )
    await GroupActivity.create(
        group=group,
        community=home,
        peer_leader=leader,
        channel="wechat_group",
        occurred_at=when(date(2026, 11, 3)),
        topic="王秀英分享",
        functions=["social_emotional"],
        participants_count=14,
        residents_count=3,
    )
    coordinator = await factories.user(Role.COORDINATOR, community=home, display_name="陈协调")
    await Supervision.create(
        peer_leader=leader,
        supervisor=coordinator,
        community=home,
        occurred_at=when(date(2026, 11, 4)),
        mode="phone_call",
        topics=["burnout"],
        concerns="张美华很累",
    )
    await ImplementationRating.create(
        peer_leader=leader,
        community=home,
        rated_by=coordinator,
        period="2026-Q4",
        being_there=4,
        committee_use=2,
        comment="张美华做得好",
    )
    # The community's training, a program-wide one (with a peer leader of the other community),
    # a voided one and one before the window.
    admin = await factories.user(Role.ADMIN)
    await factories.training(coordinator, date(2026, 10, 9), [leader], hours=2.0, title="王秀英")
    await factories.training(
        admin, date(2026, 10, 20), [leader, other_leader], community=None, hours=1.5
    )
    await factories.training(coordinator, date(2026, 10, 21), [leader], voided=True)
    await factories.training(coordinator, date(2026, 8, 1), [leader])
    meeting = await GroupMeeting.create(
        group=group,
        community=home,
        peer_leader=leader,
        occurred_at=when(date(2026, 11, 1)),
        place="王秀英家",
        topic="饮食",
        co_leader="陈医生",
        attendee_ids=[str(old_timer.id), str(newcomer.id)],
    )
    return {
        "home": home,
        "away": away,
        "old_timer": old_timer,
        "newcomer": newcomer,
        "lapsed": lapsed,
        "outsider": outsider,
        "measured": measured,
        "contact": contact,
        "meeting": meeting,
        "leader": leader,
        "other_leader": other_leader,
        "group": group,
    }


def unzip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def frames(files: dict[str, bytes]) -> dict[str, pd.DataFrame]:
    """Every CSV read the way an evaluator would: ``read_csv`` and nothing else."""
    return {
        name.removesuffix(".csv"): pd.read_csv(io.BytesIO(body))
        for name, body in files.items()
        if name.endswith(".csv")
    }


async def download(client: httpx.AsyncClient, query: str = "") -> dict[str, bytes]:
    response = await client.get(f"/admin/exports/research.zip?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    return unzip(response.content)


def window() -> str:
    return f"since={SINCE}&until={UNTIL}"


async def test_the_research_zip_loads_in_pandas_with_every_column_and_code_explained(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await make_program()
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    files = await download(client, window())
    assert "README.txt" in files
    tables = frames(files)
    codebook = tables.pop("codebook")
    assert set(tables) == {t.name for t in research.TABLES}
    for name, body in files.items():
        assert not body.startswith(b"\xef\xbb\xbf"), f"{name}: a BOM renames R's first column"
    documented = {(r.table, r.column) for r in codebook.itertuples()}
    for name, frame in tables.items():
        assert list(frame.columns), name
        for column in frame.columns:
            assert (name, column) in documented, f"{name}.{column} is not in the codebook"
            # Stata's 32 characters; no name SPSS or Stata reserves.
            assert column.isascii() and column.islower() and len(column) <= 32, column
            assert column[0].isalpha() and column not in RESERVED, column
    assert codebook["meaning_zh"].notna().all() and codebook["meaning_en"].notna().all()

    # Every code a table uses is a key of the table it refers to.
    keys = {
        "participants": "participant_code",
        "peer_leaders": "peer_leader_code",
        "groups": "group_code",
        "committees": "committee_code",
        "communities": "community_code",
        "meetings": "meeting_id",
        "trainings": "training_id",
    }
    for row in codebook[codebook["refers_to"].notna()].itertuples():
        used = set(tables[row.table][row.column].dropna())
        target = tables[row.refers_to]
        key = row.column if row.column in target else keys[row.refers_to]
        known = set(target[key])
        assert used <= known, (row.table, row.column, used - known)

    # Numbers are numbers and missing is missing, with no options given.
    contacts = tables["contacts"]
    assert len(contacts) == 2  # the voided one and the one in June are not in the window's rows
    visit = contacts[contacts["contact_id"] == str(made["contact"].id)].iloc[0]
    assert visit["duration_min"] == 30 and visit["glucose_mmol"] == pytest.approx(7.8)
    assert pd.api.types.is_numeric_dtype(contacts["fn_being_there"])
    assert (visit["fn_being_there"], visit["fn_daily_management"]) == (1, 0)
    assert visit["occurred_on"] == "2026-10-02" and visit["referral_to"] == "chc_doctor"
    assert visit["topics"] == "diet;medication"
    assert pd.isna(contacts[contacts["mode"] == "phone_call"].iloc[0]["duration_min"])
    meetings = tables["meetings"]
    assert meetings.iloc[0]["co_led"] == 1 and meetings.iloc[0]["attendees"] == 2
    attendance = tables["meeting_attendance"]
    assert set(attendance["participant_code"]) == {made["old_timer"].code, made["newcomer"].code}
    measurements = tables["measurements"]
    assert list(measurements["marker"]) == ["hba1c"]  # the voided weight is left out
    assert (measurements["value"][0], measurements["unit"][0]) == (8.7, "%")
    answers = tables["assessment_answers"]
    assert dict(zip(answers["item"], answers["answer"], strict=True)) == {"dds2_1": 4, "dds2_2": 3}
    assert tables["assessments"]["score"][0] == 3.5
    assert set(tables["instrument_items"]["instrument"]) >= {"dds2"}
    activity = tables["group_activities"].iloc[0]
    assert (
        activity["channel"],
        activity["participants_count"],
        activity["fn_social_emotional"],
    ) == (
        "wechat_group",
        14,
        1,
    )
    assert tables["supervisions"]["mode"][0] == "phone_call"
    rating = tables["implementation_ratings"].iloc[0]
    assert (rating["period"], rating["being_there"], rating["committee_use"]) == ("2026-Q4", 4, 2)
    assert pd.isna(rating["ongoing_support"])
    trainings = tables["trainings"].sort_values("held_on")
    assert list(trainings["held_on"]) == ["2026-10-09", "2026-10-20"]
    assert list(trainings["hours"]) == [2.0, 1.5] and list(trainings["attendees"]) == [1, 2]
    assert trainings["community_code"].iloc[0] == "SH-CF" and pd.isna(
        trainings["community_code"].iloc[1]
    )
    attended = tables["training_attendance"]
    assert len(attended) == 3 and set(attended["peer_leader_code"]) == {
        exports.leader_code(made["leader"].id),
        exports.leader_code(made["other_leader"].id),
    }
    people = tables["participants"].set_index("participant_code")
    assert people.loc[made["old_timer"].code, "hba1c_baseline"] == pytest.approx(9.1)
    assert people.loc[made["old_timer"].code, "group_code"] == exports.group_code(made["group"].id)
    assert pd.api.types.is_numeric_dtype(people["birth_year"]) or people["birth_year"].isna().all()


async def test_participants_active_in_the_window_are_in_whenever_they_enrolled(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await make_program()
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    people = set(frames(await download(client, window()))["participants"]["participant_code"])
    # Enrolled in 2025 and contacted in October; enrolled in the window; the other community's
    # participant contacted in October; only measured and assessed in October: in. Last
    # contacted in June, enrolled in 2025: out.
    active = {made[k].code for k in ("old_timer", "newcomer", "outsider", "measured")}
    assert people == active
    # The same window in the ordinary participants export: no longer empty for the old-timer.
    body = (await client.get(f"/admin/exports/participants.csv?{window()}")).content
    rows = pd.read_csv(io.BytesIO(body), encoding="utf-8-sig")
    assert set(rows["code"]) == active


async def test_no_name_phone_or_address_is_anywhere_in_the_zip(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_program()
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    files = await download(client)  # no window: everything
    text = "\n".join(body.decode("utf-8") for body in files.values())
    secrets: set[str] = set()
    for p in await Participant.all():
        secrets |= {p.full_name, p.phone or "", p.address or "", p.notes or ""}
    for u in await User.all():
        secrets |= {u.display_name, u.username}
    for c in await Contact.all():
        secrets |= {c.note or "", c.referral_reason or "", c.void_reason or ""}
    for m in await GroupMeeting.all():
        secrets |= {m.place or "", m.topic or "", m.co_leader or ""}
    for x in await Measurement.all():
        secrets |= {x.note or "", x.void_reason or ""}
    secrets |= {a.note or "" for a in await Assessment.all()}
    secrets |= {g.topic or "" for g in await GroupActivity.all()}
    secrets |= {v.concerns or "" for v in await Supervision.all()}
    secrets |= {r.comment or "" for r in await ImplementationRating.all()}
    secrets |= {"张美华的小组"}
    for secret in sorted(s for s in secrets if s):
        assert secret not in text, f"{secret!r} is in the research export"
    assert "HYPERLINK" not in text


async def test_a_coordinator_gets_their_own_community_only_and_it_is_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await make_program()
    coordinator = await factories.user(Role.COORDINATOR, community=made["home"])
    await factories.sign_in(client, coordinator, settings)
    # Asking for the other community changes nothing.
    tables = frames(await download(client, f"{window()}&community={made['away'].id}"))
    assert set(tables["communities"]["community_code"]) == {"SH-CF"}
    assert set(tables["contacts"]["community_code"]) == {"SH-CF"}
    assert made["outsider"].code not in set(tables["participants"]["participant_code"])
    assert set(tables["participants"]["community_code"]) == {"SH-CF"}
    # The program-wide training is in, with this community's peer leader only.
    assert len(tables["trainings"]) == 2
    assert set(tables["training_attendance"]["peer_leader_code"]) == {
        exports.leader_code(made["leader"].id)
    }

    event = await AuditEvent.get(action="export", entity="research")
    assert event.actor_id == coordinator.id  # type: ignore[attr-defined]
    detail = event.detail
    assert detail["community"] == "SH-CF" and detail["complete"] is True
    assert (detail["since"], detail["until"]) == (SINCE.isoformat(), UNTIL.isoformat())
    assert detail["tables"]["contacts"] == len(tables["contacts"])
    assert detail["tables"]["participants"] == len(tables["participants"])
    assert "王秀英" not in str(detail) and made["old_timer"].code not in str(detail)


async def test_the_name_keys_match_the_research_codes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """The ordinary peer-leader, group and place exports are the program's key from codes to
    names, filtered by community."""
    made = await make_program()
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    tables = frames(await download(client, window()))

    async def csv(kind: str, query: str = "") -> pd.DataFrame:
        response = await client.get(f"/admin/exports/{kind}.csv?{query}")
        assert response.status_code == 200
        return pd.read_csv(io.BytesIO(response.content), encoding="utf-8-sig")

    leaders = await csv("peer_leaders", f"community={made['home'].id}")
    assert list(leaders["display_name"]) == ["张美华"]
    assert set(leaders["research_code"]) <= set(tables["peer_leaders"]["peer_leader_code"])
    groups = await csv("groups")
    assert list(groups["research_code"]) == list(tables["groups"]["group_code"])
    assert list(groups["name"]) == ["张美华的小组"]
    places = await csv("places")
    assert set(places["code"]) == {"CF-01", "XH-01"}
    assert set(places["community_name"]) == {"长风街道", "徐汇街道"}


async def test_peerlog_export_research_writes_the_zip(settings: Settings, tmp_path: Path) -> None:
    await make_program()
    env = {
        **os.environ,
        "PEERLOG_DATABASE_URL": settings.database_url,
        "PEERLOG_DATA_DIR": str(tmp_path),
        "PEERLOG_TIMEZONE": settings.timezone,
    }

    async def peerlog(*argv: str) -> tuple[int, bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "export",
            "research",
            *argv,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        return proc.returncode or 0, out, err

    target = tmp_path / "research.zip"
    code, _, err = await peerlog(
        "--from", str(SINCE), "--to", str(UNTIL), "--community", "SH-CF", "--output", str(target)
    )
    assert code == 0, err.decode()
    assert b"wrote" in err and b"contacts" in err
    tables = frames(unzip(target.read_bytes()))
    assert set(tables["contacts"]["community_code"]) == {"SH-CF"}
    event = await AuditEvent.get(action="export", entity="research")
    assert event.actor_id is None and event.detail["source"] == "cli"  # type: ignore[attr-defined]

    code, _, err = await peerlog("--from", "2026-11-25", "--to", "2026-09-01", "-o", str(target))
    assert code == 2 and b"before" in err and b"Traceback" not in err
    code, _, err = await peerlog("--community", "NOPE", "-o", str(target))
    assert code == 2 and b"NOPE" in err


async def test_text_a_spreadsheet_would_run_is_neutralised_and_still_loads(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await make_program()
    await factories.committee(made["home"], code="CF-99", name='=HYPERLINK("http://x","点击")')
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    committees = frames(await download(client))["committees"].set_index("committee_code")
    assert committees.loc["CF-99", "name"] == '\'=HYPERLINK("http://x","点击")'


@pytest.mark.parametrize(
    ("lang", "button", "note"),
    [
        ("en", "Research export (zip)", "pseudonymised"),
        ("zh-CN", "研究数据导出（zip）", "已假名化"),
    ],
)
async def test_the_exports_page_offers_the_research_export_in_both_languages(
    client: httpx.AsyncClient, settings: Settings, lang: str, button: str, note: str
) -> None:
    await factories.sign_in(client, await factories.user(Role.ADMIN), settings)
    client.cookies.set("lang", lang)
    html = (await client.get("/admin/exports")).text
    research_form = html.split('id="research-export"', 1)[1].split("</div>", 1)[0]
    assert 'formaction="/admin/exports/research.zip"' in research_form and button in research_form
    assert note in html.split('id="research-note"', 1)[1].split("</p>", 1)[0]
    for kind in ("peer_leaders", "groups", "places"):
        assert f'formaction="/admin/exports/{kind}.csv"' in html


@pytest.mark.parametrize("role", [Role.PEER_LEADER, Role.VOLUNTEER])
async def test_only_staff_get_the_research_export(
    client: httpx.AsyncClient, settings: Settings, role: Role
) -> None:
    made = await make_program()
    await factories.sign_in(client, await factories.user(role, community=made["home"]), settings)
    response = await client.get(f"/admin/exports/research.zip?{window()}")
    assert response.status_code in (401, 403, 404) and response.content[:2] != b"PK"
    assert not await AuditEvent.filter(action="export").exists()
