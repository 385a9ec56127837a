"""docs/contract.md shows every event type with an example that is current."""

from __future__ import annotations

from pathlib import Path

from broker.contract_doc import render, splice
from broker.schemas import SCHEMAS

DOC = Path(__file__).resolve().parent.parent / "docs" / "contract.md"


def test_contract_doc_is_current() -> None:
    text = DOC.read_text()
    assert splice(text) == text, "run: python -m broker.contract_doc --write"
    for event_type in SCHEMAS:
        assert f"### `{event_type}`" in text
    assert render() in text
