"""Factories for test data: each makes a valid record with sensible defaults you can override."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from server.auth.session import SESSION_COOKIE, create_session
from server.settings import Settings
from sync.models import (
    Assessment,
    Committee,
    Community,
    Device,
    Group,
    GroupActivity,
    ImplementationRating,
    Measurement,
    Participant,
    Role,
    Supervision,
    Training,
    User,
)

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


async def community(**kw: Any) -> Community:
    n = _n()
    return await Community.create(**{"name": f"Community {n}", "code": f"C{n:04d}", **kw})


async def committee(community_: Community | None = None, **kw: Any) -> Committee:
    n = _n()
    community_ = community_ or await community()
    return await Committee.create(
        **{"name": f"Committee {n}", "code": f"RC{n:04d}", "community": community_, **kw}
    )


async def user(role: Role = Role.PEER_LEADER, **kw: Any) -> User:
    n = _n()
    if role is not Role.ADMIN and "community" not in kw:
        kw["community"] = await community()
    if role is Role.VOLUNTEER and "committee" not in kw:
        kw["committee"] = await committee(kw["community"])
    return await User.create(
        **{"username": f"{role.value}{n}", "display_name": f"{role.value} {n}", "role": role, **kw}
    )


async def group(community_: Community, leader: User | None = None, **kw: Any) -> Group:
    return await Group.create(
        **{"name": f"Group {_n()}", "community": community_, "leader": leader, **kw}
    )


async def participant(
    committee_: Committee, peer_leader: User | None = None, **kw: Any
) -> Participant:
    n = _n()
    return await Participant.create(
        **{
            "code": f"P{n:05d}",
            "full_name": f"Participant {n}",
            "phone": f"139{n:08d}",
            "community_id": committee_.community_id,  # type: ignore[attr-defined]
            "committee": committee_,
            "peer_leader": peer_leader,
            "enrolled_on": date(2026, 5, 1),
            "consent_on": date(2026, 5, 1),
            **kw,
        }
    )


async def measurement(
    p: Participant, marker: str, value: float, on: date, **kw: Any
) -> Measurement:
    return await Measurement.create(
        **{
            "participant": p,
            "community_id": p.community_id,  # type: ignore[attr-defined]
            "marker": marker,
            "value": value,
            "measured_on": on,
            "source": "clinic",
            **kw,
        }
    )


async def assessment(
    p: Participant, by: User, time_point: str, on: date, answers: dict[str, int], **kw: Any
) -> Assessment:
    """A DDS-2 assessment (its score the mean of the answers, as the instrument scores it)."""
    return await Assessment.create(
        **{
            "participant": p,
            "instrument_id": "dds2",
            "community_id": p.community_id,  # type: ignore[attr-defined]
            "entered_by": by,
            "time_point": time_point,
            "assessed_on": on,
            "answers": answers,
            "score": sum(answers.values()) / len(answers),
            **kw,
        }
    )


async def group_activity(leader: User, channel: str, when: datetime, **kw: Any) -> GroupActivity:
    return await GroupActivity.create(
        **{
            "peer_leader": leader,
            "community_id": leader.community_id,  # type: ignore[attr-defined]
            "channel": channel,
            "occurred_at": when,
            **kw,
        }
    )


async def supervision(leader: User, supervisor: User, when: datetime, **kw: Any) -> Supervision:
    return await Supervision.create(
        **{
            "peer_leader": leader,
            "supervisor": supervisor,
            "community_id": leader.community_id,  # type: ignore[attr-defined]
            "occurred_at": when,
            "mode": "in_person",
            **kw,
        }
    )


async def training(trainer: User, held_on: date, attendees: list[User], **kw: Any) -> Training:
    return await Training.create(
        **{
            "trainer": trainer,
            "community_id": trainer.community_id,  # type: ignore[attr-defined]
            "title": f"Training {_n()}",
            "held_on": held_on,
            "attendee_ids": [str(u.id) for u in attendees],
            **kw,
        }
    )


async def rating(leader: User, rated_by: User, period: str, **kw: Any) -> ImplementationRating:
    return await ImplementationRating.create(
        **{
            "peer_leader": leader,
            "community_id": leader.community_id,  # type: ignore[attr-defined]
            "rated_by": rated_by,
            "period": period,
            **kw,
        }
    )


async def device(owner: User, **kw: Any) -> Device:
    return await Device.create(**{"id": uuid.uuid4(), "user": owner, **kw})


async def sign_in(
    client: httpx.AsyncClient, who: User, settings: Settings, device_id: uuid.UUID | None = None
) -> None:
    """Give the test client a real session for ``who`` and a CSRF token, as a browser would hold."""
    token = await create_session(who, settings, device_id=device_id)
    client.cookies.set(SESSION_COOKIE, token)
    await client.get("/healthz")
    csrf = client.cookies.get("csrftoken")
    assert csrf, "the app should hand out a CSRF cookie on a safe request"
    client.headers["x-csrftoken"] = csrf
    if device_id is not None:
        client.headers["x-peerlog-device"] = str(device_id)


def at(text: str) -> datetime:
    """An instant written with its offset, as the database keeps it: in UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)
