"""The staff side (SPEC 1 and 6): roster, conflicts, places and participants, CSV import,
dashboard, exports and the audit log, as server-rendered pages under ``/admin``.

Each module is one feature with thin handlers; figures live in ``server.reports``, CSV in
``server.exports``, and every change to a synced record goes through ``server.admin.writes``
to the sync engine.
"""

from __future__ import annotations

from litestar import Router

from server.admin import (
    audit,
    conflicts,
    dashboard,
    exports_page,
    importer,
    instruments,
    participants,
    phones,
    places,
    referrals,
    roster,
    shell,
    support_pages,
    users,
)
from server.admin.common import STAFF
from server.auth.session import roles

# Every staff page: coordinators and administrators unless a page says otherwise (the roster
# lets volunteers in, places' communities only administrators). The pages with forms are in the
# published document, so the schema fuzzer posts to them; the account and device pages are not.
ROUTER = Router(
    "/",
    opt=roles(*STAFF),
    route_handlers=[
        *shell.ROUTES,
        *roster.ROUTES,
        *dashboard.ROUTES,
        *conflicts.ROUTES,
        *importer.ROUTES,  # before participants: /admin/participants/import is not an id
        *participants.ROUTES,
        *places.ROUTES,
        *referrals.ROUTES,
        *support_pages.ROUTES,
        *instruments.ROUTES,
        *exports_page.ROUTES,
        *audit.ROUTES,
        Router("/", include_in_schema=False, route_handlers=[*phones.ROUTES, *users.ROUTES]),
    ],
)
