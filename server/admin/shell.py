"""``/admin``: the staff start page (volunteers go straight to their roster)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Redirect, Template

from server.admin.common import ROSTER_ROLES, page
from server.auth.session import current_user, roles
from sync.models import Role


@get("/admin", opt=roles(*ROSTER_ROLES), name="admin-home")
async def admin_home(request: Request[Any, Any, Any]) -> Template | Redirect:
    if current_user(request).role == Role.VOLUNTEER:
        return Redirect("/admin/roster", status_code=303)
    return await page(request, "admin/index.html", section="home")


ROUTES = [admin_home]
