"""What handlers are given: the request type and the two dependencies every feature uses.

A handler names what it needs in its signature: ``request: Req`` (``request.user`` is the
signed-in ``User`` or None on a public route, ``request.auth`` the session and device),
``user: CurrentUser`` (the signed-in user, on routes the access guard let through) and
``settings: AppSettings`` (the settings the app was made with). ``create_app`` provides them.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

from server.auth.session import Auth, current_user
from server.settings import Settings, settings_of
from sync.models import User

Req: TypeAlias = Request[User | None, Auth, State]
CurrentUser: TypeAlias = NamedDependency[SkipValidation[User]]
AppSettings: TypeAlias = NamedDependency[SkipValidation[Settings]]


def provide_user(request: Req) -> User:
    """The signed-in user; the access guard has already turned the anonymous away."""
    return current_user(request)


def provide_settings(state: State) -> Settings:
    """The settings ``create_app`` keeps in the app's state."""
    return settings_of(state)


DEPENDENCIES: dict[str, Any] = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "user": Provide(provide_user, sync_to_thread=False),
}
