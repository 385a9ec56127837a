"""Audit log and retention: a hash-chained append-only record of actions, and personal-data anonymisation.

Pure logic, but for `keys.py` (the site's key file); storage and `gatehouse audit verify` sit on top.
"""

from security.office.audit.chain import (
    EMPTY,
    GENESIS,
    AuditError,
    AuditRecord,
    ChainHead,
    SealedRecord,
    UnreadableDetails,
    append,
    append_all,
    canonical_bytes,
    compute_hash,
    has_valid_hash,
    rfc3339,
    stored_details,
)
from security.office.audit.retention import (
    DEFAULT_PERSONAL,
    Anonymisation,
    RetentionPlan,
    RetentionPolicy,
    Treatment,
    anonymise_records,
    plan_retention,
    pseudonym,
)
from security.office.audit.verify import Problem, ProblemKind, VerifyReport, verify

__all__ = [
    "DEFAULT_PERSONAL",
    "EMPTY",
    "GENESIS",
    "Anonymisation",
    "AuditError",
    "AuditRecord",
    "ChainHead",
    "Problem",
    "ProblemKind",
    "RetentionPlan",
    "RetentionPolicy",
    "SealedRecord",
    "Treatment",
    "UnreadableDetails",
    "VerifyReport",
    "anonymise_records",
    "append",
    "append_all",
    "canonical_bytes",
    "compute_hash",
    "has_valid_hash",
    "plan_retention",
    "pseudonym",
    "rfc3339",
    "stored_details",
    "verify",
]
