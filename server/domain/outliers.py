"""Outliers against peer units with the modified z-score (Iglewicz and Hoaglin), as DHIS2 does.

M = 0.6745 * (x - median) / MAD, where MAD is the median absolute deviation. |M| > 3.5 is an
outlier. Robust: one absurd value cannot hide itself by inflating the spread, as it would
with a plain z-score.
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import median

THRESHOLD = 3.5
_K = 0.6745


def modified_z_scores(values: Mapping[str, float]) -> dict[str, float | None]:
    """Score of each value among its peers; None for all when the spread is zero or n < 3."""
    if len(values) < 3:
        return {key: None for key in values}
    med = median(values.values())
    mad = median(abs(v - med) for v in values.values())
    if mad == 0:
        return {key: None for key in values}
    return {key: _K * (v - med) / mad for key, v in values.items()}


def outliers(values: Mapping[str, float], threshold: float = THRESHOLD) -> dict[str, float]:
    """The units whose value is an outlier, with their score."""
    return {
        key: score
        for key, score in modified_z_scores(values).items()
        if score is not None and abs(score) > threshold
    }
