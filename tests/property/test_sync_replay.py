"""Exactly once: several phones push their queues over a network that loses requests and
responses, and retry. Whatever the interleaving, the database ends as one delivery of each
mutation would leave it.

A Hypothesis state machine drives three devices of two peer leaders who share a participant.
Each device logs contacts, voids some, and edits its own field of the participant (so the model
needs no merge rule: the merge itself is tested in ``tests/unit/test_merge.py``). The model
applies a mutation when the server first receives it, which it knows because requests run one at
a time here; responses may be lost, and then the device resends.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from sync import db, engine
from sync.models import Conflict, Contact, Device, Mutation, Participant, Role, User
from sync.wire import MutationIn, PushRequest
from tests import factories as f

T = TypeVar("T")
BASE_TIME = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
FIELDS = ("phone", "address", "needs_visit_reason")  # one per device: no conflicts by design
VALUES = ("v1", "v2", "v3", "v4")


@dataclass
class Phone:
    user: User
    device_id: uuid.UUID
    own_field: str
    next_id: int = 1
    queue: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0  # highest mutation id the server has received (the model knows)
    known_version: int = 1  # the participant's version as this phone last heard it
    contacts: list[str] = field(default_factory=list)


def _machine(loop: asyncio.AbstractEventLoop) -> type[RuleBasedStateMachine]:
    def run(coro: Coroutine[Any, Any, T]) -> T:
        return loop.run_until_complete(coro)

    class Replay(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.phones, self.participant_id = run(self._world())
            self.expected_contacts: dict[str, dict[str, Any]] = {}
            self.expected_fields: dict[str, Any] = {}

        async def _world(self) -> tuple[list[Phone], str]:
            community = await f.community()
            committee = await f.committee(community)
            a = await f.user(Role.PEER_LEADER, community=community)
            b = await f.user(Role.PEER_LEADER, community=community)
            group = await f.group(community, leader=b)
            person = await f.participant(committee, peer_leader=a, group=group)
            phones = [
                Phone(a, uuid.uuid4(), FIELDS[0]),
                Phone(a, uuid.uuid4(), FIELDS[1]),
                Phone(b, uuid.uuid4(), FIELDS[2]),
            ]
            return phones, str(person.id)

        def _enqueue(
            self, phone: Phone, entity: str, record_id: str, fields: dict[str, Any], base: int
        ) -> None:
            phone.queue.append(
                {
                    "mutation_id": phone.next_id,
                    "entity": entity,
                    "id": record_id,
                    "fields": fields,
                    "base_version": base,
                }
            )
            phone.next_id += 1

        @rule(d=st.integers(0, 2), minute=st.integers(0, 600), note=st.sampled_from(VALUES))
        def log_contact(self, d: int, minute: int, note: str) -> None:
            phone = self.phones[d]
            contact_id = str(uuid.uuid4())
            phone.contacts.append(contact_id)
            at = (BASE_TIME + timedelta(minutes=minute)).isoformat()
            fields = {
                "participant_id": self.participant_id,
                "occurred_at": at,
                "mode": "phone_call",
                "note": note,
            }
            self._enqueue(phone, "contact", contact_id, fields, 0)

        @rule(d=st.integers(0, 2), k=st.integers(0, 50))
        def void_contact(self, d: int, k: int) -> None:
            phone = self.phones[d]
            if phone.contacts:
                contact_id = phone.contacts[k % len(phone.contacts)]
                self._enqueue(
                    phone, "contact", contact_id, {"voided": True, "void_reason": "mistake"}, 1
                )

        @rule(d=st.integers(0, 2), value=st.sampled_from(VALUES))
        def edit_participant(self, d: int, value: str) -> None:
            phone = self.phones[d]
            self._enqueue(
                phone,
                "participant",
                self.participant_id,
                {phone.own_field: value},
                phone.known_version,
            )

        def _apply_to_model(self, m: dict[str, Any]) -> None:
            if m["entity"] == "contact":
                record = self.expected_contacts.setdefault(m["id"], {"voided": False})
                record.update(m["fields"])
            else:
                self.expected_fields.update(m["fields"])

        def _request(self, phone: Phone) -> PushRequest:
            return PushRequest(
                device_id=phone.device_id,
                mutations=[MutationIn(**m) for m in phone.queue[:20]],
            )

        def _received(self, phone: Phone, request: PushRequest) -> None:
            for m in request.mutations:
                if m.mutation_id > phone.delivered:
                    self._apply_to_model(
                        next(q for q in phone.queue if q["mutation_id"] == m.mutation_id)
                    )
                    phone.delivered = m.mutation_id

        def _acknowledge(
            self, phone: Phone, body: Any, delivered_before: int, racing: bool = False
        ) -> None:
            assert body.last_mutation_id == phone.delivered
            for result in body.results:
                assert result.status in ("applied", "merged"), result
                if not racing:  # of two racing copies, either may be the one applied
                    assert result.duplicate == (result.mutation_id <= delivered_before)
                if result.id == self.participant_id and result.version:
                    phone.known_version = max(phone.known_version, result.version)
            acked = {r.mutation_id for r in body.results}
            phone.queue = [q for q in phone.queue if q["mutation_id"] not in acked]

        @rule(d=st.integers(0, 2), lost=st.sampled_from(["nothing", "request", "response"]))
        def sync(self, d: int, lost: str) -> None:
            phone = self.phones[d]
            if not phone.queue or lost == "request":
                return
            request = self._request(phone)
            before = phone.delivered
            body = run(engine.push(phone.user, request))
            self._received(phone, request)
            if lost == "nothing":
                self._acknowledge(phone, body, before)

        @rule(d=st.integers(0, 2))
        def sync_twice_at_once(self, d: int) -> None:
            """A retry racing the original (the phone timed out, the server had not)."""
            phone = self.phones[d]
            if not phone.queue:
                return
            request = self._request(phone)
            before = phone.delivered

            async def both() -> list[Any]:
                return list(
                    await asyncio.gather(
                        engine.push(phone.user, request), engine.push(phone.user, request)
                    )
                )

            first, second = run(both())
            self._received(phone, request)
            fresh = [
                r.mutation_id for body in (first, second) for r in body.results if not r.duplicate
            ]
            assert sorted(fresh) == [
                m.mutation_id for m in request.mutations if m.mutation_id > before
            ]
            for a, b in zip(first.results, second.results, strict=True):
                assert (a.status, a.version) == (b.status, b.version)
            self._acknowledge(phone, first, before, racing=True)

        def teardown(self) -> None:
            for phone in self.phones:
                while phone.queue:
                    request = self._request(phone)
                    before = phone.delivered
                    body = run(engine.push(phone.user, request))
                    self._received(phone, request)
                    self._acknowledge(phone, body, before)
            run(self._check())

        async def _check(self) -> None:
            contacts = {
                str(c.id): c for c in await Contact.filter(participant_id=self.participant_id)
            }
            assert set(contacts) == set(self.expected_contacts)
            for cid, expected in self.expected_contacts.items():
                assert contacts[cid].note == expected["note"]
                assert contacts[cid].voided == expected["voided"]
            person = await Participant.get(id=self.participant_id)
            for name, value in self.expected_fields.items():
                assert getattr(person, name) == value
            live = [
                datetime.fromisoformat(c["occurred_at"])
                for c in self.expected_contacts.values()
                if not c["voided"]
            ]
            assert person.last_contact_at == (max(live) if live else None)
            for phone in self.phones:
                sent = phone.next_id - 1
                device = await Device.get_or_none(id=phone.device_id)
                assert (device.last_mutation_id if device else 0) == sent
                assert await Mutation.filter(device_id=phone.device_id).count() == sent
            assert await Conflict.filter(record_id=self.participant_id).count() == 0

    return Replay


def test_any_replay_of_any_batch_leaves_the_database_as_one_delivery(database_url: str) -> None:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(db.migrate(database_url))
    loop.run_until_complete(db.init(database_url))
    try:
        run_state_machine_as_test(
            _machine(loop),
            settings=settings(
                max_examples=int(os.environ.get("PEERLOG_REPLAY_EXAMPLES", "20")),
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        loop.run_until_complete(db.close())
        loop.close()
