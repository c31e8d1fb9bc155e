"""The emotion curve: how customers feel at each stage of the journey.

For every stage, from the survey responses given there (a response's stage is its ``stage``
column, else the stage of its ``touchpoint`` in the catalog):

- mean comment sentiment (VADER compound, -1 … +1) with a t-interval;
- mean CSAT (1–5) with a t-interval;
- NPS (% promoters 9–10 minus % detractors 0–6, on a -100 … +100 scale) with the normal
  interval of a difference of two shares of one multinomial sample,
  var = (p_promoters + p_detractors - (p_promoters - p_detractors)²) / n.

These are the emotional lane of the journey map (written to emotion_curve.parquet).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..results import ESTIMATE_COLUMNS
from ..stats import mean_ci, nps_ci

__all__ = ["mean_ci", "nps_ci", "EmotionCurve", "emotion_curve", "METRIC_LABELS"]

METRIC_LABELS = {
    "sentiment": "Mean comment sentiment (-1 to +1)",
    "csat": "Mean CSAT (1-5)",
    "nps": "NPS (-100 to +100)",
    "ces": "Mean CES (1-7)",
}


@dataclass
class EmotionCurve:
    """The emotion curve: ``table`` has one row per stage and metric with the Estimate columns
    plus stage, stage_order and metric."""

    table: pd.DataFrame
    stages: list[str]

    def metric(self, name: str) -> pd.DataFrame:
        return self.table[self.table.metric == name].sort_values("stage_order").reset_index(drop=True)

    def lowest_stage(self, metric: str = "csat") -> str | None:
        """The stage where customers feel worst on ``metric``."""
        m = self.metric(metric).dropna(subset=["estimate"])
        return None if m.empty else str(m.loc[m.estimate.idxmin(), "stage"])

    def summary(self) -> str:
        lines = []
        for metric in self.table.metric.unique():
            m = self.metric(metric)
            parts = [f"{r.stage} {r.estimate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" for r in m.itertuples()]
            lines.append(f"{METRIC_LABELS.get(metric, metric)}: " + "; ".join(parts))
        return "\n".join(lines)

    def plot(self, ax=None, metrics: tuple[str, ...] = ("csat", "sentiment")):
        """Each metric across the stages with its 95% band; one panel per metric when ``ax`` is
        None (returns the last Axes)."""
        import matplotlib.pyplot as plt

        metrics = [m for m in metrics if m in set(self.table.metric)]
        if ax is None:
            fig, axes = plt.subplots(len(metrics) or 1, 1, figsize=(9, 2.6 * max(len(metrics), 1)),
                                     sharex=True, squeeze=False)
            axes = axes[:, 0]
        else:
            axes = [ax] * len(metrics)
        x = np.arange(len(self.stages))
        for a, metric in zip(axes, metrics):
            m = self.metric(metric).set_index("stage").reindex(self.stages)
            a.plot(x, m["estimate"], marker="o", color="#4c72b0")
            a.fill_between(x, m["ci_low"], m["ci_high"], alpha=0.2, color="#4c72b0")
            a.set_ylabel(METRIC_LABELS.get(metric, metric).split(" (")[0])
            low = m["estimate"].idxmin() if m["estimate"].notna().any() else None
            if low is not None:
                i = self.stages.index(low)
                a.plot([i], [m.loc[low, "estimate"]], marker="o", color="#c44e52", markersize=9)
        last = axes[-1] if len(axes) else ax
        if last is not None:
            last.set_xticks(x)
            last.set_xticklabels(self.stages)
        return last


def emotion_curve(
    responses: pd.DataFrame,
    stages: list[str],
    stage: str = "stage",
    metrics: tuple[str, ...] = ("sentiment", "csat", "nps"),
    ci_level: float = 0.95,
) -> EmotionCurve:
    """Mean sentiment, CSAT and NPS by stage with confidence intervals.

    responses: one row per survey response with a ``stage`` column and the metric columns
    (``sentiment`` from ``text.sentiment`` of the comment, ``csat`` 1–5, ``nps`` 0–10); a
    metric whose column is missing is skipped. stages: the study's stages in journey order
    (responses in other stages are left out)."""
    rows = []
    for metric in metrics:
        if metric not in responses:
            continue
        for order, name in enumerate(stages):
            values = responses.loc[responses[stage] == name, metric]
            label = f"{METRIC_LABELS.get(metric, metric).split(' (')[0]}, {name}"
            est = nps_ci(values, label, ci_level) if metric == "nps" else mean_ci(values, label, ci_level)
            rows.append({"stage": name, "stage_order": order, "metric": metric, **est.to_dict()})
    table = pd.DataFrame(
        rows, columns=["stage", "stage_order", "metric"] + ESTIMATE_COLUMNS + ["ci_level"]
    )
    return EmotionCurve(table, list(stages))
