"""The one result type every statistical estimate in cxlab is returned as."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable

import pandas as pd

__all__ = ["Estimate", "estimates_frame", "ESTIMATE_COLUMNS"]

ESTIMATE_COLUMNS = ["label", "estimate", "ci_low", "ci_high", "p_value", "n", "method"]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval.

    label: what was estimated, in words ("conversion rate, North, after launch").
    estimate, ci_low, ci_high: the value and its interval (``ci_level`` two-sided).
    p_value: the test's p-value, or None where no test applies.
    n: the number of units (customers, responses …) the estimate rests on.
    method: the test or model, in words.
    """

    label: str
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float | None
    n: int
    method: str
    ci_level: float = 0.95
    extra: dict = field(default_factory=dict, compare=False)

    def summary(self, digits: int = 3) -> str:
        """One line for people: 'label: 0.123 [0.100, 0.150], p = 0.004 (n = 1,234; method)'."""
        fmt = f"{{:.{digits}g}}"
        text = (
            f"{self.label}: {fmt.format(self.estimate)} "
            f"[{fmt.format(self.ci_low)}, {fmt.format(self.ci_high)}]"
        )
        if self.p_value is not None and not math.isnan(self.p_value):
            text += f", p = {self.p_value:.3g}" if self.p_value >= 1e-4 else ", p < 0.0001"
        return text + f" (n = {self.n:,}; {self.method})"

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d

    def to_frame(self) -> pd.DataFrame:
        """One row with the columns label, estimate, ci_low, ci_high, p_value, n, method."""
        return pd.DataFrame([self.to_dict()])[ESTIMATE_COLUMNS]

    def covers(self, value: float) -> bool:
        """Whether the interval contains ``value``."""
        return self.ci_low <= value <= self.ci_high


def estimates_frame(estimates: Iterable[Estimate]) -> pd.DataFrame:
    """Many estimates as one DataFrame with the Estimate columns."""
    rows = [e.to_dict() for e in estimates]
    return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS + ["ci_level"])[ESTIMATE_COLUMNS]
