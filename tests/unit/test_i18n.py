"""The language plumbing: catalogues merged from every .po, language choice, formatting."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2 import Environment

from server import i18n
from server.i18n import catalogues, check, routes

ROOT = Path(__file__).resolve().parents[2]


def test_every_po_file_in_the_folder_is_merged(tmp_path, monkeypatch):
    folder = tmp_path / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    (folder / "a.po").write_text(header + 'msgid "Save"\nmsgstr "保存"\n', encoding="utf-8")
    (folder / "b.po").write_text(header + 'msgid "Cancel"\nmsgstr "取消"\n', encoding="utf-8")
    monkeypatch.setattr(catalogues, "LOCALE_DIR", tmp_path)
    i18n.reload()
    try:
        assert i18n.translate("zh-CN", "Save") == "保存"
        assert i18n.translate("zh-CN", "Cancel") == "取消"
        assert i18n.catalogue("zh-CN") == {"Save": "保存", "Cancel": "取消"}
        assert i18n.translate("en", "Save") == "Save"
    finally:
        monkeypatch.undo()
        i18n.reload()


def test_language_comes_from_accept_language_with_quality_values():
    assert i18n.from_accept_language("en-GB,en;q=0.9,zh-CN;q=0.8") == "en"
    assert i18n.from_accept_language("fr;q=1, zh-TW;q=0.5, en;q=0.4") == "zh-CN"
    assert i18n.from_accept_language("fr, de") is None
    assert i18n.normalize("zh_CN") == "zh-CN"


def test_templates_translate_and_format_in_the_context_language():
    env = Environment(autoescape=True)
    i18n.install(env)
    tpl = env.from_string('{{ _("Today") }} {{ d | format_date }} {{ n | format_number }}')
    zh = tpl.render(lang="zh-CN", d=date(2026, 11, 20), n=1234.5)
    en = tpl.render(lang="en", d=date(2026, 11, 20), n=1234.5)
    assert zh.startswith("今天 2026年11月20日")
    assert en == "Today Nov 20, 2026 1,234.5"


def test_the_language_switch_only_redirects_within_the_site():
    assert routes._safe_next("/settings") == "/settings"
    assert routes._safe_next("//evil.example/") == "/"
    assert routes._safe_next("https://evil.example/") == "/"


def test_every_string_of_the_phone_app_has_a_chinese_translation():
    used = check.used_msgids()  # Babel's extractors over every template and the app's JS
    assert {"Online", "Save", "status\x04Open", "invite\x04Code"} <= used
    assert sorted(used - set(i18n.catalogue("zh-CN"))) == []


def test_check_reports_a_msgid_a_template_or_script_uses_without_translation(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "templates" / "page.html").write_text(
        '<p>{{ _("Save") }} {{ _("A msgid nobody translated") }}</p>\n'
        '<p>{{ pgettext("a context nobody knows", "Save") }}</p>\n'
        '<p>{{ ngettext("%(num)d untranslated thing", "%(num)d untranslated things", n) }}</p>\n',
        encoding="utf-8",
    )
    (tmp_path / "static" / "js" / "page.js").write_text(
        'el.textContent = t("A script string nobody translated") + pt("status", "Open");\n',
        encoding="utf-8",
    )
    assert check.untranslated(tmp_path) == [
        "%(num)d untranslated thing",
        "%(num)d untranslated things",
        "A msgid nobody translated",
        "A script string nobody translated",
        "a context nobody knows\x04Save",
    ]


def test_the_check_command_passes_for_the_code_as_it_is():
    done = subprocess.run(
        [sys.executable, "-m", "server.i18n", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "")


def test_the_committed_messages_pot_lists_every_msgid_in_use():
    # `make messages` rewrites it: run it after adding or changing a msgid.
    with (catalogues.LOCALE_DIR / "messages.pot").open("rb") as fh:
        pot = read_po(fh)
    in_pot = set()
    for message in pot:
        if message.id:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            in_pot.update(catalogues.key(message.context, msgid) for msgid in ids)
    assert in_pot == check.used_msgids()
