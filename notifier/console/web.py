"""Rendering a console page: the templates (templates/_console/), the words in the staff
member's language, the CSRF token every form carries, and the headers every page sends."""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape

from notifier.console.i18n import TEXTS, translator
from notifier.rendering import ru_date, ru_plural
from notifier.signin import SignedIn, csrf_token
from notifier.template_set import ResourceLoader, templates_root

SESSION_COOKIE = "notifier_session"
ANON_COOKIE = "notifier_csrf"  # the double-submitted token of forms shown before sign-in

# Scripts and styles come from our own static files only; nothing may frame the pages; no page
# tells another site where it came from (a sign-in link is in the address while it is open).
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=ResourceLoader(templates_root()),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(ru_date=ru_date, ru_plural=ru_plural, texts=TEXTS)
    return env


def user_of(request: Request) -> SignedIn | None:
    user: SignedIn | None = getattr(request.state, "user", None)
    return user


def form_token(request: Request) -> str:
    """The CSRF token for this page's forms: from the session, or before sign-in the
    double-submitted one (set on the response by `render`)."""
    session = request.cookies.get(SESSION_COOKIE)
    if user_of(request) is not None and session:
        return csrf_token(session)
    token: str | None = getattr(request.state, "anon_csrf", None)
    if token is None:
        token = request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24)
        request.state.anon_csrf = token
    return token


def locale_of(request: Request) -> str:
    user = user_of(request)
    if user is not None:
        return user.locale
    # Before sign-in: the browser's first choice, if it is English; Russian otherwise.
    accept = request.headers.get("accept-language", "")
    return "en" if accept[:2].lower() == "en" else "ru"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    title: str | None = None,
) -> HTMLResponse:
    """A full page, or (for htmx asking for a fragment) the template as it is."""
    locale = locale_of(request)
    base = request.scope.get("root_path", "")
    page = {
        "request": request,
        "user": user_of(request),
        "t": translator(locale),
        "lang": "en" if locale.split("-")[0] == "en" else "ru",
        "csrf": form_token(request),
        "base": base,
        "title": title,
        **(context or {}),
    }
    body = environment().get_template(f"_console/{template}").render(page)
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    anon = getattr(request.state, "anon_csrf", None)
    if anon is not None and request.cookies.get(ANON_COOKIE) != anon:
        response.set_cookie(
            ANON_COOKIE, anon, httponly=True, samesite="lax", secure=secure(request), path=base
        )
    return response


def secure(request: Request) -> bool:
    """Cookies are Secure when the public address is https (SPEC §8)."""
    public: str = request.app.state.runtime.settings.public_url
    return public.startswith("https://")
