"""The staff console's web layer (Starlette + Jinja2): turns requests into calls on the console's
services and renders server-side pages. No JavaScript is needed; nothing is loaded from a CDN.

Security: every page but sign-in needs a session; every POST needs the CSRF token of the session
(sign-in and set-up: a double-submit cookie); every action checks the role; Jinja2 escapes all text,
so a question or a field containing HTML or script is shown as text.
"""

from __future__ import annotations

import asyncio
import gettext
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.handover.registry import InviteSpec, Registry, split_list
from console import analytics, charts
from console.auth import AuthError, SignedIn, StaffAuth
from console.models import ROLES, StaffAudit
from console.publish import ContentService, LiveContent, PublishError
from console.queue import ReviewQueue
from core.errors import WegweiserError
from knowledge import editor
from knowledge.schema import CONTACT_ROLES, ESCALATION_LEVELS, GUIDES, LANGUAGES, Entry
from knowledge.topics import load_topics
from translations.ui import ui_catalog

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "wg_session"
PRE_COOKIE = "wg_pre"  # double-submit CSRF token before a session exists
MAX_BODY = 512 * 1024
MAX_FIELD = 20_000  # a field longer than this is refused with a message, not stored
LANGUAGE_NAMES = {"de": "Deutsch", "en": "Englisch", "ar": "Arabisch", "fa": "Farsi", "prs": "Dari",
                  "uk": "Ukrainisch", "ru": "Russisch", "tr": "Türkisch", "ps": "Paschtu", "ti": "Tigrinya",
                  "ku": "Kurdisch", "so": "Somali", "fr": "Französisch"}


@dataclass
class ConsoleContext:
    auth: StaffAuth
    content: ContentService
    queue: ReviewQueue
    live: LiveContent
    registry: Registry
    secure_cookies: bool = False


def _templates(language: str = "de") -> Environment:
    ui = ui_catalog()
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    # Staff strings are written in German; a district may add console/locale/<lang>/LC_MESSAGES/console.mo.
    env.install_gettext_translations(  # type: ignore[attr-defined]
        gettext.translation("console", HERE / "locale", languages=[language], fallback=True), newstyle=True)
    env.globals.update(LANGUAGES=LANGUAGES, LANGUAGE_NAMES=LANGUAGE_NAMES, ROLES=ROLES, GUIDES=GUIDES,
                       ESCALATION_LEVELS=ESCALATION_LEVELS, CONTACT_ROLES=sorted(CONTACT_ROLES), small=charts.small,
                       topic_title=lambda topic: ui.get("de", f"topic.{topic}"))
    return env


def answer_states(entry: Entry, live: LiveContent) -> dict[str, dict[str, str]]:
    """Per language: missing / machine / unreviewed / reviewed / outdated, with who and when."""
    out: dict[str, dict[str, str]] = {}
    translator = live.engine.translator
    for lang in LANGUAGES:
        answer = entry.answers.get(lang)
        if answer is None:
            try:
                machine = translator.can_translate("en", lang) or translator.can_translate("de", lang)
            except Exception:
                machine = False
            out[lang] = {"state": "machine" if machine else "missing"}
        elif entry.outdated(lang):
            out[lang] = {"state": "outdated", "by": answer.reviewed_by or "", "on": answer.reviewed_on or ""}
        else:
            out[lang] = {"state": answer.status, "by": answer.reviewed_by or "", "on": answer.reviewed_on or ""}
    return out


_Handler = Callable[[Request], Awaitable[Response]]


class StaleEditError(PublishError):
    """The entry changed after the form was opened."""


def _check_base(files: editor.Files, entry_id: str, base: str) -> None:
    if base != editor.entry_fingerprint(files, entry_id):
        raise StaleEditError("someone else saved this entry first")


class Forbidden(HTTPException):
    def __init__(self, detail: str = "Dafür fehlt Ihrer Rolle das Recht.") -> None:
        super().__init__(403, detail)


def create_app(ctx: ConsoleContext, language: str = "de") -> Starlette:
    env = _templates(language)

    def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        user: SignedIn | None = request.scope.get("wg_user")
        html = env.get_template(name).render(request=request, user=user.account if user else None,
                                             csrf=user.csrf if user else "", **values)
        response = HTMLResponse(html, status_code=status)
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self'"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def user_of(request: Request) -> SignedIn | None:
        return ctx.auth.session(request.cookies.get(SESSION_COOKIE))

    async def form_of(request: Request, user: SignedIn | None, pre: bool = False) -> FormData:
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            raise HTTPException(413, "Die Eingabe ist zu groß.")
        form = await request.form(max_part_size=MAX_BODY)
        token = str(form.get("csrf") or "")
        expected = request.cookies.get(PRE_COOKIE, "") if pre else (user.csrf if user else "")
        if not token or not expected or not secrets.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(403, "Das Formular ist abgelaufen oder ungültig (CSRF). Bitte Seite neu laden.")
        for key, value in form.multi_items():
            if isinstance(value, str) and len(value) > MAX_FIELD:
                raise HTTPException(413, f"Das Feld {key} ist zu lang (höchstens {MAX_FIELD} Zeichen).")
        return form

    def page(right: str = "view") -> Callable[[Callable[[Request, SignedIn], Awaitable[Response]]], _Handler]:
        def wrap(fn: Callable[[Request, SignedIn], Awaitable[Response]]) -> _Handler:
            async def handler(request: Request) -> Response:
                user = await asyncio.to_thread(user_of, request)
                if user is None:
                    return RedirectResponse("/login", status_code=303)
                request.scope["wg_user"] = user
                if not user.account.may(right if right != "review" else "view"):
                    raise Forbidden()
                return await fn(request, user)
            return handler
        return wrap

    # ------------------------------------------------------------------ sign-in and set-up
    def pre_token(request: Request) -> None:
        # The pre-session CSRF token: kept from the cookie, or a new one for the sign-in form.
        request.state.pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)

    async def login_page(request: Request) -> Response:
        pre_token(request)
        if await asyncio.to_thread(user_of, request):
            return RedirectResponse("/", status_code=303)
        return _with_pre(render(request, "login.html", pre=request.state.pre, error=None), request)

    async def login_post(request: Request) -> Response:
        form = await form_of(request, None, pre=True)
        address = request.client.host if request.client else "?"
        try:
            token, _ = await asyncio.to_thread(ctx.auth.login, str(form.get("username") or ""),
                                               str(form.get("password") or ""), address)
        except AuthError as e:
            request.state.pre = request.cookies.get(PRE_COOKIE, "")
            return render(request, "login.html", status=401, pre=request.state.pre, error=str(e))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=ctx.secure_cookies,
                            max_age=12 * 3600)
        return response

    async def logout(request: Request) -> Response:
        user = await asyncio.to_thread(user_of, request)
        await form_of(request, user)
        await asyncio.to_thread(ctx.auth.logout, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def setup_page(request: Request) -> Response:
        pre_token(request)
        token = request.query_params.get("token", "")
        return _with_pre(render(request, "setup.html", token=token, pre=request.state.pre, error=None), request)

    async def setup_post(request: Request) -> Response:
        form = await form_of(request, None, pre=True)
        try:
            await asyncio.to_thread(ctx.auth.redeem_setup, str(form.get("token") or ""),
                                    str(form.get("username") or ""), str(form.get("display_name") or ""),
                                    str(form.get("password") or ""))
        except AuthError as e:
            request.state.pre = request.cookies.get(PRE_COOKIE, "")
            return render(request, "setup.html", status=400, token=form.get("token"), pre=request.state.pre,
                          error=str(e))
        return RedirectResponse("/login", status_code=303)

    def _with_pre(response: Response, request: Request) -> Response:
        response.set_cookie(PRE_COOKIE, request.state.pre, httponly=True, samesite="strict",
                            secure=ctx.secure_cookies)
        return response

    # ------------------------------------------------------------------ review queue
    @page()
    async def queue_page(request: Request, user: SignedIn) -> Response:
        groups = await asyncio.to_thread(ctx.queue.groups, ctx.live.engine)
        entries = {e.id: e for e in ctx.live.engine.pack.entries}
        return render(request, "queue.html", groups=groups, entries=entries, message=request.query_params.get("m"))

    @page("edit")
    async def queue_add(request: Request, user: SignedIn) -> Response:
        form = await form_of(request, user)
        ids = _ids(str(form.get("ids") or ""))
        entry_id = str(form.get("entry_id") or "").strip()
        pack = ctx.live.engine.pack
        if entry_id not in {e.id for e in pack.entries}:
            return RedirectResponse("/queue?m=" + _q("Unbekannter Eintrag: " + entry_id[:100]), status_code=303)
        items = [i for i in await asyncio.to_thread(ctx.queue.items, ids) if (i.lang or "de") in LANGUAGES]
        questions = [(i.lang or "de", i.text) for i in items]
        result = await asyncio.to_thread(
            ctx.content.publish, lambda files: editor.add_variants(files, ctx.live.engine.pack, entry_id, questions),
            user.account.username, f"{len(questions)} Frage(n) als Varianten zu {entry_id}")
        if result.status in {"published", "unchanged"}:
            await asyncio.to_thread(ctx.queue.close, [i.id for i in items], "added", user.account.username, entry_id)
        return render(request, "published.html", result=result, back="/queue")

    @page("edit")
    async def queue_dismiss(request: Request, user: SignedIn) -> Response:
        form = await form_of(request, user)
        count = await asyncio.to_thread(ctx.queue.close, _ids(str(form.get("ids") or "")), "dismissed",
                                        user.account.username, "verworfen")
        return RedirectResponse("/queue?m=" + _q(f"{count} Frage(n) verworfen."), status_code=303)

    # ------------------------------------------------------------------ content
    @page()
    async def entries_page(request: Request, user: SignedIn) -> Response:
        q = request.query_params.get("q", "").strip()[:500]
        guide = request.query_params.get("guide", "")
        engine = ctx.live.engine
        entries = list(engine.pack.entries)
        if guide in GUIDES:
            entries = [e for e in entries if e.guide == guide]
        if q:
            # Search by meaning (the bot's own ranking) and by id/topic text.
            fused = (await asyncio.to_thread(engine.scores, q)).fused(engine.thresholds)
            order = {engine.pack.entries[i].id: float(fused[i]) for i in range(len(engine.pack.entries))}
            needle = q.casefold()
            entries.sort(key=lambda e: -(order.get(e.id, 0.0) + (1.0 if needle in e.id.casefold() else 0.0)))
            entries = entries[:15]
        else:
            entries.sort(key=lambda e: (e.guide, e.topic, e.id))
        states = {e.id: answer_states(e, ctx.live) for e in entries}
        return render(request, "entries.html", entries=entries, states=states, q=q, guide=guide,
                      pick=request.query_params.get("pick", ""), topics=load_topics())

    def _entry_view(request: Request, entry_id: str, **extra: Any) -> dict[str, Any]:
        files = ctx.content.files()
        try:
            entry = ctx.live.engine.pack.by_id(entry_id)
            rel, raw = editor.raw_entry(files, entry_id)
        except (KeyError, WegweiserError) as e:
            raise HTTPException(404, "Eintrag nicht gefunden.") from e
        lang = request.query_params.get("lang") or extra.pop("lang", None) or "ar"
        if lang not in LANGUAGES or lang == "de":
            lang = "en"
        own = raw.get("questions") or {}
        extra_questions = {code: [q for q in entry.questions.get(code, ()) if q not in (own.get(code) or [])]
                           for code in LANGUAGES}
        return dict(entry=entry, raw=raw, file=rel, lang=lang, states=answer_states(entry, ctx.live),
                    base=editor.entry_fingerprint(files, entry_id), own=own, extra_questions=extra_questions,
                    topics=load_topics(), problems={}, notice=None, **extra)

    @page()
    async def entry_page(request: Request, user: SignedIn) -> Response:
        view = await asyncio.to_thread(_entry_view, request, request.path_params["entry_id"])
        return render(request, "entry.html", **view)

    @page("edit")
    async def entry_save(request: Request, user: SignedIn) -> Response:
        entry_id = request.path_params["entry_id"]
        form = await form_of(request, user)
        lang = str(form.get("lang") or "en")
        base = str(form.get("base") or "")
        langs = ["de"] + ([lang] if lang != "de" else [])
        edit = editor.EntryEdit(
            answers={code: str(form.get(f"answer_{code}") or "") for code in langs if f"answer_{code}" in form},
            questions={code: str(form.get(f"questions_{code}") or "").splitlines() for code in langs
                       if f"questions_{code}" in form},
            facts_as_of=str(form.get("facts_as_of") or "").strip() or None,
            escalation=str(form.get("escalation") or "") or None,
            contact=str(form.get("contact") or "") or None,
            sources=_sources(str(form.get("sources") or "")) if "sources" in form else None,
        )

        def change(files: editor.Files) -> editor.Files:
            _check_base(files, entry_id, base)
            return editor.edit_entry(files, entry_id, edit)

        try:
            result = await asyncio.to_thread(ctx.content.publish, change, user.account.username,
                                             f"Eintrag {entry_id} bearbeitet")
        except StaleEditError:
            view = await asyncio.to_thread(_entry_view, request, entry_id, lang=lang)
            view["notice"] = ("Jemand anderes hat diesen Eintrag gespeichert, während Sie ihn bearbeitet haben. "
                              "Unten steht der neue Stand; Ihre Änderung wurde nicht gespeichert. Ihr Text:")
            view["lost"] = {k: v for k, v in form.multi_items() if k.startswith(("answer_", "questions_"))}
            return render(request, "entry.html", status=409, **view)
        if result.status == "invalid":
            view = await asyncio.to_thread(_entry_view, request, entry_id, lang=lang)
            view["problems"] = {p.field: p.message for p in result.problems}
            view["submitted"] = {k: v for k, v in form.multi_items()}
            return render(request, "entry.html", status=400, **view)
        return render(request, "published.html", result=result, back=f"/entries/{entry_id}?lang={lang}")

    @page("view")
    async def entry_review(request: Request, user: SignedIn) -> Response:
        entry_id, lang = request.path_params["entry_id"], request.path_params["lang"]
        form = await form_of(request, user)
        if not user.account.may("review", lang):
            raise Forbidden("Sie dürfen Übersetzungen in dieser Sprache nicht als geprüft markieren.")
        base = str(form.get("base") or "")

        def change(files: editor.Files) -> editor.Files:
            _check_base(files, entry_id, base)
            return editor.mark_reviewed(files, entry_id, lang, user.account.display_name, date.today())

        try:
            result = await asyncio.to_thread(ctx.content.publish, change, user.account.username,
                                             f"{LANGUAGE_NAMES.get(lang, lang)} zu {entry_id} geprüft")
        except StaleEditError:
            return RedirectResponse(f"/entries/{entry_id}?lang={lang}", status_code=303)
        except WegweiserError as e:
            raise HTTPException(400, str(e)) from e
        return render(request, "published.html", result=result, back=f"/entries/{entry_id}?lang={lang}")

    @page("edit")
    async def entry_new_page(request: Request, user: SignedIn) -> Response:
        ids = _ids(request.query_params.get("from", ""))
        items = await asyncio.to_thread(ctx.queue.items, ids) if ids else []
        return render(request, "entry_new.html", topics=load_topics(), items=items, problems=[], values={},
                      ids=",".join(str(i.id) for i in items))

    @page("edit")
    async def entry_new_post(request: Request, user: SignedIn) -> Response:
        form = await form_of(request, user)
        values = {k: str(v) for k, v in form.multi_items() if isinstance(v, str)}
        topics = load_topics()
        topic = values.get("topic", "")
        problems: list[str] = []
        if topic not in topics:
            problems.append("Bitte ein Thema wählen.")
        slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in values.get("slug", "").strip().lower())[:60]
        if not slug:
            problems.append("Bitte eine Kurzbezeichnung angeben (z. B. fahrrad-reparatur).")
        items = await asyncio.to_thread(ctx.queue.items, _ids(values.get("ids", "")))
        if problems:
            return render(request, "entry_new.html", status=400, topics=topics, items=items, problems=problems,
                          values=values, ids=values.get("ids", ""))
        guide = topics[topic].guide
        entry_id = f"{ctx.content.content_dir.name}.{topic}.{slug}"
        questions: dict[str, list[str]] = {}
        for line in values.get("questions_de", "").splitlines():
            if line.strip():
                questions.setdefault("de", []).append(line.strip())
        for item in items:
            if (item.lang or "de") in LANGUAGES and item.text.strip() not in questions.get(item.lang or "de", []):
                questions.setdefault(item.lang or "de", []).append(" ".join(item.text.split()))
        fields: dict[str, Any] = {
            "facts_as_of": values.get("facts_as_of") or date.today().isoformat(),
            "escalation": values.get("escalation", "offer"), "contact": values.get("contact", ""),
            "sources": _sources(values.get("sources", "")),
            "questions": questions,
            "answers": {"de": {"status": "reviewed", "text": values.get("answer_de", "").strip()}},
        }
        if entry_id in {e.id for e in ctx.live.engine.pack.entries}:
            return render(request, "entry_new.html", status=400, topics=topics, items=items, values=values,
                          problems=[f"Den Eintrag {entry_id} gibt es schon; bitte eine andere Kurzbezeichnung."],
                          ids=values.get("ids", ""))
        result = await asyncio.to_thread(
            ctx.content.publish, lambda files: editor.new_entry(files, guide, topic, entry_id, fields),
            user.account.username, f"Neuer Eintrag {entry_id}")
        if result.status == "invalid":
            return render(request, "entry_new.html", status=400, topics=topics, items=items,
                          problems=[f"{p.field}: {p.message}" for p in result.problems], values=values,
                          ids=values.get("ids", ""))
        if result.status == "published" and items:
            await asyncio.to_thread(ctx.queue.close, [i.id for i in items], "added", user.account.username, entry_id)
        return render(request, "published.html", result=result, back=f"/entries/{entry_id}")

    # ------------------------------------------------------------------ revisions
    @page()
    async def revisions_page(request: Request, user: SignedIn) -> Response:
        revisions = await asyncio.to_thread(ctx.content.revisions)
        return render(request, "revisions.html", revisions=revisions)

    @page()
    async def revision_page(request: Request, user: SignedIn) -> Response:
        try:
            revision = await asyncio.to_thread(ctx.content.revision, int(request.path_params["rid"]))
        except PublishError as e:
            raise HTTPException(404, str(e)) from e
        return render(request, "revision.html", revision=revision)

    @page("edit")
    async def revision_action(request: Request, user: SignedIn) -> Response:
        await form_of(request, user)
        rid, action = int(request.path_params["rid"]), request.path_params["action"]
        name = user.account.username
        try:
            if action == "restore":
                result = await asyncio.to_thread(ctx.content.restore, rid, name)
            elif action == "release":
                if not user.account.may("admin"):
                    raise Forbidden("Nur Administratoren können eine zurückgehaltene Änderung freigeben.")
                result = await asyncio.to_thread(ctx.content.release_held, rid, name)
            elif action == "discard":
                await asyncio.to_thread(ctx.content.discard, rid, name)
                return RedirectResponse("/revisions", status_code=303)
            else:
                raise HTTPException(404)
        except PublishError as e:
            raise HTTPException(409, str(e)) from e
        return render(request, "published.html", result=result, back="/revisions")

    # ------------------------------------------------------------------ analytics
    @page()
    async def analytics_page(request: Request, user: SignedIn) -> Response:
        days = _int(request.query_params.get("days"), 28, 7, 366)
        report = await asyncio.to_thread(_report, days)
        return render(request, "analytics.html", a=report, days=days, charts=_charts(report))

    @page()
    async def analytics_csv(request: Request, user: SignedIn) -> Response:
        days = _int(request.query_params.get("days"), 28, 7, 366)
        report = await asyncio.to_thread(_report, days)
        exports = analytics.csv_exports(report)
        name = request.path_params["name"]
        if name not in exports:
            raise HTTPException(404)
        return PlainTextResponse(exports[name], media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="wegweiser-{name}.csv"'})

    def _report(days: int) -> analytics.Analytics:
        with ctx.content.sessions() as s:
            return analytics.report(s, days=days)

    # ------------------------------------------------------------------ people and accounts
    @page("admin")
    async def people_page(request: Request, user: SignedIn) -> Response:
        helpers = await asyncio.to_thread(ctx.registry.search)
        return render(request, "people.html", helpers=helpers, code=None, error=None)

    @page("admin")
    async def people_invite(request: Request, user: SignedIn) -> Response:
        form = await form_of(request, user)
        try:
            spec = InviteSpec(
                role=str(form.get("role") or "mediator"), languages=tuple(split_list(str(form.get("languages") or ""))),
                topics=tuple(split_list(str(form.get("topics") or ""))) or ("*",),
                team=str(form.get("team") or "") or None, alias=str(form.get("alias") or "") or None,
                availability=str(form.get("hours") or ""), max_open=_int(form.get("max_open"), 2, 1, 20),
                max_per_week=_int(form.get("max_week"), 5, 1, 100), valid_days=_int(form.get("days"), 7, 1, 30),
            )
            code = await asyncio.to_thread(ctx.registry.invite, spec)
        except WegweiserError as e:
            helpers = await asyncio.to_thread(ctx.registry.search)
            return render(request, "people.html", status=400, helpers=helpers, code=None, error=str(e))
        await asyncio.to_thread(_audit, user.account.username, "people.invite",
                                f"{spec.role} {','.join(spec.languages)}")
        helpers = await asyncio.to_thread(ctx.registry.search)
        return render(request, "people.html", helpers=helpers, code=code, error=None)

    @page("admin")
    async def people_action(request: Request, user: SignedIn) -> Response:
        await form_of(request, user)
        hid, action = int(request.path_params["hid"]), request.path_params["action"]
        if action not in {"pause", "resume", "remove"}:
            raise HTTPException(404)
        done = await asyncio.to_thread(
            ctx.registry.remove if action == "remove" else lambda h: ctx.registry.set_paused(h, action == "pause"), hid)
        if done:
            await asyncio.to_thread(_audit, user.account.username, f"people.{action}", f"helper {hid}")
        return RedirectResponse("/people", status_code=303)

    def _audit(account: str, action: str, detail: str) -> None:
        with ctx.content.sessions.begin() as s:
            s.add(StaffAudit(account=account, action=action, detail=detail))

    @page("admin")
    async def accounts_page(request: Request, user: SignedIn) -> Response:
        accounts = await asyncio.to_thread(ctx.auth.accounts)
        return render(request, "accounts.html", accounts=accounts, error=None)

    @page("admin")
    async def accounts_post(request: Request, user: SignedIn) -> Response:
        form = await form_of(request, user)
        try:
            if form.get("action") in {"activate", "deactivate"}:
                await asyncio.to_thread(ctx.auth.set_active, _int(form.get("id"), 0, 0, 10**9),
                                        form.get("action") == "activate", user.account.username)
            else:
                await asyncio.to_thread(ctx.auth.create_account, str(form.get("username") or ""),
                                        str(form.get("display_name") or ""), str(form.get("password") or ""),
                                        str(form.get("role") or ""), str(form.get("languages") or ""),
                                        user.account.username)
        except AuthError as e:
            accounts = await asyncio.to_thread(ctx.auth.accounts)
            return render(request, "accounts.html", status=400, accounts=accounts, error=str(e))
        return RedirectResponse("/accounts", status_code=303)

    @page("admin")
    async def audit_page(request: Request, user: SignedIn) -> Response:
        def rows() -> list[StaffAudit]:
            with ctx.content.sessions() as s:
                return list(s.scalars(select(StaffAudit).order_by(StaffAudit.id.desc()).limit(300)))
        return render(request, "audit.html", rows=await asyncio.to_thread(rows))

    @page()
    async def home(request: Request, user: SignedIn) -> Response:
        return RedirectResponse("/queue", status_code=303)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def on_http_error(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "Interner Fehler"
        if request.scope.get("wg_user") is None:
            user = await asyncio.to_thread(user_of, request)
            if user is not None:
                request.scope["wg_user"] = user
        return render(request, "error.html", status=code, code=code, detail=detail)

    routes = [
        Route("/", home), Route("/healthz", healthz),
        Route("/login", login_page, methods=["GET"]), Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/setup", setup_page, methods=["GET"]), Route("/setup", setup_post, methods=["POST"]),
        Route("/queue", queue_page), Route("/queue/add", queue_add, methods=["POST"]),
        Route("/queue/dismiss", queue_dismiss, methods=["POST"]),
        Route("/entries", entries_page), Route("/entries/new", entry_new_page, methods=["GET"]),
        Route("/entries/new", entry_new_post, methods=["POST"]),
        Route("/entries/{entry_id}", entry_page, methods=["GET"]),
        Route("/entries/{entry_id}", entry_save, methods=["POST"]),
        Route("/entries/{entry_id}/review/{lang}", entry_review, methods=["POST"]),
        Route("/revisions", revisions_page), Route("/revisions/{rid:int}", revision_page, methods=["GET"]),
        Route("/revisions/{rid:int}/{action}", revision_action, methods=["POST"]),
        Route("/analytics", analytics_page), Route("/analytics/{name}.csv", analytics_csv),
        Route("/people", people_page, methods=["GET"]), Route("/people", people_invite, methods=["POST"]),
        Route("/people/{hid:int}/{action}", people_action, methods=["POST"]),
        Route("/accounts", accounts_page, methods=["GET"]), Route("/accounts", accounts_post, methods=["POST"]),
        Route("/audit", audit_page),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: on_http_error, Exception: on_http_error})

    return app


def _charts(a: analytics.Analytics) -> dict[str, str]:
    """Server-rendered SVG: the console works offline and without JavaScript."""
    days = [d.day.strftime("%d.%m.") for d in a.per_day]
    return {
        "per_day": charts.stacked_bar_chart("Fragen pro Tag nach Ergebnis", days,
                                            {st: [d.counts.get(st, 0) for d in a.per_day] for st in a.statuses}),
        "per_week": charts.bar_chart("Fragen pro Woche", [(w.week, w.total) for w in a.per_week]),
        "by_language": charts.horizontal_bars("Fragen nach Sprache", list(a.by_language)),
        "by_topic": charts.horizontal_bars("Fragen nach Thema", list(a.by_topic)),
        "handovers": charts.bar_chart("Weiterleitungen an Menschen pro Tag",
                                      [(d.day.strftime("%d.%m."), d.total) for d in a.handovers.per_day]),
    }


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip().isdigit()][:1000]


def _int(value: Any, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(str(value))))
    except (TypeError, ValueError):
        return default


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


def _sources(text: str) -> list[dict[str, str]]:
    """One source per line: ``URL | title | date``."""
    out: list[dict[str, str]] = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if parts and parts[0]:
            out.append({"url": parts[0], "title": parts[1] if len(parts) > 1 else "",
                        "date": parts[2] if len(parts) > 2 else "undated"})
    return out
