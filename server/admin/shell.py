"""``/admin``: the staff start page (volunteers go straight to their roster)."""

from __future__ import annotations

from datetime import timedelta

from litestar import get
from litestar.response import Redirect, Template

from server.admin.common import ROSTER_ROLES, in_community, page
from server.admin.phones import at_risk_context
from server.auth.session import roles
from server.deps import AppSettings, CurrentUser, Req
from server.reports import start_of, today_in, unreferred_readings, urgent_referrals
from sync.models import Contact, Role

# SPEC 2: an urgent referral is shown at once to the community's coordinators. The start page
# lists the last week's, newest first (the dashboard lists any period's).
URGENT_DAYS = 7


@get("/admin", opt=roles(*ROSTER_ROLES), name="admin-home")
async def admin_home(request: Req, user: CurrentUser, settings: AppSettings) -> Template | Redirect:
    if user.role == Role.VOLUNTEER:
        return Redirect("/admin/roster", status_code=303)
    zone = settings.zone
    since = start_of(today_in(zone) - timedelta(days=URGENT_DAYS - 1), zone)
    recent = in_community(Contact.filter(voided=False, occurred_at__gte=since), user)
    from server.admin.referrals import open_count

    context = {
        "urgent": await urgent_referrals(recent, zone),
        "unreferred": await unreferred_readings(recent, zone),
        "urgent_days": URGENT_DAYS,
        **await at_risk_context(user, settings),
        "referrals_open": await open_count(user),
    }
    return await page(request, "admin/index.html", context, section="home")


ROUTES = [admin_home]
