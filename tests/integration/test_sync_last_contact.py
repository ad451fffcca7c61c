"""A participant's last contact and next follow-up, worked out again when a push edits contacts:
from the latest contact in the database and the batch's own, whichever is later, never from a
contact's state before the batch changed it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from server.settings import Settings
from sync.models import Participant, Role
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, push


async def _last(pid: uuid.UUID) -> tuple[datetime | None, str | None]:
    person = await Participant.get(id=pid)
    follow = person.next_follow_up_on.isoformat() if person.next_follow_up_on else None
    return person.last_contact_at, follow


def _at(day: int) -> str:
    return f"2026-11-{day:02d}T09:00:00+00:00"


async def test_edited_contacts_move_the_last_contact_from_the_database_and_the_batch(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    committee = await f.committee()
    leader = await f.user(Role.PEER_LEADER, community=committee.community)
    ann = (await f.participant(committee, leader)).id
    bo = (await f.participant(committee, leader)).id
    await f.sign_in(client, leader, settings)
    device = uuid.uuid4()
    c = [uuid.uuid4() for _ in range(5)]
    # Ann: contacts on the 1st, 5th and 10th (the latest); Bo: the 3rd and 4th.
    first = [
        mutation(
            1, "contact", c[0], contact_fields(ann, occurred_at=_at(1), follow_up_on="2026-12-01")
        ),
        mutation(
            2, "contact", c[1], contact_fields(ann, occurred_at=_at(5), follow_up_on="2026-12-05")
        ),
        mutation(
            3, "contact", c[2], contact_fields(ann, occurred_at=_at(10), follow_up_on="2026-12-10")
        ),
        mutation(4, "contact", c[3], contact_fields(bo, occurred_at=_at(3))),
        mutation(
            5, "contact", c[4], contact_fields(bo, occurred_at=_at(4), follow_up_on="2026-12-04")
        ),
    ]
    assert (await push(client, device, first)).status_code == 200
    assert await _last(ann) == (datetime(2026, 11, 10, 9, tzinfo=UTC), "2026-12-10")

    # One batch: Ann's latest is voided and her 5th moves to Bo, so her last is the 1st, from
    # the database; Bo's 3rd moves to the 20th, his latest from the batch.
    second = [
        mutation(6, "contact", c[2], {"voided": True, "void_reason": "mistake"}, 1),
        mutation(7, "contact", c[1], {"participant_id": str(bo)}, 1),
        mutation(8, "contact", c[3], {"occurred_at": _at(20)}, 1),
    ]
    body = (await push(client, device, second)).json()
    assert [r["status"] for r in body["results"]] == ["applied"] * 3
    assert await _last(ann) == (datetime(2026, 11, 1, 9, tzinfo=UTC), "2026-12-01")
    assert await _last(bo) == (datetime(2026, 11, 20, 9, tzinfo=UTC), None)

    # Bo's 20th goes back to the 2nd: his latest is now the 5th that came from Ann (from the
    # database, edited in an earlier batch). Ann's last one voided: she has none.
    third = [
        mutation(9, "contact", c[3], {"occurred_at": _at(2)}, 2),
        mutation(10, "contact", c[0], {"voided": True, "void_reason": "mistake"}, 1),
    ]
    assert (await push(client, device, third)).status_code == 200
    assert await _last(bo) == (datetime(2026, 11, 5, 9, tzinfo=UTC), "2026-12-05")
    assert await _last(ann) == (None, None)
