"""The language plumbing: catalogues merged from every .po, language choice, formatting."""

from __future__ import annotations

from datetime import date

from jinja2 import Environment

from server import i18n


def test_every_po_file_in_the_folder_is_merged(tmp_path, monkeypatch):
    folder = tmp_path / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    (folder / "a.po").write_text(header + 'msgid "Save"\nmsgstr "保存"\n', encoding="utf-8")
    (folder / "b.po").write_text(header + 'msgid "Cancel"\nmsgstr "取消"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
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
    assert i18n._safe_next("/settings") == "/settings"
    assert i18n._safe_next("//evil.example/") == "/"
    assert i18n._safe_next("https://evil.example/") == "/"


def test_every_string_of_the_phone_app_has_a_chinese_translation():
    base = i18n.LOCALE_DIR.parent
    files = [base / "templates" / "base.html", *base.glob("templates/app/*.html")]
    files += [p for p in base.glob("static/js/*.js") if p.name not in ("auth.js", "account.js")]
    used: set[str] = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in i18n._MSGID_PATTERNS:
            used.update(pattern.findall(text))
    assert used, "the scan should find the app's strings"
    assert sorted(used - set(i18n.catalogue("zh-CN"))) == []
