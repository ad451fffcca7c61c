"""``/admin/instruments``: the questionnaires phones ask (SPEC 2, "Assessment"), and a program's
own added by an administrator: a JSON definition pasted or uploaded (``sync.instruments`` shows
the shape), refused field by field, or written through the engine (``engine.add_instrument``:
pulled by every phone that asks questionnaires, audited). Coordinators see the list."""

from __future__ import annotations

import json
from typing import Any

from litestar import get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template

from server.admin.common import page
from server.admin.writes import request_id
from server.auth.session import roles
from server.deps import CurrentUser, Req
from server.i18n import language_of, localize_errors
from sync import engine
from sync.models import Assessment, Instrument, Role
from sync.wire import Message, template

# A definition is a few KB; the limit keeps a wrong file from filling the page.
MAX_BYTES = 256 * 1024
NOT_JSON = template("must be a JSON object (UTF-8): %(problem)s")
NOTHING = template("paste the definition or choose its file")
TOO_BIG = template("must be at most %(max)s KB")


@get("/admin/instruments", name="admin-instruments")
async def instruments_page(request: Req) -> Template:
    return await _page(request)


@post("/admin/instruments", opt=roles(Role.ADMIN), status_code=303)
async def add_instrument(request: Req, user: CurrentUser) -> Template | Redirect:
    form = await request.form()
    upload = form.get("file")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    text = str(form.get("definition", "") or "")
    if not data:
        data = text.encode("utf-8")
    errors: dict[str, list[str]]
    if not data.strip():
        errors = {"definition": [Message(NOTHING)]}
    elif len(data) > MAX_BYTES:
        errors = {"definition": [Message(TOO_BIG, max=MAX_BYTES // 1024)]}
    else:
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            # The parser's own words: where the file breaks (line and column), never a value.
            problem = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            where = (
                f" (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            errors = {"definition": [Message(NOT_JSON, problem=problem + where)]}
        else:
            slug, refused = await engine.add_instrument(
                user, parsed, request_id=request_id(request)
            )
            errors = {k: list(v) for k, v in refused.items()}
            if not errors:
                return Redirect(f"/admin/instruments?added={slug}", status_code=303)
    if not text and data:
        text = data.decode("utf-8", errors="replace")[:MAX_BYTES]
    return await _page(
        request,
        {"errors": localize_errors(language_of(request), errors), "definition": text},
        status_code=422,
    )


async def _page(
    request: Req, extra: dict[str, Any] | None = None, status_code: int = 200
) -> Template:
    lang = language_of(request)
    rows = await Instrument.all().order_by("created_at", "id")
    used = {
        r["instrument_id"]: r["n"]
        for r in await Assessment.filter(voided=False)
        .group_by("instrument_id")
        .annotate(n=_count())
        .values("instrument_id", "n")
    }
    listed = []
    for r in rows:
        d = r.definition or {}
        scale = d.get("scale", {})
        listed.append(
            {
                "id": r.id,
                "title": _in(lang, d.get("title")),
                "questions": [_in(lang, i.get("text")) for i in d.get("items", [])],
                "scale": f"{scale.get('min')}–{scale.get('max')}",
                "scoring": d.get("scoring"),
                "cutoff": (d.get("cutoff") or {}).get("value"),
                "active": r.active,
                "version": r.version,
                "answered": used.get(r.id, 0),
            }
        )
    context = {
        "instruments": listed,
        "added": request.query_params.get("added"),
        "errors": {},
        "definition": "",
        "example": EXAMPLE,
        **(extra or {}),
    }
    return await page(
        request, "admin/instruments.html", context, section="instruments", status_code=status_code
    )


def _count() -> Any:
    from tortoise.functions import Count

    return Count("id")


def _in(lang: str, text: Any) -> str:
    if not isinstance(text, dict):
        return ""
    return str(text.get(lang) or text.get("en") or next(iter(text.values()), ""))


# What the form shows as a start: a two-item questionnaire in the shape ``sync.instruments``
# checks (the PHQ-2's structure; a program pastes its own validated wording).
EXAMPLE = json.dumps(
    {
        "id": "my_questions",
        "title": {"zh-CN": "问卷标题", "en": "Questionnaire title"},
        "prompt": {"zh-CN": "过去两周里……", "en": "Over the last two weeks…"},
        "items": [
            {"id": "q1", "text": {"zh-CN": "第一个问题", "en": "First question"}},
            {"id": "q2", "text": {"zh-CN": "第二个问题", "en": "Second question"}},
        ],
        "scale": {
            "min": 0,
            "max": 3,
            "labels": {
                "0": {"zh-CN": "完全不会", "en": "Not at all"},
                "3": {"zh-CN": "几乎每天", "en": "Nearly every day"},
            },
        },
        "scoring": "sum",
        "cutoff": {"value": 3, "label": {"zh-CN": "需要关注", "en": "Needs attention"}},
    },
    ensure_ascii=False,
    indent=2,
)

ROUTES = [instruments_page, add_instrument]
