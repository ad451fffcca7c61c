"""CSV import of participants: good rows are enrolled through the sync engine, bad rows are
reported with their line and reason, and no row is ever half-written."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.admin import importer, writes
from server.app import create_app
from server.settings import Settings
from sync.models import ImportUpload, Mutation, Participant, Role
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
# Each bad line, and the field its reason names as the participant form does.
EXPECTED_BAD = {
    4: "Consent recorded on",
    5: "Residential committee",
    6: "Program code",
    7: "Program code",
    8: "Phone",
    9: "Consent recorded on",
    10: "Sex",
    11: "Status",
    12: "Baseline HbA1c (%)",
    13: "Residential committee",
    14: "Phone",
}


async def upload(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(
        "/admin/participants/import",
        files={"file": ("people.csv", text.encode("utf-8-sig"), "text/csv")},
    )


def token_of(page: httpx.Response | str) -> str:
    """The upload's token, from the preview page (a response or its text)."""
    text = page if isinstance(page, str) else page.text
    return re.search(r"/admin/participants/import/([\w-]+)/confirm", text).group(1)  # type: ignore[union-attr]


@pytest.fixture
async def second_server(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Another server process on another host: the same database and secret, its own empty
    data folder. Give it the browser's cookies with ``same_browser``."""
    elsewhere = replace(settings, data_dir=tmp_path / "other-host" / "data")
    transport = httpx.ASGITransport(app=create_app(elsewhere, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        yield c


def same_browser(client: httpx.AsyncClient, other: httpx.AsyncClient) -> None:
    """The balancer sends the same browser (session, CSRF and language cookies) to ``other``."""
    for name, value in client.cookies.items():
        other.cookies.set(name, value)
    other.headers["x-csrftoken"] = client.headers["x-csrftoken"]


def files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


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
    token = token_of(html)
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
    token = token_of(html)
    await client.post(f"/admin/participants/import/{token}/confirm")
    again = await client.post(f"/admin/participants/import/{token}/confirm")
    assert again.status_code == 404
    assert await Participant.all().count() == 4


async def test_a_file_without_the_required_columns_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    response = await upload(client, "code,full_name\nX-1,Somebody\n")
    assert "Missing columns: Residential committee, Consent recorded on" in response.text
    assert await Participant.all().count() == 1


async def test_a_chinese_reader_gets_the_reasons_in_chinese_in_the_page_and_the_file(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    client.cookies.set("lang", "zh-CN")
    html = (await upload(client, FILE)).text
    reported = dict(
        re.findall(r'<tr data-line="(\d+)"><td>\d+</td><td>[^<]*</td><td>([^<]*)</td>', html)
    )
    # The field is named as the form names it, the rule is in Chinese, its numbers kept.
    assert reported["5"].startswith("居委会：居委会代码不存在")
    assert reported["6"] == "项目编号：与第 2 行重复"
    assert reported["12"].startswith("基线糖化血红蛋白（%）：") and "3" in reported["12"]
    assert "20" in reported["12"] and "must be" not in reported["12"]
    token = token_of(html)
    rejected = await client.get(f"/admin/participants/import/{token}/rejected.csv")
    rows = {r["行号"]: r for r in csv.DictReader(io.StringIO(rejected.content.decode("utf-8-sig")))}
    assert rows["7"]["原因"] == "项目编号：已被一位已入组的参与者使用"
    missing = await upload(client, "code,full_name\nX-1,Somebody\n")
    assert "缺少列：居委会, 知情同意日期" in missing.text


async def test_another_user_cannot_confirm_my_import(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await setup(client, settings)
    html = (await upload(client, FILE)).text
    token = token_of(html)
    other = await factories.user(Role.COORDINATOR, community=await world["committee"].community)  # type: ignore[attr-defined]
    await factories.sign_in(client, other, settings)
    assert (await client.post(f"/admin/participants/import/{token}/confirm")).status_code == 404
    assert await Participant.all().count() == 1


async def test_an_upload_checked_on_one_server_is_confirmed_and_downloaded_on_another(
    client: httpx.AsyncClient,
    second_server: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """Several stateless processes behind a balancer (SPEC 7): the upload lands on one host, the
    confirmation and the rejected rows' download on another, and no data folder is involved."""
    await setup(client, settings)
    token = token_of(await upload(client, FILE))
    same_browser(client, second_server)

    done = await second_server.post(f"/admin/participants/import/{token}/confirm")
    assert done.status_code == 200
    assert "Imported 3 participants" in done.text
    assert await Participant.filter(code__in=["N-1", "N-2", "N-14"]).count() == 3
    rejected = await second_server.get(f"/admin/participants/import/{token}/rejected.csv")
    assert rejected.status_code == 200
    rows = list(csv.DictReader(io.StringIO(rejected.content.decode("utf-8-sig"))))
    assert [int(r["line"]) for r in rows] == sorted(EXPECTED_BAD)
    # Neither host wrote the file (names, phones) to its disk.
    other_host = tmp_path / "other-host"
    assert other_host != settings.data_dir and not files_under(other_host)
    assert not any(b"13911110001" in p.read_bytes() for p in files_under(settings.data_dir))
    # The uploaded file is gone once confirmed; only the rejected rows wait for their download.
    kept = await ImportUpload.get(id=token)
    assert kept.data is None and kept.rejected_csv == rejected.content


async def test_another_user_can_neither_confirm_nor_download_my_import(
    client: httpx.AsyncClient, second_server: httpx.AsyncClient, settings: Settings
) -> None:
    world = await setup(client, settings)
    token = token_of(await upload(client, FILE))
    other = await factories.user(Role.COORDINATOR, community=await world["committee"].community)  # type: ignore[attr-defined]
    await factories.sign_in(second_server, other, settings)
    confirm = await second_server.post(f"/admin/participants/import/{token}/confirm")
    assert confirm.status_code == 404
    assert (
        await second_server.get(f"/admin/participants/import/{token}/rejected.csv")
    ).status_code == 404
    assert await Participant.all().count() == 1
    # Their attempt used nothing up: the uploader still confirms it.
    assert (
        "Imported 3 participants"
        in (await client.post(f"/admin/participants/import/{token}/confirm")).text
    )


async def test_an_expired_upload_is_refused_and_swept(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    token = token_of(await upload(client, FILE))
    await ImportUpload.filter(id=token).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await client.post(f"/admin/participants/import/{token}/confirm")).status_code == 404
    assert (await client.get(f"/admin/participants/import/{token}/rejected.csv")).status_code == 404
    assert await Participant.all().count() == 1
    # The next upload, anyone's, deletes it: an upload holds names and phones.
    fresh = token_of(await upload(client, FILE))
    assert await ImportUpload.filter(id=token).count() == 0
    assert await ImportUpload.filter(id=fresh).count() == 1


async def test_a_confirmed_upload_cannot_be_confirmed_again_on_another_server(
    client: httpx.AsyncClient, second_server: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    token = token_of(await upload(client, FILE))
    same_browser(client, second_server)
    assert (await client.post(f"/admin/participants/import/{token}/confirm")).status_code == 200
    again = await second_server.post(f"/admin/participants/import/{token}/confirm")
    assert again.status_code == 404
    assert await Participant.all().count() == 4
    assert await Mutation.all().count() == 3


async def test_two_confirmations_at_once_import_once(
    client: httpx.AsyncClient, second_server: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    token = token_of(await upload(client, FILE))
    same_browser(client, second_server)
    url = f"/admin/participants/import/{token}/confirm"
    answers = await asyncio.gather(client.post(url), second_server.post(url))
    assert sorted(a.status_code for a in answers) == [200, 404]
    assert await Participant.all().count() == 4
    assert await Mutation.all().count() == 3


async def test_a_confirmation_that_fails_can_be_tried_again(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup(client, settings)
    token = token_of(await upload(client, FILE))

    async def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(importer.writes, "write_many", broken)
        failed = await client.post(f"/admin/participants/import/{token}/confirm")
    assert failed.status_code == 500
    assert importer.writes.write_many is writes.write_many
    done = await client.post(f"/admin/participants/import/{token}/confirm")
    assert "Imported 3 participants" in done.text


CHINESE_FILE = "\n".join(
    [
        "编号,姓名,性别,出生年份,电话,住址,居委会,小组,同伴组长,入组日期,知情同意日期,状态",
        "Z-1,王秀英,女,1956,13911119001,3号楼402,RC-A,晨练小组,,2026/5/2,2026/5/1,在管",
        "Z-2,李建国,男,1950,,,一居委,晨练小组,leader_a,,2026年5月1日,暂停",
        "Z-3,张伟,男,1961,,,RC-A,没有这个组,,,2026-05-01,",
    ]
)


async def test_chinese_headers_a_group_column_and_chinese_values_are_imported(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await setup(client, settings)
    committee = world["committee"]
    committee.name = "一居委"  # type: ignore[attr-defined]
    await committee.save()  # type: ignore[attr-defined]
    group = await factories.group(
        await committee.community, leader=world["leader"], name="晨练小组"
    )  # type: ignore[attr-defined]
    html = (await upload(client, CHINESE_FILE)).text
    assert "2 rows are ready to import; 1 rows have a problem" in html, html[:2000]
    reported = dict(
        re.findall(r'<tr data-line="(\d+)"><td>\d+</td><td>[^<]*</td><td>([^<]*)</td>', html)
    )
    assert reported == {"4": "Group: unknown group in this community"}
    await client.post(f"/admin/participants/import/{token_of(html)}/confirm")
    z1 = await Participant.get(code="Z-1")
    z2 = await Participant.get(code="Z-2")
    assert (z1.sex, z1.status, str(z1.enrolled_on), str(z1.consent_on)) == (
        "female",
        "active",
        "2026-05-02",
        "2026-05-01",
    )
    assert (z2.sex, z2.status, str(z2.consent_on)) == ("male", "paused", "2026-05-01")
    assert z1.group_id == z2.group_id == group.id  # type: ignore[attr-defined]
    assert z2.committee_id == committee.id  # type: ignore[attr-defined]  (by its name)
    assert z2.peer_leader_id == world["leader"].id  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_template_in_each_language_is_accepted_as_it_is_filled_in(
    client: httpx.AsyncClient, settings: Settings, lang: str
) -> None:
    await setup(client, settings)
    response = await client.get(f"/admin/participants/import/template.csv?lang={lang}")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header[:3] == (
        ["编号", "姓名", "性别"] if lang == "zh-CN" else ["Program code", "Full name", "Sex"]
    )
    row = {name: "" for name in header}
    first = dict(
        zip(importer.TEMPLATE_HEADERS[lang].values(), importer.TEMPLATE_HEADERS[lang], strict=True)
    )
    values = {
        "code": "T-1",
        "full_name": "Tester",
        "committee_code": "RC-A",
        "consent_on": "2026-05-01",
    }
    for shown, column in first.items():
        row[shown] = values.get(column, "")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerow(row)
    html = (await upload(client, buffer.getvalue())).text
    assert "1 rows are ready to import; 0 rows have a problem" in html


async def test_the_file_of_rejected_rows_can_be_fixed_and_uploaded_again(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await setup(client, settings)
    token = token_of(await upload(client, FILE))
    rejected = (await client.get(f"/admin/participants/import/{token}/rejected.csv")).content
    text = rejected.decode("utf-8-sig").replace("RC-NOPE", "RC-A")
    html = (await upload(client, text)).text
    # Line 5's committee is fixed, and the repeats of rows that are not in this file any more
    # stand alone; the line and reason columns are not taken for fields.
    assert "3 rows are ready to import; 8 rows have a problem" in html, re.findall(
        r"<td>([^<]*)</td></tr>", html
    )
