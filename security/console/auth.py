"""Who is asking: sessions in HttpOnly SameSite cookies, CSRF on every form, the login and logout pages."""

# No `from __future__ import annotations` here: FastAPI evaluates the routes' annotations, which name
# dependencies local to the function declaring the routes.

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from security.accounts.login import LoginDesk, Refusal, Refused, Session
from security.accounts.roles import Account, Permission
from security.accounts.sessions import clear_cookie, cookie_name, set_cookie
from security.console.i18n import LANGUAGES, N_, translator
from security.console.render import HEADERS, LANG_COOKIE, language, render

LOGIN_COOKIE = "gatehouse_login"
REFUSALS = {
    Refusal.BAD_CREDENTIALS: N_("Wrong name or password."),
    Refusal.DISABLED: N_("This account is disabled: ask an administrator."),
    Refusal.THROTTLED: N_("Too many failed attempts: wait a minute and try again."),
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person behind a request: their live session (account, CSRF token) and its cookie's token."""

    session: Session
    token: str

    @property
    def account(self) -> Account:
        """The session's account."""
        return self.session.account

    @property
    def csrf(self) -> str:
        """The CSRF token every form of this session carries."""
        return self.session.csrf_token

    @property
    def name(self) -> str:
        """The account's name."""
        return self.account.name

    @property
    def role(self) -> str:
        """The account's role."""
        return self.account.role.value


class RefusedError(Exception):
    """A page the viewer may not see, or a form that cannot be taken: an HTML answer saying why."""

    def __init__(self, status: int, message: str, viewer: Viewer | None = None) -> None:
        """The status and the (English, translated when shown) message."""
        super().__init__(message)
        self.status, self.message, self.viewer = status, message, viewer


class LoginNeededError(Exception):
    """No live session: a page answers with the login form (a redirect), a fragment with 401."""

    def __init__(self, path: str) -> None:
        """Remember where the person was going."""
        super().__init__(path)
        self.path = path


class LoginForm(BaseModel):
    """The login form's fields."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    csrf: str = Field(default="", max_length=128)
    next: str = Field(default="/console/", max_length=512)
    lang: str = Field(default="", max_length=8)


def safe_next(target: str) -> str:
    """Only a path of the console itself: never an open redirect to another site."""
    parts = urlsplit(target)
    ok = not parts.scheme and not parts.netloc and target.startswith("/console/") and "\\" not in target
    return target if ok else "/console/"


class Guards:
    """FastAPI dependencies: the viewer of a request, a permission they need, a form's CSRF token."""

    def __init__(self, desk: LoginDesk, clock: Callable[[], datetime]) -> None:
        """Guards over the sessions of `desk`."""

        def viewer(request: Request) -> Viewer:
            token = session_token(request)
            found = desk.session(token, clock()) if token else None
            if found is None:
                raise LoginNeededError(request.url.path)
            return Viewer(found, token)

        def posted(who: Annotated[Viewer, Depends(viewer)],
                   csrf: Annotated[str, Form(max_length=128)] = "") -> Viewer:
            if not hmac.compare_digest(csrf.encode(), who.csrf.encode()):
                raise RefusedError(403, N_("The form was out of date: reload the page and try again."), who)
            return who

        self.viewer: Callable[[Request], Viewer] = viewer
        """The request's viewer; LoginNeededError without a live session."""
        self.posted: Callable[..., Viewer] = posted
        """A form's viewer, refused (403) unless the form carries their session's CSRF token."""

    def needs(self, permission: Permission) -> Callable[..., Viewer]:
        """A dependency: the viewer, refused (403) without `permission`."""
        def check(who: Annotated[Viewer, Depends(self.viewer)]) -> Viewer:
            if not who.account.may(permission):
                raise RefusedError(403, N_("Your role may not see this page."), who)
            return who
        return check


def session_token(request: Request) -> str:
    """The session cookie's token (the `__Host-` one over HTTPS), or ''."""
    return request.cookies.get(cookie_name(secure=request.url.scheme == "https"), "")


def login_routes(router: APIRouter, desk: LoginDesk, clock: Callable[[], datetime]) -> None:
    """GET/POST /login and POST /logout on `router`."""

    def form(request: Request, status: int, *, csrf: str, target: str, name: str,
             message: str) -> HTMLResponse:
        text = translator(language(request)).gettext(message) if message else ""
        return render(request, "login.html", status, title="Log in", csrf=csrf, next=safe_next(target),
                      name=name, message=text)

    @router.get("/login")
    def login_form(request: Request, next: str = "/console/") -> HTMLResponse:
        csrf = secrets.token_urlsafe(24)
        page = form(request, 200, csrf=csrf, target=next, name="", message="")
        page.set_cookie(LOGIN_COOKIE, csrf, httponly=True, samesite="strict", path="/console/login",
                        secure=request.url.scheme == "https", max_age=3600)
        return page

    @router.post("/login")
    def login(request: Request, posted: Annotated[LoginForm, Form()]) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        name, next, lang = posted.name, posted.next, posted.lang
        if not expected or not hmac.compare_digest(posted.csrf.encode(), expected.encode()):
            fresh = secrets.token_urlsafe(24)
            page = form(request, 400, csrf=fresh, target=next, name=name,
                        message=N_("The form was out of date: try again."))
            page.set_cookie(LOGIN_COOKIE, fresh, httponly=True, samesite="strict", path="/console/login",
                            secure=request.url.scheme == "https", max_age=3600)
            return page
        source = request.client.host if request.client else "unknown"
        result = desk.authenticate(name, posted.password, clock(), source)
        if isinstance(result, Refused) or result.token is None:
            reason = result.reason if isinstance(result, Refused) else Refusal.BAD_CREDENTIALS
            return form(request, 429 if reason is Refusal.THROTTLED else 401, csrf=expected, target=next,
                        name=name, message=REFUSALS[reason])
        secure = request.url.scheme == "https"
        response = RedirectResponse(safe_next(next), status_code=303, headers=HEADERS)
        response.headers.append("set-cookie", set_cookie(result.token, secure=secure))
        response.delete_cookie(LOGIN_COOKIE, path="/console/login")
        if lang in dict(LANGUAGES):
            response.set_cookie(LANG_COOKIE, lang, samesite="strict", path="/console", secure=secure,
                                max_age=400 * 24 * 3600)
        return response

    guards = Guards(desk, clock)

    @router.post("/logout")
    def logout(request: Request, who: Annotated[Viewer, Depends(guards.posted)]) -> Response:
        desk.logout(who.token, clock())
        response = RedirectResponse("/console/login", status_code=303, headers=HEADERS)
        response.headers.append("set-cookie", clear_cookie(secure=request.url.scheme == "https"))
        return response
