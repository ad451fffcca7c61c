"""The sign-in feature's routes, each group with who may use it: signing in and enrolling by
invite are for anyone, the account API and page for every signed-in role. Handlers stay thin:
the ceremonies are in ``passkeys`` and ``device_keys``, cutting devices off in ``devices``."""

from __future__ import annotations

from litestar import Router

from server.auth.account import DeviceController, PasskeyController, account_page, me
from server.auth.enrol import InviteController, invite_by_code, invite_page, invite_page_head
from server.auth.session import public, roles
from server.auth.signin import SignInController, signin_page

ROUTERS = [
    Router("/", opt=public(), tags=["auth"], route_handlers=[SignInController, InviteController]),
    Router(
        "/", opt=roles(), tags=["auth"], route_handlers=[me, PasskeyController, DeviceController]
    ),
    Router(
        "/",
        opt=public(),
        include_in_schema=False,
        route_handlers=[signin_page, invite_by_code, invite_page, invite_page_head],
    ),
    Router("/", opt=roles(), include_in_schema=False, route_handlers=[account_page]),
]
