"""Phones at risk, one phone's page, and its waiting records applied from a file.

A phone is *at risk* (listed on ``/admin/devices`` and the staff start page) when it is live and
its user active, and it has not synced for ``Settings.at_risk_days``, or its last outbox report
(``sync.outbox``) says records have waited on it for more than a day, or it belongs to a peer
leader or volunteer and has never synced since it was registered that long ago.

A phone that cannot sync (no network where its peer leader works, an iPhone never opened) can
save its queue to a file in Settings; its coordinator or an administrator uploads the file on
the phone's page here. The file's mutations go through the same push engine as the phone's own,
as that phone and its user, with the phone's own mutation ids: the mutation log answers every
one it already holds with its original result, so a file applies exactly once however often it
is uploaded, and the phone's own later push of the same records changes nothing either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from tortoise.expressions import Q

from server.admin import writes
from server.admin.common import page
from server.auth import audit
from server.deps import AppSettings, CurrentUser, Req
from server.settings import Settings
from sync import engine
from sync.models import AuditEvent, Device, Role, User
from sync.wire import MalformedBody, MutationIn, PushRequest, decode_push

FILE_KIND = "peerlog-waiting-records"
MAX_BYTES = 8 * 1024 * 1024
# Records wait on a phone this long before it counts as at risk whatever its last sync.
WAITING_TOO_LONG = timedelta(days=1)
FIELD_ROLES = (Role.PEER_LEADER, Role.VOLUNTEER)


def managed_devices(me: User) -> Any:
    """Devices a staff member may see and act for: an admin every one, a coordinator those of
    their community's users who are not administrators."""
    query = Device.all()
    if me.role != Role.ADMIN:
        query = query.filter(user__community_id=me.community_id).exclude(  # type: ignore[attr-defined]
            user__role=Role.ADMIN
        )
    return query


@dataclass(frozen=True)
class AtRisk:
    device: Device
    not_synced: bool  # not for ``days`` (or never, registered longer ago than that)
    waiting: int  # records the phone last said it holds
    oldest: datetime | None  # when the oldest of them was made, if the phone said
    waiting_too_long: bool


async def phones_at_risk(me: User, days: int, now: datetime | None = None) -> list[AtRisk]:
    """The phones in ``me``'s scope at risk of losing records, most waiting records first."""
    now = now or datetime.now(UTC)
    stale = now - timedelta(days=days)
    too_long = now - WAITING_TOO_LONG
    rows = (
        await managed_devices(me)
        .filter(revoked_at=None, user__is_active=True)
        .filter(
            Q(last_sync_at__lt=stale)
            | Q(outbox_waiting__gt=0, outbox_oldest_at__lt=too_long)
            | Q(last_sync_at=None, created_at__lt=stale, user__role__in=list(FIELD_ROLES))
        )
        .prefetch_related("user")
    )
    out = [
        AtRisk(
            device=d,
            not_synced=d.last_sync_at is None or d.last_sync_at < stale,
            waiting=d.outbox_waiting or 0,
            oldest=d.outbox_oldest_at if d.outbox_waiting else None,
            waiting_too_long=bool(
                d.outbox_waiting and d.outbox_oldest_at and d.outbox_oldest_at < too_long
            ),
        )
        for d in rows
    ]
    far_past = datetime.min.replace(tzinfo=UTC)
    out.sort(key=lambda r: (-r.waiting, r.device.last_sync_at or far_past))
    return out


async def at_risk_context(user: User, settings: Settings) -> dict[str, Any]:
    """What ``admin/phones_at_risk.html`` needs, for the devices page and the start page."""
    days = settings.at_risk_days
    return {"at_risk": await phones_at_risk(user, days), "at_risk_days": days}


# --- the file of waiting records -------------------------------------------------------------


class WaitingFileError(ValueError):
    """The upload cannot be applied; the message is a msgid shown to the uploader, with
    ``values`` for its placeholders."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.values = values


@dataclass
class Applied:
    received: int = 0
    already: int = 0  # on the server before this upload (an earlier upload, or the phone's push)
    statuses: dict[str, int] = field(default_factory=dict)  # applied/merged/conflict/rejected

    def count(self, status: str) -> int:
        return self.statuses.get(status, 0)


def read_waiting_file(data: bytes, device_id: uuid.UUID) -> PushRequest:
    """The push a phone's file of waiting records stands for. Checks it is such a file and it
    is this device's; its mutations are checked as a push body is (unknown fields refused)."""
    if len(data) > MAX_BYTES:
        raise WaitingFileError("The file is larger than 8 MB.")
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError:
        doc = None
    if not isinstance(doc, dict) or doc.get("kind") != FILE_KIND:
        raise WaitingFileError("This is not a file of waiting records saved by Peerlog.")
    if str(doc.get("device_id", "")).lower() != str(device_id):
        raise WaitingFileError(
            "This file holds the waiting records of another device. Open that device's page to upload it."
        )
    body = {
        "device_id": str(device_id),
        "schema_version": doc.get("schema_version"),
        "mutations": doc.get("mutations"),
    }
    try:
        return decode_push(msgspec.json.encode(body))
    except MalformedBody as exc:
        # The place and the rule (``mutations[3].mutation_id: expected int, got str``), never a value.
        raise WaitingFileError("The file is damaged: %(where)s", where=str(exc)) from None


async def apply_waiting_records(
    device: Device, owner: User, batch: PushRequest, max_batch: int, request_id: str | None
) -> Applied:
    """Push the file's mutations as the phone would have, in batches of at most ``max_batch``.

    The phone itself was neither seen nor synced: its "last seen" and "last sync" are put back
    afterwards, so a phone that only sends files stays listed as at risk."""
    out = Applied(received=len(batch.mutations))
    mutations = sorted(batch.mutations, key=lambda m: m.mutation_id)
    started = datetime.now(UTC)
    try:
        await _push_in_batches(owner, device, mutations, max_batch, request_id, out)
    finally:
        await Device.filter(id=device.id, last_sync_at__gte=started).update(
            last_seen_at=device.last_seen_at, last_sync_at=device.last_sync_at
        )
    return out


async def _push_in_batches(
    owner: User,
    device: Device,
    mutations: list[MutationIn],
    max_batch: int,
    request_id: str | None,
    out: Applied,
) -> None:
    for start in range(0, len(mutations), max_batch):
        part = PushRequest(device_id=device.id, mutations=mutations[start : start + max_batch])
        try:
            response = await engine.push(owner, part, request_id=request_id)
        except engine.DeviceForbidden:
            raise WaitingFileError(
                "This device was signed out, so records can no longer be applied for it."
            ) from None
        except engine.MutationGap as exc:
            raise WaitingFileError(
                "The file's records do not follow on from the last record this device sent (number %(n)s). Save the file on the phone again and upload the new one.",
                n=exc.last,
            ) from None
        for result in response.results:
            if result.duplicate:
                out.already += 1
            else:
                out.statuses[result.status] = out.statuses.get(result.status, 0) + 1


# --- pages -----------------------------------------------------------------------------------


async def _device_page(
    request: Req,
    user: User,
    settings: Settings,
    device_id: uuid.UUID,
    status_code: int = 200,
    **context: Any,
) -> Template:
    device = await managed_devices(user).get_or_none(id=device_id).prefetch_related("user")
    if device is None:
        raise NotFoundException("No such device, or not one you manage.")
    now = datetime.now(UTC)
    last_upload = (
        await AuditEvent.filter(action="device.waiting_records", record_id=str(device.id))
        .order_by("-at")
        .first()
        .prefetch_related("actor")
    )
    return await page(
        request,
        "admin/device.html",
        {
            "device": device,
            "waiting_too_long": bool(
                device.outbox_waiting
                and device.outbox_oldest_at
                and device.outbox_oldest_at < now - WAITING_TOO_LONG
            ),
            "not_synced": device.last_sync_at is not None
            and device.last_sync_at < now - timedelta(days=settings.at_risk_days),
            "at_risk_days": settings.at_risk_days,
            "last_upload": last_upload,
            "error": None,
            "applied": None,
            **context,
        },
        section="users",
        status_code=status_code,
    )


@get("/admin/devices/{device_id:uuid}")
async def device_page(
    request: Req, user: CurrentUser, settings: AppSettings, device_id: FromPath[uuid.UUID]
) -> Template:
    return await _device_page(request, user, settings, device_id)


@post(
    "/admin/devices/{device_id:uuid}/waiting-records",
    status_code=200,
    request_max_body_size=MAX_BYTES + 64 * 1024,
)
async def upload_waiting_records(
    request: Req, user: CurrentUser, settings: AppSettings, device_id: FromPath[uuid.UUID]
) -> Template:
    device = await managed_devices(user).get_or_none(id=device_id).prefetch_related("user")
    if device is None:
        raise NotFoundException("No such device, or not one you manage.")
    form = await request.form()
    upload = form.get("file")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        if not data:
            raise WaitingFileError("Choose the file the phone saved.")
        batch = read_waiting_file(data, device.id)
        if not batch.mutations:
            raise WaitingFileError("The file holds no waiting records.")
        applied = await apply_waiting_records(
            device,
            device.user,
            batch,
            settings.max_push_mutations,
            writes.request_id(request),
        )
    except WaitingFileError as exc:
        return await _device_page(
            request, user, settings, device_id, status_code=422, error=(exc.message, exc.values)
        )
    await audit.record(
        "device.waiting_records",
        actor=user,
        connection=request,
        entity="device",
        record_id=str(device.id),
        user_id=str(device.user.id),
        received=applied.received,
        already=applied.already,
        statuses=applied.statuses,
    )
    return await _device_page(request, user, settings, device_id, applied=applied)


ROUTES: list[Any] = [device_page, upload_waiting_records]
