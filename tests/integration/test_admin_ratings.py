"""Quarterly implementation ratings from the staff grid: one rating per peer leader and
quarter written through the engine (an edit is a new version), the previous quarter shown for
reference, a refused value named on its row, and a coordinator limited to their community."""

from __future__ import annotations

import httpx

from server.admin.support import quarter_of, shift_quarter
from server.reports import today_in
from server.settings import Settings
from sync.entities.implementation_rating import RATED
from sync.models import ImplementationRating, Mutation, Role, User
from tests import factories
from tests.integration.test_admin_supervision import ZONE, World, world


def this_quarter() -> str:
    return quarter_of(today_in(ZONE))


def row(leader: User, *values: int | str, comment: str = "") -> dict[str, str]:
    out = {f"{leader.id}.{item}": str(v) for item, v in zip(RATED, values, strict=False)}
    out[f"{leader.id}.comment"] = comment
    return out


async def grid(client: httpx.AsyncClient, period: str, *rows: dict[str, str]) -> httpx.Response:
    data: dict[str, str] = {"period": period}
    for r in rows:
        data.update(r)
    return await client.post("/admin/ratings", data=data, headers={"accept-language": "en"})


async def test_saving_the_grid_writes_one_rating_per_peer_leader(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    first, second = w.leaders
    period = this_quarter()
    page = (await client.get("/admin/ratings")).text
    assert all(str(u.id) in page for u in w.leaders) and str(w.other_leader.id) not in page
    response = await grid(
        client, period, row(first, 4, 3, 5, 2, 4, 1, 5, comment="steady"), row(second)
    )
    assert response.status_code == 303
    ratings = await ImplementationRating.all()
    assert len(ratings) == 1  # an empty row writes nothing
    r = ratings[0]
    assert [getattr(r, item) for item in RATED] == [4, 3, 5, 2, 4, 1, 5]
    assert (r.period, r.comment, r.version, r.peer_leader_id) == (period, "steady", 1, first.id)  # type: ignore[attr-defined]
    assert r.community_id == w.community.id and r.rated_by_id == w.coordinator.id  # type: ignore[attr-defined]
    assert await Mutation.filter(record_id=r.id, user_id=w.coordinator.id).exists()

    # Changing one item of an existing rating writes a new version of the same record.
    changed = row(first, 4, 3, 5, 3, 4, 1, 5, comment="steady")
    changed[f"{first.id}.version"] = "1"
    assert (await grid(client, period, changed, row(second, "", "", 2))).status_code == 303
    await r.refresh_from_db()
    assert (r.linkage_to_care, r.version, r.being_there) == (3, 2, 4)
    assert await ImplementationRating.all().count() == 2
    second_rating = await ImplementationRating.get(peer_leader_id=second.id)
    assert (second_rating.being_there, second_rating.social_emotional) == (None, 2)


async def test_the_previous_quarter_is_shown_for_reference(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    previous = shift_quarter(this_quarter(), -1)
    assert (
        await grid(client, previous, row(w.leaders[0], 2, 2, 2, 2, 2, 2, 3, comment="new"))
    ).status_code == 303
    page = (await client.get("/admin/ratings", headers={"accept-language": "en"})).text
    leader_row = page.split(f'data-leader="{w.leaders[0].id}"', 1)[1].split("</tr>", 1)[0]
    assert (
        leader_row.count("last quarter: 2") == 6
        and "last quarter: 3" in leader_row
        and "last quarter: new" in leader_row
    )
    assert "selected>" not in leader_row.replace('value="" selected>', "")  # nothing rated yet


async def test_a_refused_rating_is_named_on_its_row(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    first, second = w.leaders
    response = await grid(client, this_quarter(), row(first, 4, 9), row(second, 3))
    assert response.status_code == 422
    bad_row = response.text.split(f'data-leader="{first.id}"', 1)[1].split("</tr>", 1)[0]
    good_row = response.text.split(f'data-leader="{second.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="errors"' in bad_row and "5" in bad_row and 'class="errors"' not in good_row
    # The valid row was written; the refused one was not.
    assert [r.peer_leader_id for r in await ImplementationRating.all()] == [second.id]  # type: ignore[attr-defined]
    ahead = shift_quarter(this_quarter(), 1)
    assert (await grid(client, ahead, row(first, 3))).status_code == 422
    assert (await grid(client, "2026-Q9", row(first, 3))).status_code == 400


async def test_another_community_can_neither_see_nor_write_a_rating(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w: World = await world(client, settings)
    await grid(client, this_quarter(), row(w.leaders[0], 5, comment="confidential-remark"))
    await factories.sign_in(client, w.other_coordinator, settings)
    page = (await client.get("/admin/ratings")).text
    assert "confidential-remark" not in page and str(w.leaders[0].id) not in page
    # Posting rows for another community's peer leaders writes nothing: the grid only reads
    # the rows of the writer's own community.
    response = await grid(client, this_quarter(), row(w.leaders[1], 1))
    assert response.status_code == 303
    assert await ImplementationRating.filter(peer_leader_id=w.leaders[1].id).count() == 0
    await factories.sign_in(client, w.other_leader, settings)
    assert (await client.get("/admin/ratings")).status_code == 403
    assert (await grid(client, this_quarter(), row(w.other_leader, 5))).status_code == 403
    volunteer = await factories.user(Role.VOLUNTEER)
    await factories.sign_in(client, volunteer, settings)
    assert (await client.get("/admin/ratings")).status_code == 403
    assert await ImplementationRating.all().count() == 1


async def test_the_support_pages_show_the_demo_programs_records(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server import demo

    await demo.run(settings, seed=7, today=today_in(ZONE), scale=0.25, echo=lambda _line: None)
    coordinator = await User.filter(role=Role.COORDINATOR).order_by("username").first()
    assert coordinator is not None
    await factories.sign_in(client, coordinator, settings)
    # The grid shows last quarter's ratings beside this quarter's choices.
    ratings = (await client.get("/admin/ratings", headers={"accept-language": "en"})).text
    assert "last quarter: " in ratings
    for path in ("/admin/supervision", "/admin/training"):
        response = await client.get(path + "?voided=1")
        assert response.status_code == 200 and "data-id=" in response.text, path
