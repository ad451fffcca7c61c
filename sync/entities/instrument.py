"""An instrument: a questionnaire as data (``sync.instruments``), pulled read-only by peer
leaders and staff so that a phone can ask it offline. Written by migrations (the built-in ones)
and, later, by an administrator; never by a phone."""

from __future__ import annotations

from typing import Any, ClassVar

from sync import models
from sync.entities.base import Entity, Mark, Rules
from sync.models import Role
from sync.scope import Actor


class Instrument(Entity):
    name = "instrument"
    model = models.Instrument
    rules: ClassVar[Rules] = {}
    server_set = ("definition", "active")
    phone_writes = False

    def read_filter(self, actor: Actor, mark: Mark) -> tuple[str, list[Any]] | None:
        # Every instrument, for everyone who asks questionnaires (no volunteer does).
        return None if actor.role is Role.VOLUNTEER else ("1 = 1", [])


ENTITY = Instrument()
