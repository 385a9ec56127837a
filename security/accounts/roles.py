"""Who may do what: the six roles of people's accounts, their permissions and their grants (pure).

Every account has one role and at most two extra grants, `export` and `delete`. The role decides
what the account sees and does; a grant adds one sensitive power that not everyone in the role
should hold. The whole policy is the table `ROLES` below, read as data:

| role      | sees                            | does                           | visits | details | grants |
|-----------|---------------------------------|--------------------------------|--------|---------|--------|
| host      | the visits they host            | invites, cancels own visits    | own    | own     | -      |
| reception | visits, directory, watchlist    | invites, checks in and out     | all    | today   | -      |
| guard     | today's visits, on site, alarms | alarms, incidents, doors       | today  | none    | -      |
| manager   | all but accounts and settings   | people, badges, rights, lists  | all    | all     | e, d   |
| auditor   | all read-only, the audit trail  | nothing (verifies the trail)   | all    | none    | e      |
| admin     | the audit trail (logins...)     | accounts, API tokens, settings | none   | none    | -      |

(details: a visitor's personal record; e: `export`, d: `delete`.)

Why so:
- A visitor's personal record (full name, company, e-mail, signature, photo) is shown only where
  the job needs it: the host, for their own guests; reception, for the people at the desk today;
  managers, who answer for the site. Guards see today's visits (the console masks the names), but
  the muster list (`view_onsite`) names everyone on site in full: in an evacuation that is the need.
- Auditors read everything that is not personal (they review what happened and who did it, and
  verify the chain) but change nothing; admins run accounts and settings but see no visitor data:
  the person who can create accounts cannot read the records those accounts protect.
- `export` (download records as a file) never widens what the holder may view: an auditor with it
  exports the audit trail and masked visits, a manager full records. `delete` (erase a person's
  record before retention does, on their request) goes only to managers, the only role that can
  see what it erases. Accounts themselves are disabled, never deleted: the audit trail names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Role(StrEnum):
    """The job a person's account is for."""

    HOST = "host"
    RECEPTION = "reception"
    GUARD = "guard"
    MANAGER = "manager"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Grant(StrEnum):
    """A sensitive power given to one account on top of its role."""

    EXPORT = "export"
    DELETE = "delete"


class Permission(StrEnum):
    """One thing an account may see or do."""

    VIEW_VISITS = "view_visits"
    """Visit lists (expected, on site, past), visitors' names masked unless personal data is allowed."""
    MANAGE_VISITS = "manage_visits"
    """Invite, cancel, check visitors in and out by hand."""
    VIEW_PERSONAL_DATA = "view_personal_data"
    """A visitor's full record, for the visits the role's personal scope covers."""
    VIEW_ONSITE = "view_onsite"
    """Who is on site now, in full (the muster list)."""
    VIEW_WATCHLIST = "view_watchlist"
    MANAGE_WATCHLIST = "manage_watchlist"
    VIEW_PEOPLE = "view_people"
    """The directory of employees, their badges, door groups and rights."""
    MANAGE_PEOPLE = "manage_people"
    VIEW_ALARMS = "view_alarms"
    HANDLE_ALARMS = "handle_alarms"
    """Acknowledge, shelve and resolve alarms."""
    VIEW_INCIDENTS = "view_incidents"
    MANAGE_INCIDENTS = "manage_incidents"
    """Open incidents, add notes and attachments."""
    CLOSE_INCIDENTS = "close_incidents"
    DOOR_CONTROL = "door_control"
    """Ask the service to unlock a door."""
    VIEW_EVENTS = "view_events"
    """The raw event log."""
    VIEW_AUDIT = "view_audit"
    VERIFY_AUDIT = "verify_audit"
    MANAGE_USERS = "manage_users"
    MANAGE_TOKENS = "manage_tokens"
    """The bearer tokens of machines (kiosks, scripts)."""
    MANAGE_SETTINGS = "manage_settings"
    EXPORT = "export"
    """Download what the account may view as a file; only through the `export` grant."""
    DELETE = "delete"
    """Erase a person's record before retention does; only through the `delete` grant."""


class Scope(StrEnum):
    """Which visits a role's visit lists, or its view of personal data, cover."""

    NONE = "none"
    OWN = "own"
    """Visits whose host is the account's own person."""
    TODAY = "today"
    """Visits expected or checked in today, and visitors still on site."""
    ALL = "all"


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """One row of the policy: a role's permissions, its two scopes and the grants it may hold."""

    permissions: frozenset[Permission]
    visits: Scope
    personal: Scope
    grantable: frozenset[Grant]


P = Permission
_GRANTED = frozenset({P.EXPORT, P.DELETE})
_ACCOUNTS = frozenset({P.MANAGE_USERS, P.MANAGE_TOKENS, P.MANAGE_SETTINGS})
_READ_ONLY = frozenset({P.VIEW_VISITS, P.VIEW_WATCHLIST, P.VIEW_PEOPLE, P.VIEW_ALARMS, P.VIEW_INCIDENTS,
                        P.VIEW_EVENTS, P.VIEW_AUDIT, P.VERIFY_AUDIT})

ROLES: dict[Role, RoleSpec] = {
    Role.HOST: RoleSpec(frozenset({P.VIEW_VISITS, P.MANAGE_VISITS, P.VIEW_PERSONAL_DATA}),
                        Scope.OWN, Scope.OWN, frozenset()),
    Role.RECEPTION: RoleSpec(frozenset({P.VIEW_VISITS, P.MANAGE_VISITS, P.VIEW_PERSONAL_DATA, P.VIEW_ONSITE,
                                        P.VIEW_WATCHLIST, P.VIEW_PEOPLE}),
                             Scope.ALL, Scope.TODAY, frozenset()),
    Role.GUARD: RoleSpec(frozenset({P.VIEW_VISITS, P.VIEW_ONSITE, P.VIEW_WATCHLIST, P.VIEW_PEOPLE,
                                    P.VIEW_ALARMS, P.HANDLE_ALARMS, P.VIEW_INCIDENTS, P.MANAGE_INCIDENTS,
                                    P.DOOR_CONTROL, P.VIEW_EVENTS}),
                         Scope.TODAY, Scope.NONE, frozenset()),
    Role.MANAGER: RoleSpec(frozenset(Permission) - _ACCOUNTS - _GRANTED,
                           Scope.ALL, Scope.ALL, frozenset(Grant)),
    Role.AUDITOR: RoleSpec(_READ_ONLY, Scope.ALL, Scope.NONE, frozenset({Grant.EXPORT})),
    Role.ADMIN: RoleSpec(_ACCOUNTS | {P.VIEW_AUDIT, P.VERIFY_AUDIT}, Scope.NONE, Scope.NONE, frozenset()),
}
"""The policy, one row per role (see the module's docstring for the why)."""

_BY_GRANT = {Grant.EXPORT: P.EXPORT, Grant.DELETE: P.DELETE}


class RoleError(ValueError):
    """An unknown role or grant, or a grant the role may not hold; the text says which."""


def parse_role(text: str) -> Role:
    """The role named `text`; RoleError listing the roles when there is none."""
    try:
        return Role(text)
    except ValueError:
        raise RoleError(f"role must be one of {', '.join(Role)}, got {text!r}") from None


def parse_grants(role: Role, texts: Iterable[str]) -> frozenset[Grant]:
    """The grants named in `texts`, checked against what `role` may hold."""
    grants: set[Grant] = set()
    for text in texts:
        try:
            grants.add(Grant(text))
        except ValueError:
            raise RoleError(f"a grant is one of {', '.join(Grant)}, got {text!r}") from None
    refused = grants - ROLES[role].grantable
    if refused:
        allowed = ", ".join(sorted(ROLES[role].grantable)) or "none"
        raise RoleError(f"the {role} role may not hold {', '.join(sorted(refused))} (it may hold: {allowed})")
    return frozenset(grants)


@dataclass(frozen=True, slots=True)
class Visit:
    """What scopes look at in a visit: its host, its date (in the site's zone), whether the visitor is in."""

    host_id: str | None
    day: date | None
    on_site: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    """A person's account as the rules see it: name, role, grants and the directory person it is."""

    name: str
    role: Role
    grants: frozenset[Grant] = frozenset()
    person_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse a grant the role may not hold."""
        parse_grants(self.role, self.grants)

    @property
    def permissions(self) -> frozenset[Permission]:
        """Everything this account may do: its role's permissions and those of its grants."""
        return ROLES[self.role].permissions | {_BY_GRANT[g] for g in self.grants}

    def may(self, permission: Permission) -> bool:
        """Whether this account holds `permission`."""
        return permission in self.permissions

    def sees_visit(self, visit: Visit, today: date) -> bool:
        """Whether `visit` appears in this account's visit lists (names masked or not)."""
        return self.may(P.VIEW_VISITS) and covers(ROLES[self.role].visits, self, visit, today)

    def sees_personal_data(self, visit: Visit, today: date) -> bool:
        """Whether this account may see the full personal record of `visit`'s visitor."""
        return self.may(P.VIEW_PERSONAL_DATA) and covers(ROLES[self.role].personal, self, visit, today)


def covers(scope: Scope, account: Account, visit: Visit, today: date) -> bool:
    """Whether `scope`, held by `account`, covers `visit` on the site's date `today`."""
    if scope is Scope.ALL:
        return True
    if scope is Scope.TODAY:
        return visit.on_site or visit.day == today
    if scope is Scope.OWN:
        return account.person_id is not None and visit.host_id == account.person_id
    return False
