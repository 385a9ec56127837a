"""Shared helpers of the camera tests: a recording emitter and precision/recall."""

from __future__ import annotations

from collections.abc import Collection


def precision_recall(predicted: Collection[int], truth: Collection[int]) -> tuple[float, float]:
    """Per-frame precision and recall; an empty prediction has precision 1, an empty truth recall 1."""
    hits = len(set(predicted) & set(truth))
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall
