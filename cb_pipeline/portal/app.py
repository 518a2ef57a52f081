"""The portal web application (Starlette, served by uvicorn): sign in, list, download.

Belongs here: PortalSettings (CB_PORTAL_* environment), the routes, server-side sessions behind a
signed cookie (HttpOnly, SameSite=Strict, Secure unless CB_PORTAL_INSECURE_COOKIES=1 for plain
HTTP on loopback), CSRF tokens on every form, the sign-in rate limit, the pages, security headers,
and the download rules: a file is served by registry id only (never a path from the request),
only when it is registered for one of the user's HWBs, is the current version of its path, lies
under the returns folder, and still has its registered SHA-256; anything else is refused and
recorded in the audit table. Does not: the users file (users.py) or SQL (store.py).
"""

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import itsdangerous
import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from cb_pipeline.lib.settings import DEFAULT_WAREHOUSE_URL, ConfigurationError
from cb_pipeline.portal import store, users as users_module

log = logging.getLogger("cb_pipeline.portal")

SECRET_ENV = "CB_PORTAL_SECRET"
INSECURE_ENV = "CB_PORTAL_INSECURE_COOKIES"
LIMIT_ENV = "CB_PORTAL_SIGNIN_LIMIT"
COOKIE = "cb_portal_session"
SESSION_SECONDS = 8 * 3600
REGISTRY_ID = re.compile(r"^[0-9a-f]{32}$")
CONTENT_TYPES = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 ".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8"}
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")
# the published dashboard, opened in the browser: its own inline CSS and SVG only, no script at all
DASHBOARD_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


@dataclass(frozen=True)
class PortalSettings:
    secret: str
    users_file: Path
    warehouse_url: str
    returns_dir: Path
    secure_cookies: bool = True
    signin_limit: int = 5  # failed attempts ...
    signin_window: int = 900  # ... per this many seconds, per client address and per user name

    @classmethod
    def from_env(cls, env: dict | None = None) -> "PortalSettings":
        env = os.environ if env is None else env
        secret = env.get(SECRET_ENV, "")
        if len(secret) < 32:
            raise ConfigurationError(
                f"{SECRET_ENV} must be set to a random secret of at least 32 characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        limit, window = 5, 900
        if env.get(LIMIT_ENV):
            try:
                limit, window = (int(x) for x in env[LIMIT_ENV].split("/"))
            except ValueError:
                raise ConfigurationError(f"{LIMIT_ENV} must look like 5/900 (attempts/seconds)") from None
        return cls(
            secret=secret,
            users_file=users_module.users_file(env),
            warehouse_url=env.get("CB_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL),
            returns_dir=Path(env.get("CB_RETURNS_DIR", "./data/returns")),
            secure_cookies=env.get(INSECURE_ENV, "") not in ("1", "true", "yes"),
            signin_limit=limit,
            signin_window=window,
        )


@dataclass
class Session:
    csrf: str
    user: str | None = None
    expires: float = field(default_factory=lambda: time.time() + SESSION_SECONDS)


class SignInLimiter:
    """Failed sign-ins in a sliding window, counted per client address and per user name."""

    def __init__(self, limit: int, window: int):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        now = time.time()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in keys)

    def fail(self, *keys: str) -> None:
        now = time.time()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeed(self, user_key: str) -> None:
        with self._lock:
            self._failures.pop(user_key, None)


TEMPLATES = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, loader=jinja2.DictLoader({
    "base.html": """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}BCF returns portal{% endblock %}</title>
<style>
body { font-family: Arial, Helvetica, sans-serif; color: #212b32; margin: 0; }
header { background: #005eb8; color: #fff; padding: 12px 24px; display: flex; justify-content: space-between; align-items: center; }
header form { margin: 0; } main { padding: 16px 24px; }
table { border-collapse: collapse; } th, td { border: 1px solid #aeb7bd; padding: 4px 8px; text-align: left; }
code { font-size: 0.85em; word-break: break-all; } .error { color: #d5281b; font-weight: bold; }
label { display: block; margin-top: 8px; } button { margin-top: 12px; }
</style></head>
<body><header><strong>Better Care Fund returns portal</strong>
{% if user %}<form method="post" action="/signout"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<span>Signed in as {{ user }}</span> <button type="submit" id="signout">Sign out</button></form>{% endif %}
</header><main>{% block main %}{% endblock %}</main></body></html>""",
    "signin.html": """{% extends "base.html" %}{% block title %}Sign in - BCF returns portal{% endblock %}
{% block main %}<h1>Sign in</h1>
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<form method="post" action="/signin" id="signin-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="signin">Sign in</button></form>{% endblock %}""",
    "files.html": """{% extends "base.html" %}{% block main %}<h1>Your returns and dashboards</h1>
<p>HWBs you can see: <span id="hwbs">{{ hwbs | join(', ') }}</span>. Newest first. Check a download
against its SHA-256 (e.g. <code>sha256sum FILE</code>).</p>
{% if entries %}<table id="files"><thead><tr><th>HWB</th><th>Quarter</th><th>What</th><th>Generated at (UTC)</th>
<th>Completeness</th><th>SHA-256</th><th>File</th></tr></thead><tbody>
{% for e in entries %}<tr data-id="{{ e.id }}" data-hwb="{{ e.hwb_code }}" data-kind="{{ e.kind }}">
<td>{{ e.hwb_code }}</td><td>{{ e.quarter.label }}</td><td>{{ e.kind_label }}</td>
<td>{{ e.generated_at.strftime('%Y-%m-%d %H:%M:%S') }}</td>
<td>{% if e.complete %}Complete{% else %}Incomplete ({{ e.missing_count }} item{{ 's' if e.missing_count != 1 }} missing){% endif %}</td>
<td><code class="sha256">{{ e.sha256 }}</code></td>
<td><a class="download" href="/files/{{ e.id }}">{{ e.file_name }}</a>{% if e.kind == 'dashboard_html' %}
 &middot; <a class="view" href="/view/{{ e.id }}">open</a>{% endif %}</td></tr>
{% endfor %}</tbody></table>{% else %}<p id="none">No returns or dashboards are registered for your HWBs yet.</p>{% endif %}
{% endblock %}""",
    "message.html": """{% extends "base.html" %}{% block main %}<h1>{{ heading }}</h1><p id="message">{{ message }}</p>
<p><a href="/files">Back to your files</a></p>{% endblock %}""",
}))


def _headers(csp: str = PAGE_CSP) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def create_app(settings: PortalSettings) -> Starlette:
    signer = itsdangerous.Signer(settings.secret, salt="cb-portal-session")
    sessions: dict[str, Session] = {}
    limiter = SignInLimiter(settings.signin_limit, settings.signin_window)
    returns_root = settings.returns_dir.resolve()

    def current(request: Request) -> tuple[str | None, Session | None]:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None, None
        try:
            sid = signer.unsign(raw).decode()
        except itsdangerous.BadSignature:
            return None, None
        session = sessions.get(sid)
        if session is None or session.expires < time.time():
            sessions.pop(sid, None)
            return None, None
        return sid, session

    def new_session(user: str | None = None) -> tuple[str, Session]:
        now = time.time()
        for sid in [s for s, v in sessions.items() if v.expires < now]:
            sessions.pop(sid, None)
        sid = secrets.token_urlsafe(32)
        sessions[sid] = Session(csrf=secrets.token_urlsafe(32), user=user)
        return sid, sessions[sid]

    def set_cookie(response: Response, sid: str) -> None:
        response.set_cookie(COOKIE, signer.sign(sid).decode(), max_age=SESSION_SECONDS, path="/", httponly=True,
                            samesite="strict", secure=settings.secure_cookies)

    def page(name: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("user", None)
        context.setdefault("csrf", "")
        context.setdefault("error", "")
        return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status, headers=_headers())

    def signed_in_user(request: Request):
        """(session, user) of a signed-in user still in the users file, else (None, None)."""
        _, session = current(request)
        if session is None or session.user is None:
            return None, None
        user = users_module.load_users(settings.users_file).get(session.user)
        return (session, user) if user is not None else (None, None)

    def to_signin() -> RedirectResponse:
        return RedirectResponse("/signin", status_code=303, headers=_headers())

    def client(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def csrf_ok(request: Request, session: Session | None) -> tuple[bool, dict]:
        form = await request.form()
        token = str(form.get("csrf_token") or "")
        ok = session is not None and bool(token) and hmac.compare_digest(token, session.csrf)
        return ok, {k: str(v) for k, v in form.items()}

    async def home(request: Request):
        session, user = signed_in_user(request)
        return RedirectResponse("/files" if user else "/signin", status_code=303, headers=_headers())

    async def signin_form(request: Request):
        sid, session = current(request)
        if session is not None and session.user:
            return RedirectResponse("/files", status_code=303, headers=_headers())
        if session is None:
            sid, session = new_session()
        response = page("signin.html", csrf=session.csrf)
        set_cookie(response, sid)
        return response

    async def signin(request: Request):
        sid, session = current(request)
        ok, form = await csrf_ok(request, session)
        if not ok:
            log.warning("sign-in refused: missing or forged CSRF token from %s", client(request))
            return page("message.html", 403, heading="Request refused",
                        message="The form's security token is missing or does not match. Reload the sign-in page and try again.")
        name = form.get("username", "").strip()
        keys = (f"client:{client(request)}", f"user:{name.lower()}")
        if limiter.blocked(*keys):
            log.warning("sign-in rate limit reached for %s / %s", client(request), name)
            response = page("signin.html", 429, csrf=session.csrf,
                            error="Too many failed sign-in attempts. Wait a few minutes and try again.")
            response.headers["Retry-After"] = str(settings.signin_window)
            return response
        users = await run_in_threadpool(users_module.load_users, settings.users_file)
        user = users.get(name)
        if not await run_in_threadpool(users_module.verify, user, form.get("password", "")):
            limiter.fail(*keys)
            log.info("failed sign-in for %r from %s", name, client(request))
            return page("signin.html", 401, csrf=session.csrf, error="Wrong user name or password.")
        limiter.succeed(keys[1])
        sessions.pop(sid, None)  # a new session id on sign-in (no fixation)
        sid, session = new_session(user.name)
        log.info("signed in: %s from %s", user.name, client(request))
        response = RedirectResponse("/files", status_code=303, headers=_headers())
        set_cookie(response, sid)
        return response

    async def signout(request: Request):
        sid, session = current(request)
        ok, _ = await csrf_ok(request, session)
        if not ok:
            return page("message.html", 403, heading="Request refused",
                        message="The form's security token is missing or does not match.")
        sessions.pop(sid, None)
        response = RedirectResponse("/signin", status_code=303, headers=_headers())
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=settings.secure_cookies)
        return response

    async def files(request: Request):
        session, user = signed_in_user(request)
        if user is None:
            return to_signin()
        entries = await run_in_threadpool(store.list_files, settings.warehouse_url, user.hwbs)
        return page("files.html", user=user.name, csrf=session.csrf, hwbs=user.hwbs, entries=entries)

    def refuse(status: int, heading: str, message: str, session: Session, user) -> HTMLResponse:
        return page("message.html", status, heading=heading, message=message, user=user.name, csrf=session.csrf)

    async def serve(request: Request, inline: bool):
        session, user = signed_in_user(request)
        if user is None:
            return to_signin()
        raw_id = request.path_params["file_id"]
        who = {"username": user.name, "client": client(request)}
        not_found = ("No such file", "There is no file with that id among your HWBs' returns and dashboards.")
        if not REGISTRY_ID.match(raw_id):
            await run_in_threadpool(store.record, settings.warehouse_url, outcome="not_found",
                                    registry_id=raw_id[:64], **who)
            return refuse(404, *not_found, session, user)
        entry = await run_in_threadpool(store.get_entry, settings.warehouse_url, raw_id)
        if entry is None or entry.hwb_code not in user.hwbs or (inline and entry.kind != "dashboard_html"):
            outcome = "not_found" if entry is None else "denied"
            if entry is not None and entry.hwb_code not in user.hwbs:
                log.warning("%s asked for %s of %s, not one of their HWBs", user.name, raw_id, entry.hwb_code)
            await run_in_threadpool(store.record, settings.warehouse_url, outcome=outcome, registry_id=raw_id,
                                    entry=entry if outcome == "denied" else None, **who)
            return refuse(404, *not_found, session, user)
        if not entry.current:
            await run_in_threadpool(store.record, settings.warehouse_url, outcome="refused_superseded", entry=entry, **who)
            return refuse(410, "Superseded", "A later version of this file has been registered; download that one.",
                          session, user)
        path = Path(entry.path)
        try:
            resolved = path.resolve(strict=True)
            if not resolved.is_relative_to(returns_root) or not resolved.is_file():
                raise FileNotFoundError(entry.path)
            data = await run_in_threadpool(resolved.read_bytes)
        except OSError:
            log.error("registered file %s (%s) is missing or outside %s", entry.id, entry.file_name, returns_root)
            await run_in_threadpool(store.record, settings.warehouse_url, outcome="refused_missing", entry=entry, **who)
            return refuse(410, "File not available", "The registered file is no longer available. The refusal has "
                          "been recorded; ask the pipeline team to re-run the return.", session, user)
        digest = hashlib.sha256(data).hexdigest()
        if not hmac.compare_digest(digest, entry.sha256):
            log.error("SHA-256 mismatch for %s (%s): registered %s, found %s; not served",
                      entry.id, entry.file_name, entry.sha256, digest)
            await run_in_threadpool(store.record, settings.warehouse_url, outcome="refused_checksum", entry=entry,
                                    sha256=digest, **who)
            return refuse(409, "File refused: checksum mismatch",
                          f"{entry.file_name} no longer matches its registered SHA-256, so it was not served. "
                          "The refusal has been recorded and reported.", session, user)
        await run_in_threadpool(store.record, settings.warehouse_url, outcome="viewed" if inline else "served",
                                entry=entry, sha256=digest, **who)
        headers = _headers(DASHBOARD_CSP if inline else PAGE_CSP)
        headers["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{entry.file_name}"'
        headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:"
        media = CONTENT_TYPES.get(Path(entry.file_name).suffix.lower(), "application/octet-stream")
        return Response(data, media_type=media, headers=headers)

    async def download(request: Request):
        return await serve(request, inline=False)

    async def view(request: Request):
        return await serve(request, inline=True)

    async def healthz(request: Request):
        return PlainTextResponse("ok", headers=_headers())

    store.ensure_audit(settings.warehouse_url)
    app = Starlette(routes=[
        Route("/", home),
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/files", files),
        Route("/files/{file_id}", download),
        Route("/view/{file_id}", view),
        Route("/healthz", healthz),
    ])
    app.state.settings = settings
    return app
