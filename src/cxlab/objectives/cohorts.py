"""Retention by cohort and lifecycle states, as product-analytics tools show them.

- **First-time retention**: customers are grouped into cohorts by the week or month of their
  first touch (or first purchase); the cohort × period table holds, for each cohort and each
  period since it started (0, 1, 2 …), the share of the cohort active in that period.
  ``unbounded=True`` counts a customer as retained in period k when they are active in period k
  *or any later period* up to ``max_periods`` (Amplitude's "unbounded retention"). "Any later
  period" must mean the same for every cohort, or older cohorts, watched longer, look more loyal:
  so only cohorts observed through period ``max_periods`` are counted, each followed for exactly
  that long; the younger ones are left out, and ``RetentionTable.note`` says so.
- **Recurring retention**: every period in which a customer is active starts a cohort of its
  own, so the table answers "of the customers active in March, how many are active 1, 2 …
  months later". Its period-1 value is the retention_rate KPI.
- **Lifecycle states** per period: *new* (first active period), *returning* (active this period
  and the one before), *resurrected* (active now, not in the previous period, but active
  earlier), *dormant* (active in the previous period, not in this one).

Periods are calendar weeks (Monday first) or months. Periods not yet complete at the end of the
log are left out, so a cohort's last cell is never deflated by missing days. Intervals are
Wilson 95% intervals on the share of the cohort (customers are counted once per cohort).
Computed in the engine; only counts per cohort and period come back to pandas.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from .. import engine
from ..errors import ParameterError
from ..study import Study
from ..journeys import purchase_filter
from ..kpis import data_end
from ..periods import period_index, period_index_of, period_label, period_start
from ..stats import wilson

__all__ = ["RetentionTable", "retention_table", "Lifecycle", "lifecycle", "activity_periods"]

_FREQS = ("week", "month")


def _check(freq: str, activity: str, cohort_by: str | None = None) -> None:
    if freq not in _FREQS:
        raise ParameterError(f"freq '{freq}' must be week or month")
    if activity not in ("any", "purchase"):
        raise ParameterError(f"activity '{activity}' must be 'any' (any touchpoint) or 'purchase' (a goal touchpoint)")
    if cohort_by is not None and cohort_by not in ("first_touch", "first_purchase"):
        raise ParameterError(f"cohort_by '{cohort_by}' must be first_touch or first_purchase")


def activity_periods(study: Study, freq: str = "month", activity: str = "any") -> ibis.Table:
    """Distinct (customer_id, p) pairs: the customer did something (any touchpoint, or ordered,
    for activity='purchase') in period p (an integer period index at ``freq``)."""
    _check(freq, activity)
    ev = engine.events(study)
    if activity == "purchase":
        ev = ev.filter(purchase_filter(ev, study))
    return ev.select("customer_id", p=period_index(ev.timestamp, freq)).distinct()


def _last_complete(study: Study, freq: str) -> int:
    end = data_end(study)
    return period_index_of(end.normalize() + pd.Timedelta(days=1), freq) - 1


# --------------------------------------------------------------------------- retention
@dataclass
class RetentionTable:
    """Cohort retention: ``table`` is long (cohort, cohort_label, period, cohort_size, active,
    retention, ci_low, ci_high); ``pivot()`` is the familiar cohort × period grid; ``curve()``
    pools the cohorts into one retention curve with its interval."""

    table: pd.DataFrame
    freq: str
    mode: str
    cohort_by: str
    activity: str
    unbounded: bool
    note: str = ""  # the cohorts left out, and why (unbounded retention)

    def pivot(self, value: str = "retention") -> pd.DataFrame:
        """Cohorts down, periods since the start across (``value``: retention, active or ci_low …)."""
        grid = self.table.pivot(index="cohort_label", columns="period", values=value)
        order = self.table.drop_duplicates("cohort_label").set_index("cohort_label")["cohort"]
        grid = grid.loc[order.sort_values().index]
        sizes = self.table.drop_duplicates("cohort_label").set_index("cohort_label")["cohort_size"]
        grid.insert(0, "customers", sizes.reindex(grid.index).astype("int64"))
        grid.columns.name = f"{self.freq}s since start"
        return grid

    def curve(self) -> pd.DataFrame:
        """Retention by period since the start, pooled over the cohorts observed that long
        (Σ active / Σ cohort size), with a Wilson interval."""
        g = self.table.groupby("period", as_index=False).agg(
            cohorts=("cohort", "nunique"), customers=("cohort_size", "sum"), active=("active", "sum")
        )
        g["retention"] = g["active"] / g["customers"]
        g["ci_low"], g["ci_high"] = wilson(g["active"], g["customers"])
        return g

    def summary(self) -> str:
        c = self.curve().set_index("period")
        parts = []
        for k in (1, 3, 6, 12):
            if k in c.index:
                parts.append(f"{k} {self.freq}{'s' if k > 1 else ''}: {c.loc[k, 'retention']:.1%} "
                             f"[{c.loc[k, 'ci_low']:.1%}, {c.loc[k, 'ci_high']:.1%}]")
        what = "first-time" if self.mode == "first_time" else "recurring"
        start = self.cohort_by.replace("_", " ") if self.mode == "first_time" else "each active period"
        return (f"{what.capitalize()} retention ({'unbounded, ' if self.unbounded else ''}cohorts by "
                f"{self.freq} of {start}, activity = {self.activity}) over "
                f"{self.table['cohort'].nunique()} cohorts: " + ("; ".join(parts) or "no later periods yet"))

    def plot(self, ax=None, kind: str = "curve", max_cohorts: int = 12):
        """kind='curve': the pooled curve with its 95% band and the latest cohorts as thin lines;
        kind='heatmap': the cohort × period grid."""
        import matplotlib.pyplot as plt

        if kind == "heatmap":
            grid = self.pivot().drop(columns="customers").tail(max_cohorts)
            ax = ax or plt.subplots(figsize=(9, 0.35 * len(grid) + 1.5))[1]
            im = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="Blues", vmin=0, vmax=1)
            ax.set_yticks(range(len(grid)), grid.index)
            ax.set_xticks(range(grid.shape[1]), grid.columns)
            ax.set_xlabel(f"{self.freq}s since start")
            for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
                if not np.isnan(v):
                    ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7,
                            color="white" if v > 0.6 else "black")
            ax.grid(False)
            ax.figure.colorbar(im, ax=ax, fraction=0.03, label="share active")
            return ax
        ax = ax or plt.subplots(figsize=(8, 4))[1]
        latest = sorted(self.table["cohort"].unique())[-max_cohorts:]
        for c in latest:
            sub = self.table[self.table["cohort"] == c]
            ax.plot(sub["period"], sub["retention"], color="grey", alpha=0.25, lw=0.8)
        cur = self.curve()
        ax.fill_between(cur["period"], cur["ci_low"], cur["ci_high"], alpha=0.25, color="#4C72B0",
                        label="95% interval")
        ax.plot(cur["period"], cur["retention"], marker="o", color="#4C72B0", label="all cohorts")
        ax.set_xlabel(f"{self.freq}s since start")
        ax.set_ylabel("share of cohort active")
        ax.set_ylim(0, 1.02)
        ax.legend(frameon=False)
        return ax


def retention_table(
    study: Study | str | os.PathLike,
    freq: str = "month",
    *,
    mode: str = "first_time",
    cohort_by: str = "first_touch",
    activity: str = "any",
    unbounded: bool = False,
    max_periods: int = 12,
    start=None,
    end=None,
) -> RetentionTable:
    """Cohort × period retention (see the module docstring).

    freq: 'week' or 'month'. mode: 'first_time' (a cohort per first touch or first purchase) or
    'recurring' (a cohort per active period). cohort_by: 'first_touch' or 'first_purchase'
    (first-time mode). activity: what counts as active — 'any' touchpoint or 'purchase'.
    unbounded: active in period k or later, up to max_periods (only cohorts observed that long).
    max_periods: the last period since the start shown.
    start, end: keep cohorts starting in this window (dates).
    """
    study = Study.load(study)
    _check(freq, activity, cohort_by)
    if mode not in ("first_time", "recurring"):
        raise ParameterError(f"mode '{mode}' must be first_time or recurring")
    last = _last_complete(study, freq)
    act = activity_periods(study, freq, activity)
    if mode == "first_time":
        if cohort_by == "first_touch":
            births = activity_periods(study, freq, "any")
        else:
            births = activity_periods(study, freq, "purchase")
        cohorts = births.group_by("customer_id").aggregate(c=births.p.min())
    else:
        cohorts = act.select("customer_id", c=act.p)
    cohorts = cohorts.filter(cohorts.c <= last)
    if start is not None:
        cohorts = cohorts.filter(cohorts.c >= period_index_of(pd.Timestamp(start), freq))
    if end is not None:
        cohorts = cohorts.filter(cohorts.c <= period_index_of(pd.Timestamp(end), freq))
    note = ""
    if unbounded:
        # equal follow-up: every cohort counted is observed through period max_periods
        cutoff = last - max_periods
        note = (f"Unbounded retention counts only the cohorts observed for {max_periods} whole {freq}s after "
                f"their start (through {period_label(pd.Timestamp(period_start(cutoff, freq)), freq)}); the younger "
                "ones are left out, since they have had less time to come back.")
        old_enough = cohorts.c <= cutoff
        split = engine.to_pandas(cohorts.aggregate(kept=old_enough.cast("int64").sum(), n=cohorts.count()))
        kept, total = int(split["kept"].fillna(0).iloc[0]), int(split["n"].iloc[0])
        if kept == 0:
            raise ParameterError(f"No cohort of study '{study.name}' is observed for {max_periods} whole {freq}s, as "
                                 f"unbounded retention needs ({total} customers in younger cohorts); "
                                 "lower max_periods.")
        cohorts = cohorts.filter(old_enough)
    sizes = cohorts.group_by("c").aggregate(cohort_size=cohorts.count())
    a = act.filter(act.p <= last)
    if unbounded:
        # each customer's last active period since the cohort's start, within max_periods
        j = cohorts.inner_join(a.select(customer_id="customer_id", p="p"), "customer_id")
        j = j.mutate(k=(j.p - j.c).cast("int64"))
        j = j.filter((j.k >= 0) & (j.k <= max_periods))
        last_seen = j.group_by(["customer_id", "c"]).aggregate(k=j.k.max())
        counts = engine.to_pandas(last_seen.group_by(["c", "k"]).aggregate(n=last_seen.count()))
    else:
        j = cohorts.inner_join(a.select(customer_id="customer_id", p="p"), "customer_id")
        j = j.mutate(k=(j.p - j.c).cast("int64"))
        j = j.filter((j.k >= 0) & (j.k <= max_periods))
        counts = engine.to_pandas(j.group_by(["c", "k"]).aggregate(active=j.count()))
    sizes = engine.to_pandas(sizes)
    if sizes.empty:
        raise ParameterError(f"No cohorts with a complete period in study '{study.name}' for these settings.")
    # every (cohort, period) cell observed so far, zeros included
    cells = [(int(c), k) for c in sizes["c"] for k in range(0, min(max_periods, last - int(c)) + 1)]
    grid = pd.DataFrame(cells, columns=["c", "k"]).merge(sizes, on="c")
    if unbounded:
        counts = counts.sort_values(["c", "k"])
        rows = []
        for c, grp in counts.groupby("c"):
            ser = grp.set_index("k")["n"]
            for k in range(0, min(max_periods, last - int(c)) + 1):
                rows.append((int(c), k, int(ser[ser.index >= k].sum())))
        counts = pd.DataFrame(rows, columns=["c", "k", "active"])
    grid = grid.merge(counts, on=["c", "k"], how="left")
    grid["active"] = grid["active"].fillna(0).astype("int64")
    grid["cohort_size"] = grid["cohort_size"].astype("int64")
    grid["retention"] = grid["active"] / grid["cohort_size"]
    grid["ci_low"], grid["ci_high"] = wilson(grid["active"], grid["cohort_size"])
    grid["cohort"] = period_start(grid["c"].to_numpy(), freq).to_numpy()
    grid["cohort_label"] = [period_label(pd.Timestamp(c), freq) for c in grid["cohort"]]
    grid = grid.rename(columns={"k": "period"})[
        ["cohort", "cohort_label", "period", "cohort_size", "active", "retention", "ci_low", "ci_high"]
    ].sort_values(["cohort", "period"]).reset_index(drop=True)
    return RetentionTable(grid, freq, mode, cohort_by, activity, unbounded, note)


# --------------------------------------------------------------------------- lifecycle
@dataclass
class Lifecycle:
    """Customers per period in each lifecycle state: period, new, returning, resurrected,
    dormant, active (= new + returning + resurrected) and quick_ratio ((new + resurrected) /
    dormant: above 1 the active base grows)."""

    table: pd.DataFrame
    freq: str
    activity: str

    def summary(self) -> str:
        if self.table.empty:
            return "No complete periods."
        last = self.table.iloc[-1]
        return (f"In {period_label(pd.Timestamp(last['period']), self.freq)}: {int(last['active']):,} active "
                f"customers — {int(last['new']):,} new, {int(last['returning']):,} returning, "
                f"{int(last['resurrected']):,} resurrected; {int(last['dormant']):,} went dormant "
                f"(quick ratio {last['quick_ratio']:.2f}).")

    def plot(self, ax=None):
        """Stacked bars: new, returning and resurrected above zero, dormant below."""
        import matplotlib.pyplot as plt

        t = self.table
        ax = ax or plt.subplots(figsize=(9, 4))[1]
        x = np.arange(len(t))
        colors = {"returning": "#4C72B0", "new": "#55A868", "resurrected": "#8172B2", "dormant": "#C44E52"}
        bottom = np.zeros(len(t))
        for state in ("returning", "new", "resurrected"):
            ax.bar(x, t[state], bottom=bottom, color=colors[state], label=state)
            bottom += t[state].to_numpy()
        ax.bar(x, -t["dormant"], color=colors["dormant"], label="dormant")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(x, [period_label(pd.Timestamp(p), self.freq) for p in t["period"]], rotation=45,
                      ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_ylabel("customers")
        ax.legend(frameon=False, ncol=4, fontsize=8)
        return ax


def lifecycle(study: Study | str | os.PathLike, freq: str = "month", activity: str = "any") -> Lifecycle:
    """Lifecycle states per complete period (see the module docstring), counted in the engine."""
    study = Study.load(study)
    _check(freq, activity)
    last = _last_complete(study, freq)
    act = activity_periods(study, freq, activity)
    act = act.filter(act.p <= last)
    w = ibis.window(group_by=act.customer_id, order_by=act.p)
    marked = act.mutate(prev=act.p.lag().over(w), nxt=act.p.lead().over(w))
    state = ibis.cases(
        (marked.prev.isnull(), "new"),
        (marked.prev == marked.p - 1, "returning"),
        else_="resurrected",
    )
    states = marked.select(p=marked.p, state=state)
    dormant = marked.filter(marked.nxt.isnull() | (marked.nxt > marked.p + 1))
    dormant = dormant.select(p=(dormant.p + 1).cast("int64"), state=ibis.literal("dormant"))
    dormant = dormant.filter(dormant.p <= last)
    both = states.union(dormant)
    counts = engine.to_pandas(both.group_by(["p", "state"]).aggregate(n=both.count()))
    table = counts.pivot_table(index="p", columns="state", values="n", fill_value=0)
    for col in ("new", "returning", "resurrected", "dormant"):
        if col not in table.columns:
            table[col] = 0
    table = table[["new", "returning", "resurrected", "dormant"]].sort_index()
    if len(table):
        table = table.reindex(range(int(table.index.min()), int(table.index.max()) + 1), fill_value=0)
    table = table.astype("int64").reset_index().rename(columns={"p": "_p"})
    table.columns.name = None
    table.insert(0, "period", period_start(table["_p"].to_numpy(), freq).to_numpy())
    table = table.drop(columns="_p")
    table["active"] = table["new"] + table["returning"] + table["resurrected"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["quick_ratio"] = (table["new"] + table["resurrected"]) / table["dormant"].replace(0, np.nan)
    return Lifecycle(table, freq, activity)
