"""CSV import of participants: good rows are enrolled through the sync engine, bad rows are
reported with their line and reason, and no row is ever half-written."""

from __future__ import annotations

import csv
import io
import re

import httpx

from server.settings import Settings
from sync.models import Mutation, Participant, Role
from tests import factories

HEADER = "code,full_name,committee_code,consent_on,enrolled_on,sex,birth_year,phone,address,peer_leader,status,conditions,hba1c_baseline,hba1c_baseline_on,notes"


async def setup(client: httpx.AsyncClient, settings: Settings) -> dict[str, object]:
    community = await factories.community()
    committee = await factories.committee(community, code="RC-A")
    other = await factories.committee(await factories.community(), code="RC-ELSEWHERE")
    leader = await factories.user(Role.PEER_LEADER, community=community, username="leader_a")
    await factories.participant(committee, code="OLD-1", phone="13900000001")
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    await factories.sign_in(client, coordinator, settings)
    client.cookies.set("lang", "en")  # the assertions below read the English page
    return {"committee": committee, "other": other, "leader": leader, "coordinator": coordinator}


FILE = "\n".join(
    [
        HEADER,
        "N-1,王秀英,RC-A,2026-05-01,2026-05-02,female,1956,13911110001,3号楼402,leader_a,active,t2d;hypertension,8.6,2026-05-01,",  # 2 good
        "N-2,李建国,RC-A,2026-05-01,,male,1950,13911110002,,,,t2d,,,",  # 3 good
        "N-3,Bad Date,RC-A,2026-13-45,,,,,,,,,,,",  # 4 bad date
        "N-4,No Committee,RC-NOPE,2026-05-01,,,,,,,,,,,",  # 5 unknown committee
        "N-1,Repeat Code,RC-A,2026-05-01,,,,,,,,,,,",  # 6 duplicate code in the file
        "OLD-1,Taken Code,RC-A,2026-05-01,,,,,,,,,,,",  # 7 duplicate code in the database
        "N-7,Taken Phone,RC-A,2026-05-01,,,,13900000001,,,,,,,",  # 8 duplicate phone (database)
        "N-8,No Consent,RC-A,,,,,,,,,,,,",  # 9 missing consent
        "N-9,Bad Sex,RC-A,2026-05-01,,robot,,,,,,,,,",  # 10 bad sex
        "N-10,Bad Status,RC-A,2026-05-01,,,,,,,asleep,,,,",  # 11 bad status
        "N-11,Too High,RC-A,2026-05-01,,,,,,,,,25,,",  # 12 HbA1c out of range
        "N-12,Other Community,RC-ELSEWHERE,2026-05-01,,,,,,,,,,,",  # 13 committee outside scope
        "N-13,Repeat Phone,RC-A,2026-05-01,,,,13911110002,,,,,,,",  # 14 duplicate phone (file)
        "N-14,张伟,RC-A,2026-06-01,,other,1961,,5号楼101,,paused,,9.1,2026-06-01,按时服药",  # 15 good
    ]
)
EXPECTED_BAD = {
    4: "consent_on",
    5: "committee_code",
    6: "code",
    7: "code",
    8: "phone",
    9: "consent_on",
    10: "sex",
    11: "status",
    12: "hba1c_baseline",
    13: "committee_code",
    14: "phone",
}


async def upload(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(
        "/admin/participants/import",
        files={"file": ("people.csv", text.encode("utf-8-sig"), "text/csv")},
    )


async def test_preview_reports_each_bad_row_and_writes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    response = await upload(client, FILE)
    assert response.status_code == 200
    html = response.text
    assert "3 rows are ready to import; 11 rows have a problem" in html
    reported = dict(
        re.findall(r'<tr data-line="(\d+)"><td>\d+</td><td>[^<]*</td><td>([^<]*)</td>', html)
    )
    assert {int(k) for k in reported} == set(EXPECTED_BAD)
    for line, column in EXPECTED_BAD.items():
        assert reported[str(line)].startswith(column) or f"; {column}" in reported[str(line)], (
            line,
            reported[str(line)],
        )
    assert await Participant.all().count() == 1  # only the one already enrolled


async def test_confirm_imports_the_good_rows_through_the_engine(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await setup(client, settings)
    html = (await upload(client, FILE)).text
    token = re.search(r"/admin/participants/import/([\w-]+)/confirm", html).group(1)  # type: ignore[union-attr]
    done = await client.post(f"/admin/participants/import/{token}/confirm")
    assert done.status_code == 200
    assert "Imported 3 participants" in done.text

    imported = {p.code: p for p in await Participant.filter(code__in=["N-1", "N-2", "N-14"])}
    assert set(imported) == {"N-1", "N-2", "N-14"}
    wang = imported["N-1"]
    assert (wang.full_name, wang.sex, wang.birth_year, wang.hba1c_baseline) == (
        "王秀英",
        "female",
        1956,
        8.6,
    )
    assert wang.conditions == ["t2d", "hypertension"] and wang.peer_leader_id == world["leader"].id  # type: ignore[attr-defined]
    assert imported["N-14"].status == "paused" and imported["N-14"].notes == "按时服药"
    # Through the engine: a versioned write with a change-sequence number and a mutation-log row.
    assert all(p.version == 1 and p.seq > 0 for p in imported.values())
    assert await Mutation.filter(record_id__in=[p.id for p in imported.values()]).count() == 3
    # Nothing half-written: no trace of any rejected row.
    assert await Participant.all().count() == 4
    bad_codes = ["N-3", "N-4", "N-7", "N-8", "N-9", "N-10", "N-11", "N-12", "N-13"]
    assert not await Participant.filter(code__in=bad_codes).exists()
    assert not await Participant.filter(full_name="Repeat Code").exists()

    rejected = await client.get(f"/admin/participants/import/{token}/rejected.csv")
    rows = list(csv.DictReader(io.StringIO(rejected.content.decode("utf-8-sig"))))
    assert [int(r["line"]) for r in rows] == sorted(EXPECTED_BAD)
    assert all(r["reason"] for r in rows) and rows[0]["code"] == "N-3"


async def test_a_second_confirmation_imports_nothing_twice(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    html = (await upload(client, FILE)).text
    token = re.search(r"/admin/participants/import/([\w-]+)/confirm", html).group(1)  # type: ignore[union-attr]
    await client.post(f"/admin/participants/import/{token}/confirm")
    again = await client.post(f"/admin/participants/import/{token}/confirm")
    assert again.status_code == 404
    assert await Participant.all().count() == 4


async def test_a_file_without_the_required_columns_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    response = await upload(client, "code,full_name\nX-1,Somebody\n")
    assert "Missing columns: committee_code, consent_on" in response.text
    assert await Participant.all().count() == 1


async def test_another_user_cannot_confirm_my_import(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await setup(client, settings)
    html = (await upload(client, FILE)).text
    token = re.search(r"/admin/participants/import/([\w-]+)/confirm", html).group(1)  # type: ignore[union-attr]
    other = await factories.user(Role.COORDINATOR, community=await world["committee"].community)  # type: ignore[attr-defined]
    await factories.sign_in(client, other, settings)
    assert (await client.post(f"/admin/participants/import/{token}/confirm")).status_code == 404
    assert await Participant.all().count() == 1
