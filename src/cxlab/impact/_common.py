"""Helpers shared by the impact designs."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..results import Estimate

# --------------------------------------------------------------------------- helpers
def _require(data: pd.DataFrame, *columns: str | None, where: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"{where}: pass a pandas DataFrame (got {type(data).__name__})")
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise DataError([f"{where}: column(s) {', '.join(map(repr, missing))} not in the table; "
                         f"it has {', '.join(map(str, data.columns[:20]))}"])


def is_binary(values) -> bool:
    """Whether a column holds a 0/1 (or boolean) outcome: a rate rather than a mean."""
    s = pd.Series(values).dropna()
    if s.empty:
        return False
    if s.dtype == bool:
        return True
    try:
        return set(np.unique(s.astype(float))) <= {0.0, 1.0}
    except (TypeError, ValueError):
        return False


def _indicator(data: pd.DataFrame, column: str, where: str) -> np.ndarray:
    s = data[column]
    if not is_binary(s):
        raise DataError([f"{where}: column '{column}' must be 0/1 or True/False "
                         f"(found {list(pd.unique(s.dropna()))[:5]})"])
    return s.astype(float).to_numpy()


def _kind(values, kind: str) -> str:
    if kind == "auto":
        return "rate" if is_binary(values) else "mean"
    if kind not in ("rate", "mean"):
        raise ParameterError(f"kind '{kind}' must be auto, rate or mean")
    return kind


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    return ax


class _Result:
    estimate: Estimate

    def to_frame(self) -> pd.DataFrame:
        return self.estimate.to_frame()

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def _after(values: pd.Series, date: Any) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        return (values >= pd.Timestamp(date)).to_numpy()
    try:
        return (values >= date).to_numpy()
    except TypeError as exc:
        raise ParameterError(f"cannot compare the time column with {date!r}: {exc}") from None
