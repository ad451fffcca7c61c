"""Who may use a route is what its innermost layer says (issue 13, section 2): a ``roles()``
handler on a ``public()`` router is for those roles only, and a ``public()`` handler on a
``roles()`` router is for anyone. Real HTTP through a small app with the real guard; nobody is
signed in, so a route for some roles answers 401 and a public one 200."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Litestar, Router, get
from litestar.testing import TestClient

from server.auth.session import access_guard, public, roles
from sync.models import Role


@get("/staff", opt=roles(Role.ADMIN))
async def staff_only() -> str:
    return "staff"


@get("/anyone", opt=public())
async def anyone() -> str:
    return "anyone"


@get("/inherits")
async def inherits() -> str:
    return "inherits"


class StaffInPublic(Controller):
    path = "/controller"
    opt = roles(Role.ADMIN)

    @get("/staff")
    async def staff(self) -> str:
        return "staff"

    @get("/anyone", opt=public())
    async def anyone(self) -> str:
        return "anyone"


def _app(**layers: Any) -> Litestar:
    return Litestar(
        route_handlers=[
            Router("/public", opt=public(), route_handlers=[staff_only, anyone, inherits]),
            Router("/roles", opt=roles(), route_handlers=[staff_only, anyone, inherits]),
            Router("/mixed", opt=public(), route_handlers=[StaffInPublic]),
        ],
        guards=[access_guard],
        **layers,
    )


def test_the_innermost_statement_of_who_may_use_a_route_wins() -> None:
    expected = {
        "/public/staff": 401,  # roles() on the handler beats public() on the router
        "/public/anyone": 200,
        "/public/inherits": 200,
        "/roles/staff": 401,
        "/roles/anyone": 200,  # public() on the handler beats roles() on the router
        "/roles/inherits": 401,
        "/mixed/controller/staff": 401,  # the controller's roles() beats the router's public()
        "/mixed/controller/anyone": 200,
    }
    with TestClient(app=_app()) as client:
        found = {path: client.get(path).status_code for path in expected}
    assert found == expected


def test_a_route_that_states_nothing_is_refused_to_everyone() -> None:
    with TestClient(app=Litestar(route_handlers=[inherits], guards=[access_guard])) as client:
        assert client.get("/inherits").status_code == 403
