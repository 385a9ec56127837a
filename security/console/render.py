"""Pages rendered from the package's Jinja templates, in the viewer's language, with strict headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from security.accounts.privacy import may_erase_visitor, may_export_visitor
from security.accounts.roles import Account, Permission
from security.console.i18n import LANGUAGES, N_, negotiate, translator

if TYPE_CHECKING:
    from security.console.auth import Viewer

LANG_COOKIE = "gatehouse_lang"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Every page: nothing from elsewhere, no framing, no caching of personal data."""
def _may(permission: Permission) -> Callable[[Account], bool]:
    return lambda account: account.may(permission)


NAV: tuple[tuple[str, str, Callable[[Account], bool]], ...] = (
    ("/console/", N_("Today"), _may(Permission.VIEW_VISITS)),
    ("/console/visits", N_("Visits"), _may(Permission.VIEW_VISITS)),
    ("/console/invitations", N_("Invitations"), _may(Permission.MANAGE_VISITS)),
    ("/console/people", N_("People"), _may(Permission.VIEW_PEOPLE)),
    ("/console/watchlist", N_("Watchlist"), _may(Permission.VIEW_WATCHLIST)),
    ("/console/alarms", N_("Alarms"), _may(Permission.VIEW_ALARMS)),
    ("/console/incidents", N_("Incidents"), _may(Permission.VIEW_INCIDENTS)),
    ("/console/devices", N_("Devices"), _may(Permission.VIEW_EVENTS)),
    ("/console/privacy", N_("Privacy"), lambda a: may_export_visitor(a) or may_erase_visitor(a)),
    ("/console/audit", N_("Audit"), _may(Permission.VIEW_AUDIT)),
)
"""The pages in the top bar, each shown only to those who may open it."""
SHOWN_VALUES = (
    N_("host"), N_("reception"), N_("guard"), N_("manager"), N_("auditor"), N_("admin"),
    N_("critical"), N_("high"), N_("medium"), N_("low"),
    N_("unacknowledged"), N_("acknowledged"), N_("shelved"), N_("resolved"),
    N_("employee"), N_("visitor"), N_("expected"), N_("arrived"), N_("cancelled"),
    N_("online"), N_("offline"), N_("unknown"),
    N_("checked_in"),
    N_("opened"), N_("alarm"), N_("event"), N_("snapshot"), N_("note"), N_("closed"), N_("open"),
)
"""Values from the records that pages show translated (roles, priorities, states, kinds)."""

_env = Environment(loader=PackageLoader("security.console", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


def language(request: Request) -> str:
    """The language of this request: the one chosen at login, else the browser's."""
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def render(request: Request, template: str, status: int = 200, viewer: Viewer | None = None,
           **values: Any) -> HTMLResponse:
    """A page in the viewer's language with the console's security headers."""
    lang = language(request)
    nav = [(href, label) for href, label, shown in NAV if viewer is not None and shown(viewer.account)]
    html = _env.get_template(template).render(
        _=translator(lang).gettext, lang=lang, viewer=viewer, nav=nav, here=request.url.path,
        languages=LANGUAGES, **values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
