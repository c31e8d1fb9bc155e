"""Churn after a touchpoint: do customers buy again after an unresolved support ticket?

The case of a loyal customer who stops buying after an unresolved support conversation, told
with a survival model of the time to the next purchase.

**Why a landmark.** Whether a ticket is "resolved" is only known as time passes. Reading it at
the data's snapshot looks into the future: a ticket still open at the snapshot was opened
recently (and has had little time for a purchase), and a ticket closed as resolved *after* the
customer came back is credited to the resolved group with a purchase that happened while it was
still open — both make "unresolved" look worse than it is, or create a difference where there
is none. So the comparison uses a **landmark design**: each ticket is classified by its state
``landmark_days`` (7) after it was opened — resolved by then or not — among the customers still
at risk at the landmark (no purchase yet, still observed), and time is counted from the
landmark. Nothing after the landmark decides the group. A time-varying Cox model (resolution as
a state that switches on at closing) would use the first days too, but it has no Kaplan–Meier
curve per group and mixes "still open today" with "never resolved"; the landmark gives one
classification a team can act on ("resolve within a week") and curves that show it. The price:
purchases within the first ``landmark_days`` are not in the comparison, and the answer is for
that landmark (the report names it).

- **unit**: a customer who opened a ticket after their first purchase; their *first* such
  ticket (tickets before any purchase, e.g. after a failed payment, and later tickets are left
  out, so every customer counts once and the comparison is not driven by customers who complain
  often). ``survival_table`` follows every unit from ``opened_at``; ``landmark_table`` keeps
  those still at risk at the landmark.
- **resolved by the landmark**: the ticket is resolved (``resolved`` true; without a
  ``resolved`` column, closed) and its ``closed_at`` is at most ``landmark_days`` after
  ``opened_at``. Anything else — open, closed unresolved, resolved later — is **unresolved** at
  the landmark. A ticket marked resolved without a closing time cannot be placed and is left out
  (counted in the table's attrs). Without ``closed_at`` the comparison is not computed.
- **time origin**: the landmark (``opened_at`` + ``landmark_days``).
- **event**: the customer's next goal event (a purchase) after the landmark; **censoring**: the
  end of observation (the latest timestamp in the events and tickets, unless given) when there
  is none.
- **prior activity**: the number of purchases before the ticket (``prior_purchases``).

A Cox proportional-hazards model (statsmodels ``PHReg``) of the time to the next purchase on
unresolved and prior purchases gives the **hazard ratio** of unresolved tickets: the rate at
which customers whose ticket was still unresolved at the landmark buy again, relative to those
resolved by then, at the same prior activity (below 1: they come back more slowly or not at
all). The model counts time in whole days (``day``: 1 = within 24 hours of the landmark) with
Efron's method for ties, so its cost does not grow with the number of distinct times (on the
demo study the hazard ratio moves by less than 0.001 against exact times). Kaplan–Meier curves
(``SurvfuncRight``, exact times) show the share not yet returned over time since the landmark,
resolved against unresolved.

The survival table is built in the engine (tickets joined to the goal events of the same
customers) and only one row per unit comes back to pandas.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from .. import data, engine
from ..errors import NotEnoughData, ParameterError
from ..journeys import DAY, seconds
from ..results import Estimate
from ..study import Study

__all__ = ["survival_table", "landmark_table", "ChurnAfterTicket", "churn_after_tickets", "kaplan_meier",
           "unresolved_customers", "LANDMARK_DAYS"]

LANDMARK_DAYS = 7.0


def survival_table(
    events: ibis.Table,
    tickets: ibis.Table,
    goal_touchpoints: list[str],
    end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """One row per customer's first ticket opened after their first purchase: customer_id,
    ticket_id, opened_at, category, channel, unresolved (at the data's snapshot: ``resolved``
    false or missing), resolved_after_days (days from opening to closing of a resolved ticket;
    NaN when it is not resolved, or its closing time is unknown), resolution_unknown (resolved,
    but no closing time), prior_purchases, event (bought again before the end), days (to the next
    purchase, or to the end when censored) and day (days rounded up to whole days), all from
    ``opened_at``. See the module doc; ``landmark_table`` turns it into the comparison."""
    goals = events.filter(events.touchpoint.isin(list(goal_touchpoints)))
    goals = goals.select(customer_id=goals.customer_id.cast("string"), g_t=seconds(goals.timestamp))
    first_goal = goals.group_by("customer_id").aggregate(first_g=goals.g_t.min())

    cols = tickets.columns
    tk = tickets.select(
        customer_id=tickets.customer_id.cast("string"),
        ticket_id=tickets.ticket_id.cast("string"),
        opened_at=tickets.opened_at,
        o_t=seconds(tickets.opened_at),
        category=tickets.category.cast("string") if "category" in cols else ibis.null("string"),
        channel=tickets.channel.cast("string") if "channel" in cols else ibis.null("string"),
        unresolved=(~tickets.resolved.cast("boolean")).fill_null(True) if "resolved" in cols
        else ibis.literal(True),
        # resolved at the snapshot (no resolved column: closed), and when it was closed
        is_resolved=tickets.resolved.cast("boolean").fill_null(False) if "resolved" in cols
        else (tickets.closed_at.notnull() if "closed_at" in cols else ibis.literal(False)),
        c_t=seconds(tickets.closed_at) if "closed_at" in cols else ibis.null("int64"),
    )
    tk = tk.join(first_goal, "customer_id")
    tk = tk.filter(tk.o_t > tk.first_g)
    w = ibis.window(group_by=tk.customer_id, order_by=[tk.o_t, tk.ticket_id])
    tk = tk.mutate(_k=ibis.row_number().over(w))
    unit = tk.filter(tk._k == 0).drop("_k", "first_g")

    j = unit.join(goals, "customer_id")
    per = j.group_by("customer_id").aggregate(
        prior_purchases=(j.g_t < j.o_t).cast("int64").sum(),
        next_t=j.g_t.min(where=j.g_t > j.o_t),
    )
    out = unit.join(per, "customer_id")
    table = engine.to_pandas(out)
    if end is None:
        last = max(
            engine.to_pandas(events.aggregate(m=seconds(events.timestamp).max())).iloc[0, 0],
            engine.to_pandas(tickets.aggregate(m=seconds(tickets.opened_at).max())).iloc[0, 0],
        )
        end_t = float(last)
    else:
        end_t = pd.Timestamp(end).tz_localize(None).timestamp() if pd.Timestamp(end).tzinfo is None \
            else pd.Timestamp(end).tz_convert("UTC").tz_localize(None).timestamp()
    table["event"] = table["next_t"].notna() & (table["next_t"] <= end_t)
    stop = np.where(table["event"], table["next_t"], end_t)
    table["days"] = (stop - table["o_t"].to_numpy(float)) / DAY
    table["unresolved"] = table["unresolved"].astype(bool)
    resolved = table.pop("is_resolved").astype(bool).to_numpy()
    closed = pd.to_numeric(table.pop("c_t"), errors="coerce").to_numpy(float)
    after = np.clip((closed - table["o_t"].to_numpy(float)) / DAY, 0, None)  # closed before opened: at once
    table["resolved_after_days"] = np.where(resolved & np.isfinite(closed), after, np.nan)
    table["resolution_unknown"] = resolved & ~np.isfinite(closed)
    table["prior_purchases"] = table["prior_purchases"].astype("int64")
    table = table[table["days"] > 0].drop(columns=["o_t", "next_t"])
    table["day"] = np.ceil(table["days"]).astype("int64")
    table = table.sort_values(["opened_at", "customer_id"]).reset_index(drop=True)
    table.attrs["end"] = pd.Timestamp(end_t, unit="s")
    return table


def landmark_table(table: pd.DataFrame, landmark_days: float = LANDMARK_DAYS) -> pd.DataFrame:
    """The landmark comparison from a ``survival_table``: the units still at risk
    ``landmark_days`` after their ticket (no purchase and still observed: ``days`` above the
    landmark) whose resolution time is known, with ``unresolved`` = not resolved by the landmark
    (``unresolved_at_snapshot`` keeps the snapshot's reading), and ``days``/``day`` counted from
    the landmark. ``attrs``: landmark_days, bought_before (units who bought again by the
    landmark), censored_before (observation ended by then) and resolution_unknown (at risk, but
    resolved at an unknown time: left out)."""
    if landmark_days < 0:
        raise ParameterError(f"landmark_days must be 0 or more, got {landmark_days}")
    at_risk = table["days"] > landmark_days
    unknown = table["resolution_unknown"].astype(bool)
    out = table[at_risk & ~unknown].copy()
    out["unresolved_at_snapshot"] = out["unresolved"]
    out["unresolved"] = ~(out["resolved_after_days"] <= landmark_days)  # NaN (never resolved): unresolved
    out["days"] = out["days"] - landmark_days
    out["day"] = np.ceil(out["days"]).astype("int64")
    out = out.reset_index(drop=True)
    out.attrs.update(
        table.attrs, landmark_days=float(landmark_days),
        bought_before=int((~at_risk & table["event"]).sum()),
        censored_before=int((~at_risk & ~table["event"]).sum()),
        resolution_unknown=int((at_risk & unknown).sum()),
    )
    return out


def unresolved_customers(tickets: pd.DataFrame) -> np.ndarray:
    """The customers with at least one ticket not resolved at the data's snapshot (``resolved``
    false or missing; every ticket when there is no resolved column): the reach of the
    unresolved-ticket pain point."""
    unresolved = ~tickets["resolved"].fillna(False).astype(bool) if "resolved" in tickets else \
        pd.Series(True, index=tickets.index)
    return tickets.loc[unresolved, "customer_id"].astype(str).unique()


def kaplan_meier(table: pd.DataFrame, by: str = "unresolved"):
    """Kaplan–Meier estimates of the share not yet returned, per value of ``by``:
    {value: statsmodels SurvfuncRight}."""
    import statsmodels.api as sm

    return {
        key: sm.SurvfuncRight(g["days"].to_numpy(float), g["event"].to_numpy(int))
        for key, g in table.groupby(by)
    }


@dataclass
class ChurnAfterTicket:
    """Result of ``churn_after_tickets``.

    table: the landmark comparison (``landmark_table``: one row per unit at risk at the
    landmark). units: every unit followed from its ticket (``survival_table``).
    hazard_ratio: HR of unresolved at the landmark (Estimate). prior_purchase_ratio: HR per prior
    purchase (Estimate). groups: per resolved/unresolved by the landmark — customers, share who
    bought again, median days from the landmark to the next purchase (Kaplan–Meier) and the share
    still without a purchase ``horizon_days`` after the landmark.
    """

    table: pd.DataFrame
    hazard_ratio: Estimate
    prior_purchase_ratio: Estimate
    groups: pd.DataFrame
    horizon_days: int
    km: dict = field(default_factory=dict, repr=False)
    units: pd.DataFrame | None = field(default=None, repr=False)
    landmark_days: float = LANDMARK_DAYS

    def design(self) -> str:
        """The comparison in words: who is in it and what was left out."""
        a = self.table.attrs
        left = [f"{a.get('bought_before', 0):,} bought again within the {self.landmark_days:g} days",
                f"{a.get('censored_before', 0):,} were observed for less than that"]
        if a.get("resolution_unknown"):
            left.append(f"{a['resolution_unknown']:,} tickets were marked resolved without a closing time")
        return (f"Tickets are classified {self.landmark_days:g} days after they were opened (resolved by then or "
                f"not) and time is counted from then, so nothing later decides the group; "
                f"{len(self.table):,} customers are compared; left out: " + ", ".join(left) + ".")

    def summary(self) -> str:
        hr = self.hazard_ratio
        lines = [
            f"Customers after their first post-purchase ticket, at risk {self.landmark_days:g} days later: "
            f"{len(self.table):,} ({int(self.table.unresolved.sum()):,} unresolved by then).",
            f"Hazard ratio of buying again, unresolved vs resolved: {hr.estimate:.2f} "
            f"[{hr.ci_low:.2f}, {hr.ci_high:.2f}], p = {hr.p_value:.3g}.",
        ]
        for r in self.groups.itertuples():
            lines.append(
                f"  {r.group}: {r.customers:,} customers, {r.bought_again:.1%} bought again; "
                f"{r.not_returned_at_horizon:.1%} had not returned {self.horizon_days} days after the landmark"
            )
        return "\n".join(lines)

    def plot(self, ax=None):
        """Kaplan–Meier curves: share of customers who have not bought again, by days since the
        landmark, resolved by then against unresolved, with 95% pointwise bands."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        colors = {False: "#4c72b0", True: "#c44e52"}
        for key, sf in self.km.items():
            t = np.r_[0.0, sf.surv_times]
            s = np.r_[1.0, sf.surv_prob]
            se = np.r_[0.0, sf.surv_prob_se]
            label = "unresolved" if key else "resolved"
            label += f" {self.landmark_days:g} days after opening"
            ax.step(t, s, where="post", color=colors[bool(key)], label=f"{label} (n = {len(sf.time):,})")
            ax.fill_between(t, np.clip(s - 1.96 * se, 0, 1), np.clip(s + 1.96 * se, 0, 1), step="post",
                            color=colors[bool(key)], alpha=0.15)
        ax.set_xlabel(f"Days since the landmark ({self.landmark_days:g} days after the ticket was opened)")
        ax.set_ylabel("Share not yet bought again")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="upper right")
        return ax


def churn_after_tickets(
    study: Study | str | os.PathLike,
    end: str | None = None,
    horizon_days: int = 90,
    ci_level: float = 0.95,
    landmark_days: float = LANDMARK_DAYS,
) -> ChurnAfterTicket:
    """Time to the next purchase after a customer's first post-purchase ticket, unresolved
    against resolved ``landmark_days`` after it was opened, counted from then and adjusted for
    prior purchases (see the module doc)."""
    import statsmodels.api as sm

    study = data.ensure_clean(study)
    if "tickets" not in study.tables:
        raise NotEnoughData(f"Study '{study.name}' has no tickets table: churn after tickets needs one.",
                            needs="a tickets table")
    tickets = engine.table(study, "tickets")
    if "closed_at" not in tickets.columns:
        raise NotEnoughData(
            f"Study '{study.name}': the tickets have no closing time (closed_at), so whether a ticket was resolved "
            "could only be read at the data's snapshot, which looks into the future.",
            needs="the tickets' closing times (closed_at), to tell which tickets were resolved by the landmark",
        )
    units = survival_table(engine.events(study), tickets, study.goal_touchpoints, end)
    table = landmark_table(units, landmark_days)
    if len(table) < 20 or table["unresolved"].nunique() < 2 or table["event"].sum() < 5:
        found = (f"{len(table)} such customers still without a purchase {landmark_days:g} days after the ticket, "
                 f"{int(table['unresolved'].sum())} unresolved by then, {int(table['event'].sum())} bought again")
        raise NotEnoughData(
            f"Churn after tickets needs tickets opened after a purchase, both resolved and unresolved, "
            f"and some later purchases; found {found}.",
            needs=f"tickets opened after a purchase from at least 20 customers, resolved and unresolved, and at "
                  f"least 5 later purchases (found {found})",
        )
    # every customer with the same number of prior purchases: nothing to adjust for (and a
    # constant covariate would keep the fit from converging)
    adjust = table["prior_purchases"].nunique() > 1
    covariates = ["unresolved", "prior_purchases"] if adjust else ["unresolved"]
    fit = sm.PHReg(table["day"].to_numpy(float), table[covariates].astype(float).to_numpy(),
                   status=table["event"].to_numpy(int), ties="efron").fit()
    z = stats.norm.ppf(0.5 + ci_level / 2)
    method = (f"Cox proportional hazards (statsmodels PHReg) from a landmark {landmark_days:g} days after the "
              "ticket" + (", adjusted for prior purchases" if adjust else ""))
    n = len(table)

    def est(i: int, label: str) -> Estimate:
        b, se = float(fit.params[i]), float(fit.bse[i])
        return Estimate(label, float(np.exp(b)), float(np.exp(b - z * se)), float(np.exp(b + z * se)),
                        float(fit.pvalues[i]), n, method, ci_level)

    hr = est(0, f"hazard ratio of buying again, unresolved vs resolved {landmark_days:g} days after the ticket")
    prior = est(1, "hazard ratio of buying again, per purchase before the ticket") if adjust else Estimate(
        "hazard ratio of buying again, per purchase before the ticket (not estimated: every customer had "
        f"{int(table['prior_purchases'].iloc[0])} before the ticket)", np.nan, np.nan, np.nan, None, n, method, ci_level)
    km = kaplan_meier(table)
    rows = []
    for key, sf in km.items():
        g = table[table.unresolved == key]
        times, probs = sf.surv_times, sf.surv_prob
        at = probs[times <= horizon_days]
        rows.append({
            "group": "unresolved" if key else "resolved",
            "customers": len(g),
            "bought_again": float(g.event.mean()),
            "median_days_to_next_purchase": float(sf.quantile(0.5)) if probs.min() <= 0.5 else np.nan,
            "not_returned_at_horizon": float(at[-1]) if len(at) else 1.0,
            "mean_prior_purchases": float(g.prior_purchases.mean()),
        })
    groups = pd.DataFrame(rows)
    return ChurnAfterTicket(table, hr, prior, groups, horizon_days, km, units, float(landmark_days))
