"""The sync engine's messages: English by default, every template translated, rendered in the
reader's language with their numbers, and never carrying a value someone typed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import sync.engine  # noqa: F401  (declares every template)
from server import i18n
from sync import entities, scope
from sync.models import Role
from sync.wire import TEMPLATES, Message, errors_from_json, errors_json, plain_errors

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SYNC = Path(__file__).resolve().parents[2] / "sync"


def zh(message: str) -> str:
    return i18n.localize("zh-CN", message)


def test_every_template_the_sync_code_declares_has_a_chinese_translation() -> None:
    assert len(TEMPLATES) > 40  # collected at import, not hand-listed here
    missing = sorted(set(TEMPLATES) - set(i18n.catalogue("zh-CN")))
    assert missing == []


def test_every_translation_uses_only_the_parameters_its_messages_carry() -> None:
    assert i18n.placeholder_problems() == []


def test_the_check_command_fails_when_a_template_has_no_translation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert i18n.main(["check"]) == 0
    extra = "must be a template nobody translated"
    TEMPLATES[extra] = frozenset()  # type: ignore[index]
    try:
        assert i18n.main(["check"]) == 1
        assert extra in capsys.readouterr().out
    finally:
        del TEMPLATES[extra]  # type: ignore[arg-type]


def test_sync_code_makes_no_message_from_a_bare_string() -> None:
    # A bare string in an errors list would stay English for everyone: messages are
    # ``Message(TEMPLATE, ...)`` with a template declared through ``sync.wire.template``.
    bare = re.compile(r"""(errors\b.*[=(]\s*\[\s*f?["']|raise Invalid\(\s*f?["'])""")
    offenders = [
        f"{path.name}:{n}"
        for path in sorted(SYNC.glob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []


def test_messages_are_english_text_for_logs_and_older_callers() -> None:
    _, errors = entities.check("contact", {"glucose_mmol": 50}, NOW)
    (message,) = errors["glucose_mmol"]
    assert message == "must be between 1 and 35 mmol/L"
    assert isinstance(message, Message) and type(str(message)) is str
    assert plain_errors(errors) == {"glucose_mmol": ["must be between 1 and 35 mmol/L"]}
    assert i18n.localize("en", message) == "must be between 1 and 35 mmol/L"


@pytest.mark.parametrize(
    ("entity", "fields", "field", "chinese"),
    [
        ("contact", {"glucose_mmol": 50}, "glucose_mmol", "应在 1 到 35 mmol/L 之间"),
        ("contact", {"duration_min": 0}, "duration_min", "应在 1 到 1440 分钟之间"),
        ("participant", {"hba1c": 25}, "hba1c", "应在 3 到 20 % 之间"),
        ("participant", {"birth_year": 1800}, "birth_year", "应在 1900 到 2100 之间"),
        ("participant", {"full_name": "张" * 121}, "full_name", "最多 120 个字"),
        (
            "contact",
            {"occurred_at": "2099-01-01T00:00:00+08:00"},
            "occurred_at",
            "不能是将来的时间",
        ),
        ("participant", {"hba1c_on": "1980-01-01"}, "hba1c_on", "不能早于 1990-01-01"),
        ("contact", {"mood": "good"}, "mood", "contact 记录没有这一项"),
        ("contact", {"mode": "visit"}, "mode", "只能是以下之一：home_visit、phone_call、"),
        (
            "contact",
            {"functions": ["being_there", "chat"]},
            "functions",
            "第 2 项：只能是以下之一：being_there、daily_management、",
        ),
        ("group_meeting", {"attendee_ids": ["x"] * 501}, "attendee_ids", "最多 500 项"),
    ],
)
def test_validation_messages_read_in_chinese_with_their_numbers(
    entity: str, fields: dict[str, object], field: str, chinese: str
) -> None:
    _, errors = entities.check(entity, fields, NOW)
    assert zh(errors[field][0]).startswith(chinese)


def test_rules_across_fields_read_in_chinese() -> None:
    record = {"bp_systolic": 120, "bp_diastolic": 130, "enrolled_on": "2026-01-01", "voided": True}
    errors = entities.check_record("participant", record, creating=False)
    assert zh(errors["bp_diastolic"][0]) == "低压应低于高压"
    assert zh(errors["consent_on"][0]) == "填写了入组日期，就必须填写知情同意日期"
    assert zh(errors["void_reason"][0]) == "作废时必须写明原因"


def test_a_role_rule_names_the_role_in_words_in_chinese_and_by_code_in_english() -> None:
    actor = scope.Actor(user_id="u1", role=Role.PEER_LEADER)
    participant = {"peer_leader_id": "u1", "community_id": "c1"}
    errors = entities.get("participant").write_errors(actor, participant, {"hba1c": 9.0})
    assert errors["hba1c"] == ["your role (peer_leader) may not change this field"]
    assert zh(errors["hba1c"][0]) == "同伴组长不能修改这一项"


def test_a_message_survives_the_mutation_log_and_renders_again() -> None:
    _, errors = entities.check("contact", {"functions": ["x"], "duration_min": 0}, NOW)
    back = errors_from_json(errors_json(errors))
    assert back == errors  # the same English text
    assert {k: [zh(m) for m in v] for k, v in back.items()} == {
        k: [zh(m) for m in v] for k, v in errors.items()
    }
    assert zh(back["duration_min"][0]) == "应在 1 到 1440 分钟之间"


def test_plain_english_without_a_template_is_still_looked_up() -> None:
    # A mutation-log row written before messages kept their templates.
    assert zh("no such participant in your scope") == "您负责的参与者中没有这个人"
    assert zh("something no catalogue knows") == "something no catalogue knows"


@pytest.mark.parametrize(
    ("entity", "fields"),
    [
        ("participant", {"birth_year": "陈美玲"}),
        ("participant", {"full_name": "陈美玲" * 60}),
        ("participant", {"phone": 13912345678}),
        ("contact", {"glucose_mmol": 47.3}),
        ("contact", {"note": ["服药后头晕"]}),
        ("contact", {"topics": ["陈美玲"]}),
        ("contact", {"occurred_at": "2026-13-45T99:00:00+08:00"}),
        ("participant", {"hba1c_on": "2026-02-31"}),
    ],
)
def test_no_message_carries_the_value_in_either_language(
    entity: str, fields: dict[str, object]
) -> None:
    _, errors = entities.check(entity, fields, NOW)
    assert errors
    (value,) = fields.values()
    shown = " ".join(
        i18n.localize(lang, m) for lang in i18n.LANGUAGES for ms in errors.values() for m in ms
    )
    for piece in value if isinstance(value, list) else [value]:
        assert str(piece) not in shown
    assert "陈美玲" not in shown and "47.3" not in shown
