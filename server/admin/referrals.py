"""``/admin/referrals``: the urgent referrals a health centre works through (SPEC 2: an urgent
referral is shown at once to the community's coordinators).

The open ones come first, oldest first (the longest waiting is called first), each with the
participant's phone to call; "handled" takes a note of what was done. Handled ones stay listed
below, newest first. A coordinator sees their community's; an administrator every community's,
or one. Marking a referral handled is audited (who, which contact, when), never with its note,
which may hold health details.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from tortoise.expressions import Subquery

from server.admin import writes
from server.admin.common import communities_for, community_scope, in_community, page
from server.deps import AppSettings, CurrentUser, Req
from sync.models import AuditEvent, Contact, Referral, ReferralFollowUp, User

HANDLED_SHOWN = 50
NOTE_MAX = 2000


def _urgent(user: User) -> Any:
    return in_community(Contact.filter(referral=Referral.URGENT.value, voided=False), user)


async def open_count(user: User) -> int:
    """Urgent referrals nobody has handled yet, in the user's scope (the start page says it)."""
    done = Subquery(ReferralFollowUp.all().values("contact_id"))
    return await _urgent(user).exclude(id__in=done).count()


_FIELDS = (
    "id",
    "occurred_at",
    "referral_reason",
    "referral_to",
    "note",
)
_RELATED = {
    "participant_id": "participant__id",
    "participant_code": "participant__code",
    "participant_name": "participant__full_name",
    "phone": "participant__phone",
    "address": "participant__address",
    "committee_name": "participant__committee__name",
    "peer_leader_name": "peer_leader__display_name",
}


@get("/admin/referrals", name="admin-referrals")
async def referrals_page(request: Req, user: CurrentUser, settings: AppSettings) -> Template:
    community_id = community_scope(user, request.query_params.get("community"))
    query = _urgent(user)
    if community_id:
        query = query.filter(community_id=community_id)
    done = Subquery(ReferralFollowUp.all().values("contact_id"))
    waiting = (
        await query.exclude(id__in=done).order_by("occurred_at", "id").values(*_FIELDS, **_RELATED)
    )
    follow_ups = (
        await ReferralFollowUp.filter(contact_id__in=Subquery(query.values("id")))
        .order_by("-handled_at")
        .limit(HANDLED_SHOWN)
        .values("contact_id", "handled_at", "note", handled_by="handled_by__display_name")
    )
    contacts = {
        row["id"]: row
        for row in await Contact.filter(id__in=[f["contact_id"] for f in follow_ups]).values(
            *_FIELDS, **_RELATED
        )
    }
    handled = [
        {
            **contacts[f["contact_id"]],
            "handled_at": f["handled_at"],
            "handled_note": f["note"],
            "handled_by": f["handled_by"],
        }
        for f in follow_ups
        if f["contact_id"] in contacts
    ]
    zone = settings.zone
    for row in (*waiting, *handled):
        row["occurred_at"] = row["occurred_at"].astimezone(zone)
        if row.get("handled_at"):
            row["handled_at"] = row["handled_at"].astimezone(zone)
    return await page(
        request,
        "admin/referrals.html",
        {
            "waiting": waiting,
            "handled": handled,
            "communities": await communities_for(user),
            "community_id": community_id,
            "done": request.query_params.get("done"),
            "note_max": NOTE_MAX,
        },
        section="referrals",
    )


@post("/admin/referrals/{contact_id:uuid}/handled", status_code=303)
async def mark_handled(
    request: Req, user: CurrentUser, contact_id: FromPath[uuid.UUID]
) -> Redirect:
    contact = await _urgent(user).filter(id=contact_id).first()
    if contact is None:
        raise NotFoundException("No such urgent referral.")
    form = await request.form()
    note = str(form.get("note") or "").strip()[:NOTE_MAX] or None
    _, created = await ReferralFollowUp.get_or_create(
        contact=contact,
        defaults={"handled_by": user, "handled_at": datetime.now(UTC), "note": note},
    )
    if created:  # a second click (two tabs) changes nothing and audits nothing
        await AuditEvent.create(
            actor=user,
            action="referral.handled",
            entity="contact",
            record_id=str(contact.id),
            request_id=writes.request_id(request),
            detail={"note": bool(note)},
        )
    back = request.query_params.get("community")
    return Redirect(
        f"/admin/referrals?done={contact.id}" + (f"&community={back}" if back else ""),
        status_code=303,
    )


ROUTES = [referrals_page, mark_handled]
