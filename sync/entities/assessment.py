"""An assessment: a participant's answers to one instrument on one day (RECORDS.md). The score
is computed here from the answers by the instrument's rule (``sync.instruments``), never taken
from the phone; every item must be answered with a whole number within the scale."""

from __future__ import annotations

from typing import Any, ClassVar

from sync import models
from sync.entities.base import Batch, Errors, Lookup, Record, Rules, Values
from sync.entities.evaluation import ParticipantRecord
from sync.instruments import AnswerProblem, answer_problems, score
from sync.models import TimePoint
from sync.validate import answers, boolean, calendar_date, enum, ident, text, values_of
from sync.wire import Message, template

NO_INSTRUMENT = template("no such questionnaire")
NOT_ANSWERED = template("%(item)s: is required")
NOT_AN_ITEM = template("%(item)s: not a question of this questionnaire")
NOT_ON_SCALE = template("%(item)s: must be a whole number from %(low)s to %(high)s")

PROBLEM_MESSAGES = {
    AnswerProblem.MISSING: NOT_ANSWERED,
    AnswerProblem.UNKNOWN: NOT_AN_ITEM,
    AnswerProblem.NOT_WHOLE: NOT_ON_SCALE,
    AnswerProblem.OUT_OF_SCALE: NOT_ON_SCALE,
}


async def _instruments(batch: Batch, ids: list[str]) -> dict[str, Any]:
    rows = await batch.fetch("instrument", ids, ["id", "definition", "active"])
    return {r["id"]: r for r in rows}


# Instrument id → its row (definition, active).
INSTRUMENTS = Lookup("instruments", _instruments)


class Assessment(ParticipantRecord):
    name = "assessment"
    date_field = "assessed_on"
    model = models.Assessment
    defaults: ClassVar[Values] = {"answers": {}, "voided": False}
    rules: ClassVar[Rules] = {
        "participant_id": ident(required=True),
        "instrument_id": text(32, required=True),
        "time_point": enum(values_of(TimePoint), required=True),
        "assessed_on": calendar_date(),
        "answers": answers(),
        "note": text(200),
        "voided": boolean,
        "void_reason": text(200),
    }
    required = ("participant_id", "instrument_id", "time_point", "assessed_on", "answers")
    server_set = ("score", "community_id", "entered_by_id")
    refers_to = ("participant",)

    def refer(
        self, batch: Batch, rid: str, current: Record | None, merged: Record, clean: Record
    ) -> None:
        super().refer(batch, rid, current, merged, clean)
        if merged.get("instrument_id"):
            batch.need(INSTRUMENTS, [merged["instrument_id"]])

    def reference_errors(self, batch: Batch, after: Record, written: Record) -> Errors:
        errors = super().reference_errors(batch, after, written)
        if errors:
            return errors
        instrument = batch.found(INSTRUMENTS).get(after.get("instrument_id") or "")
        if instrument is None or (not instrument["active"] and "instrument_id" in written):
            return {"instrument_id": [Message(NO_INSTRUMENT)]}
        definition = instrument["definition"]
        given = after.get("answers") or {}
        problems = answer_problems(definition, given)
        if problems:
            low, high = definition["scale"]["min"], definition["scale"]["max"]
            return {
                "answers": [
                    Message(PROBLEM_MESSAGES[problem], item=item, low=low, high=high)
                    for item, problem in sorted(problems.items())
                ]
            }
        after["score"] = score(definition, given).score
        return {}


ENTITY = Assessment()
