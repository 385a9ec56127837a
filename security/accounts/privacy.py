"""Who may look up, export and erase a visitor's personal data, and the desk that does it, audited.

The rules are the accounts' table (`roles.py`): exporting a visitor's whole record takes the
`export` grant and a role that sees every visit's personal data (a manager: an auditor's export
never widens what it may view); erasing takes the `delete` grant, which only managers may hold.
Looking a visitor up by name or e-mail address is for those two jobs only. The command line and
the console pass the `Account` acting; the desk refuses, or acts and audits under its name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from security.accounts.roles import ROLES, Account, Permission, Scope
from security.office.privacy import PrivacyError, VisitorRecord, record_json
from security.storage import privacy as store
from security.storage.people import Change

log = logging.getLogger(__name__)


class NotAllowedError(PrivacyError):
    """The account may not do this with a visitor's data; the text says what it lacks."""


def may_export_visitor(account: Account) -> bool:
    """Whether `account` may export a visitor's whole record (the `export` grant, all personal data)."""
    return (account.may(Permission.EXPORT) and account.may(Permission.VIEW_PERSONAL_DATA)
            and ROLES[account.role].personal is Scope.ALL)


def may_erase_visitor(account: Account) -> bool:
    """Whether `account` may erase a visitor's personal data (the `delete` grant)."""
    return account.may(Permission.DELETE)


def may_find_visitor(account: Account) -> bool:
    """Whether `account` may look a visitor up by name or e-mail address (to export or erase)."""
    return may_export_visitor(account) or may_erase_visitor(account)


class PrivacyDesk:
    """Find, export and erase a visitor's data on one store, for an account that may."""

    def __init__(self, engine: Engine, *, site: str, audit_key: bytes | None) -> None:
        """Work on `engine` for `site`, sealing audit records with `audit_key`."""
        self._engine = engine
        self.site = site
        self._key = audit_key

    def _change(self, account: Account, now: datetime) -> Change:
        return Change(f"user:{account.name}", now, self._key)

    def find(self, account: Account, *, visit_id: str | None = None, email: str | None = None,
             name: str | None = None) -> list[store.VisitMatch]:
        """A visitor's visits by visit id, e-mail address or exact name (any case); NotAllowedError if not."""
        if not may_find_visitor(account):
            raise NotAllowedError(f"{account.name} ({account.role}) may not look visitors up: that takes "
                                  "the export or delete grant")
        return store.find_visits(self._engine, visit_id=visit_id, email=email, name=name)

    def export(self, account: Account, visit_ids: Sequence[str], now: datetime) -> VisitorRecord:
        """Everything stored about these visits, the export audited under `account`'s name."""
        if not may_export_visitor(account):
            raise NotAllowedError(f"{account.name} ({account.role}) may not export a visitor's record: that "
                                  "takes a manager's account with the export grant")
        record = store.visitor_record(self._engine, visit_ids)
        seq = store.audit_export(self._engine, record, self._change(account, now))
        log.info("%s exported the record of %d visit(s) (audit record %d)", account.name,
                 len(record.visit_ids), seq)
        return record

    def export_json(self, account: Account, visit_ids: Sequence[str], now: datetime) -> bytes:
        """`export` as the JSON document a visitor is given (`record_json`)."""
        return record_json(self.export(account, visit_ids, now), site=self.site, generated_at=now)

    def erase(self, account: Account, visit_ids: Sequence[str], reason: str, now: datetime) -> store.Erasure:
        """Erase the visitor's personal data from these visits under `account`'s name (`erase_visitor`)."""
        if not may_erase_visitor(account):
            raise NotAllowedError(f"{account.name} ({account.role}) may not erase a visitor's data: that "
                                  "takes a manager's account with the delete grant")
        return store.erase_visitor(self._engine, visit_ids, self._change(account, now), reason)
