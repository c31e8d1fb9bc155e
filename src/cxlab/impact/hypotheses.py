"""Testing a study's pre-registered hypotheses: one row per hypothesis with the design, the
estimate and its interval, the p-value and the p-value adjusted for the number of hypotheses,
a decision, and a sentence a manager can act on.

A hypothesis is a dict as the objectives stage registers them (its output ``hypotheses``,
hypotheses.json; the format is documented in ``cxlab.kpis.hypotheses``); the keys used here:

    {"id": "H1", "kpi": "conversion_rate", "kpi_title": "Conversion rate",
     "kind": "proportion",               # proportion | mean | nps
     "direction": "increase", "min_effect": 0.02, "alpha": 0.05, "design": "did",
     "intervention": "new_checkout", "date": "2025-07-01",
     "treated": {"column": "region", "values": ["North"]},   # column null: everyone
     "kpi_options": {"window_days": 30}}

(``intervention`` may also be a dict holding id, date, treated and description.)

The data is a unit table per KPI (a dict kpi -> DataFrame) or one table for all: one row per
unit of the KPI (a new customer for conversion, a customer-month for retention, a survey
answer for CSAT), with the unit id, the period start (``time``), the treated column, and the
outcome in a column named after the KPI or ``y`` (0/1 for a rate; a number for a mean; for
NPS a 0–10 score or the -1/0/1 promoter coding). ``unit_table`` builds one from a study.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from .. import engine
from ..errors import CxlabError, DataError, ParameterError, StudyError
from ..kpis import PERIOD_INDEX, check_registration, conversion_window_days, get_kpi, kpi_units
from ..periods import period_index_of, period_start
from ..results import Estimate
from ..stages import output_path, read_output
from ..stats.multiplicity import METHODS, adjust_pvalues
from ..stats.power import with_power
from ..study import Study
from .assignment import PRETREND_ALPHA, did_by_assignment
from .designs import ab, did, is_binary, its, pre_post

__all__ = ["test_hypotheses", "test_study_hypotheses", "unit_table", "HypothesisResults", "normalize_hypothesis",
           "read_registration", "KPI_NAMES", "reading", "RESULTS_FILE", "CHECK_FAILED", "design_check_failed"]

#: KPI id -> (name in a sentence, kind): "rate" is reported in percentage points, "points"
#: (NPS) in its own points, "mean" in the KPI's units.
KPI_NAMES = {
    "conversion_rate": ("Conversion", "rate"),
    "conversion": ("Conversion", "rate"),
    "repeat_purchase_rate": ("Repeat purchase", "rate"),
    "retention_rate": ("Retention", "rate"),
    "retention": ("Retention", "rate"),
    "churn_rate": ("Churn", "rate"),
    "churn": ("Churn", "rate"),
    "csat_top2": ("The CSAT top-2-box share", "rate"),
    "csat_top2_share": ("The CSAT top-2-box share", "rate"),
    "csat_mean": ("Mean CSAT", "mean"),
    "csat": ("Mean CSAT", "mean"),
    "ces_mean": ("Mean CES", "mean"),
    "ces": ("Mean CES", "mean"),
    "nps": ("NPS", "points"),
    "revenue_per_customer": ("Revenue per customer", "mean"),
    "aov": ("Average order value", "mean"),
    "average_order_value": ("Average order value", "mean"),
}

TABLE_COLUMNS = ["hypothesis", "kpi", "design", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted",
                 "alpha", "decision", "mde", "n", "method", "reading", "check_p", "straddlers"]


# --------------------------------------------------------------------------- input
def normalize_hypothesis(h: Mapping) -> dict:
    """A hypothesis dict in one shape: id, kpi, direction, min_effect, alpha, design,
    intervention (id), description, date, treated_column, treated_values. Raises
    ParameterError naming what is missing."""
    if not isinstance(h, Mapping):
        raise ParameterError(f"a hypothesis must be a mapping (got {type(h).__name__})")
    hid = str(h.get("id") or h.get("hypothesis") or "")
    where = f"hypothesis '{hid or '?'}'"
    iv = h.get("intervention")
    ivd = dict(iv) if isinstance(iv, Mapping) else {"id": iv}
    treated = ivd.get("treated") or h.get("treated") or {}
    if not isinstance(treated, Mapping):
        treated = {}
    out = {
        "id": hid,
        "kpi": h.get("kpi"),
        "direction": h.get("direction", "increase"),
        "min_effect": h.get("min_effect"),
        "alpha": float(h.get("alpha", ivd.get("alpha", 0.05))),
        "design": h.get("design") or ivd.get("design"),
        "intervention": ivd.get("id"),
        "description": ivd.get("description") or h.get("description") or "",
        "date": ivd.get("date", h.get("date")),
        "treated_column": treated.get("column") or ivd.get("treated_column") or h.get("treated_column"),
        "treated_values": list(treated.get("values") or ivd.get("treated_values") or h.get("treated_values") or []),
        "kpi_label": h.get("kpi_label") or h.get("kpi_title"),
        "kind": h.get("kind"),
        "kpi_options": dict(h.get("kpi_options") or {}),
        "goal": h.get("goal"),
        "role": h.get("role"),
        "intervention_label": h.get("intervention_label") or ivd.get("label"),
        "expected_split": h.get("expected_split") or ivd.get("expected_split"),
        "statement": h.get("statement"),
    }
    if isinstance(out["min_effect"], Mapping):  # {kpi: value} as in study.yaml interventions
        out["min_effect"] = out["min_effect"].get(out["kpi"])
    problems = []
    if not hid:
        problems.append("needs an id")
    if not out["kpi"]:
        problems.append("needs a kpi")
    if out["design"] not in ("ab", "pre_post", "did", "its"):
        problems.append(f"design '{out['design']}' must be ab, pre_post, did or its")
    if out["direction"] not in ("increase", "decrease", "change"):
        problems.append(f"direction '{out['direction']}' must be increase, decrease or change")
    if out["date"] is None:
        problems.append("needs the intervention date")
    if out["design"] in ("ab", "did") and (not out["treated_column"] or not out["treated_values"]):
        problems.append(f"a '{out['design']}' design needs treated: {{column, values}}")
    if not 0 < out["alpha"] < 1:
        problems.append(f"alpha {out['alpha']} must be between 0 and 1")
    if problems:
        raise ParameterError(f"{where}: " + "; ".join(problems))
    out["date"] = pd.Timestamp(out["date"]) if not isinstance(out["date"], (int, float)) else out["date"]
    return out


_KINDS = {"proportion": "rate", "nps": "points", "mean": "mean"}


def _kpi_info(h: dict, values: pd.Series | None) -> tuple[str, str]:
    """The KPI's name in a sentence and how its changes are shown: rate (percentage points),
    points (NPS) or mean (the KPI's units)."""
    name, kind = KPI_NAMES.get(str(h["kpi"]), (None, None))
    if h.get("kind") in _KINDS:
        kind = _KINDS[h["kind"]]
    if name is None:
        name = str(h["kpi"]).replace("_", " ").capitalize()
    if kind is None:
        kind = "rate" if values is not None and is_binary(values) else "mean"
    if h.get("kpi_label"):
        name = str(h["kpi_label"])
    return name, kind


def _nps_points(scores: pd.Series) -> pd.Series:
    """A 0–10 score as a respondent's NPS contribution: +100 promoter, -100 detractor, 0 passive.
    The mean of this column is the NPS, so any mean-based design estimates NPS changes."""
    s = scores.astype(float)
    return pd.Series(np.where(s >= 9, 100.0, np.where(s <= 6, -100.0, 0.0)), index=s.index).where(s.notna())


# --------------------------------------------------------------------------- language
def _phrase_intervention(h: dict) -> str:
    """'new_checkout' -> 'the new checkout' (or the hypothesis' ``intervention_label``)."""
    if h.get("intervention_label"):
        return str(h["intervention_label"])
    name = str(h.get("intervention") or "the intervention").replace("_", " ")
    return name if name.startswith("the ") else f"the {name}"


def _plural(word: str) -> str:
    word = word.replace("_", " ")
    if word.endswith("s"):
        return word
    if word.endswith("y") and not word.endswith(("ay", "ey", "oy", "uy")):
        return word[:-1] + "ies"
    return word + "s"


def _fmt(x: float, kind: str) -> str:
    if kind == "rate":
        return f"{100 * x:.1f}"
    if kind == "points":
        return f"{x:.1f}"
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _unit(kind: str, value: float | None = None) -> str:
    if kind in ("rate", "points"):
        return " point" if value is not None and abs(value) == 1 else " points"
    return ""


_DESIGN_NAMES = {"did": "difference-in-differences", "ab": "A/B", "pre_post": "pre/post",
                 "its": "interrupted time series"}


def _p_plain(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else (f"{p:.3f}" if p < 0.01 else f"{p:.2f}")


def _p_text(p: float) -> str:
    if p < 0.001:
        return "adjusted p < 0.001"
    return f"adjusted p = {p:.3f}" if p < 0.01 else f"adjusted p = {p:.2f}"


def reading(h: dict, est: Estimate, p_adj: float, decision: str, kind: str, kpi_name: str,
            check_p: float | None = None) -> str:
    """The plain-language sentence for one tested hypothesis."""
    design = h["design"]
    where = ""
    values = h.get("treated_values") or []
    if values and h.get("treated_column"):
        where = " in " + " and ".join(str(v) for v in values)
    iv = _phrase_intervention(h)
    if design == "did":
        context = f"{where} after {iv} compared with other {_plural(h['treated_column'])}"
    elif design == "ab":
        context = f"{where} with {iv} compared with the control group"
    elif design == "its":
        context = f"{where} at the introduction of {iv} (immediate level change, beyond the earlier trend)"
    else:
        context = f"{where} after {iv} compared with before"
    x = est.estimate
    size = f"{_fmt(abs(x), kind)}{_unit(kind, round(abs(x) * (100 if kind == 'rate' else 1), 1))}"
    ci = f"[{_fmt(est.ci_low, kind)}, {_fmt(est.ci_high, kind)}]"
    if not (np.isfinite(est.ci_low) and np.isfinite(est.ci_high)):
        ci = "[no finite interval]"
    if decision in ("not detected", CHECK_FAILED):
        verb = f"changed by {'+' if x >= 0 else '-'}{size} {ci}"
    else:
        verb = f"{'rose' if x > 0 else 'fell'} by {size} {ci}"
    sentence = f"{kpi_name} {verb}{context}"
    if decision == CHECK_FAILED:
        return (sentence + f" ({_p_text(p_adj)}), but this is not supported: the design check failed — the groups "
                f"already diverged before the change (joint test of the pre-period gaps p = {_p_plain(check_p)}), so "
                f"the difference cannot be attributed to {iv}.")
    if decision == "supported":
        sentence += f"; this is unlikely to be chance ({_p_text(p_adj)})."
    elif decision == "opposite":
        sentence += (f" — the opposite of the hypothesized {h['direction']}; this is unlikely to be chance "
                     f"({_p_text(p_adj)}).")
    else:
        sentence += f", which could be chance ({_p_text(p_adj)})"
        mde = est.extra.get("mde")
        if mde is not None and np.isfinite(mde):
            sentence += (f"; these data could only have detected changes of ±{_fmt(abs(mde), kind)}"
                         f"{_unit(kind)} or more")
            me = h.get("min_effect")
            if me and abs(mde) > abs(me):
                sentence += (f", larger than the {_fmt(abs(me), kind)}{_unit(kind)} that would matter, "
                             "so a real effect of that size may have been missed")
        sentence += "."
    return sentence


# --------------------------------------------------------------------------- running
@dataclass
class HypothesisResults:
    """The tested hypotheses: ``table`` (one row each, columns TABLE_COLUMNS), the design
    results by hypothesis id (``details``, for plots), and the correction used."""

    table: pd.DataFrame
    details: dict = field(default_factory=dict)
    correction: str = "holm"

    def summary(self) -> str:
        lines = [f"{len(self.table)} hypotheses; p-values adjusted by {METHODS[self.correction][1]}"]
        lines += [f"- {r.hypothesis}: {r.decision}. {r.reading}" for r in self.table.itertuples()]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def display_table(self) -> pd.DataFrame:
        """The table for a report (the KPI by its title, not its id): effects in display units (points for rates and NPS), the
        interval, p and adjusted p as text, the decision and the reading."""
        rows = []
        for r in self.table.itertuples():
            kind = r.display_kind
            tested = pd.notna(r.estimate)
            unit = _unit(kind).strip()
            fmt = (lambda v: f"{'+' if v >= 0 else '-'}{_fmt(abs(v), kind)}") if tested else None
            rows.append({
                "hypothesis": r.hypothesis, "KPI": _kpi_title(r.kpi), "design": _DESIGN_NAMES.get(r.design, r.design),
                "effect": f"{fmt(r.estimate)}{(' ' + unit) if unit else ''}" if tested else "–",
                "95% CI": f"[{_fmt(r.ci_low, kind)}, {_fmt(r.ci_high, kind)}]" if tested else "–",
                "p": _p_plain(r.p_value) if tested else "–",
                "adjusted p": _p_plain(r.p_adjusted) if tested else "–",
                "decision": r.decision,
                "could detect": f"±{_fmt(abs(r.mde), kind)}" if tested and pd.notna(r.mde) else "–",
                "reading": r.reading,
            })
        return pd.DataFrame(rows)

    def headlines(self) -> list[str]:
        """One sentence per hypothesis, supported ones first: the run index's findings."""
        order = {"supported": 0, "opposite": 1, CHECK_FAILED: 2, "not detected": 3, "not tested": 4}
        t = self.table.assign(_o=self.table["decision"].map(order)).sort_values(["_o", "hypothesis"], kind="stable")
        return [f"{r.hypothesis}: {r.reading}" for r in t.itertuples()]

    def glance(self) -> str:
        """A one-line verdict: how many hypotheses were supported."""
        t = self.table
        tested = int((t["decision"] != "not tested").sum())
        sup = t.loc[t["decision"] == "supported", "hypothesis"].tolist()
        text = f"{len(sup)} of {tested} tested hypotheses supported"
        if sup:
            text += f" ({', '.join(sup)})"
        failed = t.loc[t["decision"] == CHECK_FAILED, "hypothesis"].tolist()
        if failed:
            text += f"; {', '.join(failed)} not supported: design check failed"
        return text + f", p-values adjusted by {METHODS[self.correction][1]}."

    def metrics(self) -> dict:
        """Numbers a later run compares against: each hypothesis' estimate."""
        out = {}
        for r in self.table.itertuples():
            if pd.notna(r.estimate):
                unit = "share" if r.display_kind == "rate" else ("NPS points" if r.display_kind == "points" else "")
                out[f"{r.hypothesis}_effect"] = {"value": float(r.estimate), "label": f"{r.hypothesis}: {r.kpi} effect",
                                                 "unit": unit}
        return out

    def checks(self) -> pd.DataFrame:
        """One row per tested hypothesis: what its design assumes and what the data say about
        it (pre-trends for DiD, the split for A/B, the slope for ITS, pairing for pre/post)."""
        from .designs import ABResult, DiDResult, ITSResult, PrePostResult

        rows = []
        for hid, res in self.details.items():
            if isinstance(res, DiDResult):
                pt = res.pretrend
                if pt is None:
                    why = next((n.split(": ", 1)[-1] for n in res.notes if n.startswith("the joint test")), None)
                    text = ("Whether the groups moved in parallel before the change could not be tested ("
                            + (why or "too few periods before the change")
                            + "); the estimate rests on that assumption unchecked.")
                elif pt["p_value"] >= PRETREND_ALPHA:
                    text = (f"Before the change the two groups moved in parallel: the gaps in the "
                            f"{pt['df_num'] + 1} pre-periods do not differ beyond chance (joint test p = "
                            f"{_p_plain(pt['p_value'])}).")
                else:
                    text = (f"The groups already diverged before the change (joint test of the pre-period gaps "
                            f"p = {_p_plain(pt['p_value'])}): the design check failed, so the hypothesis is not "
                            "supported whatever its p-value.")
                straddlers = res.estimate.extra.get("straddlers")
                if straddlers:
                    text += (f" {straddlers:,} units whose outcome window straddles the change date were left out of "
                             "both periods.")
                check = "parallel trends"
            elif isinstance(res, ABResult):
                check = "sample ratio"
                share = res.srm.estimate
                text = (f"{100 * share:.1f}% of units were in the treated group; "
                        + ("this split is far from the expected one (p = " + _p_plain(res.srm.p_value)
                           + "): check assignment before trusting the effect." if res.srm_flag
                           else f"consistent with the expected split (p = {_p_plain(res.srm.p_value)})."))
            elif isinstance(res, ITSResult):
                check = "trend"
                sl = res.slope
                text = (f"The slope changed by {sl.estimate:+.3g} per period [{sl.ci_low:.3g}, {sl.ci_high:.3g}] "
                        f"after the change; the level change assumes the earlier trend would have continued.")
            elif isinstance(res, PrePostResult):
                check = "comparison"
                text = ("The same units before and after (paired). " if res.paired else
                        "Different units before and after (independent samples). ") + \
                       "Anything else that changed at the same time is mixed into this estimate."
            else:  # pragma: no cover - every design is one of the above
                continue
            rows.append({"hypothesis": hid, "check": check, "finding": text})
        return pd.DataFrame(rows, columns=["hypothesis", "check", "finding"])

    def plot_detail(self, hypothesis: str, ax=None):
        """The design's own plot for one hypothesis: the event study for DiD, the fitted series
        and its counterfactual for ITS, group means for A/B and pre/post."""
        if hypothesis not in self.details:
            raise ParameterError(f"no tested hypothesis '{hypothesis}' (tested: {', '.join(self.details)})")
        ax = self.details[hypothesis].plot(ax=ax)
        row = self.table.set_index("hypothesis").loc[hypothesis]
        ax.set_title(f"{hypothesis} ({row['kpi']}): {ax.get_title()}")
        return ax

    def save(self, path) -> None:
        """Write the table (without plots) to a parquet file, atomically."""
        from ..data import write_parquet

        write_parquet(self.table, path)

    def plot(self, ax=None):
        """Forest plot: each hypothesis' estimate with its interval, in the KPI's display units
        (points for rates), coloured by decision."""
        import matplotlib.pyplot as plt

        t = self.table.dropna(subset=["estimate"])
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 * max(len(t), 2) + 1))
        colors = {"supported": "C2", "opposite": "C3", "not detected": "grey", CHECK_FAILED: "C1"}
        for i, r in enumerate(t.itertuples()):
            scale = 100.0 if r.display_kind == "rate" else 1.0
            ax.errorbar(r.estimate * scale, i, xerr=[[(r.estimate - r.ci_low) * scale], [(r.ci_high - r.estimate) * scale]],
                        fmt="o", color=colors.get(r.decision, "C0"), capsize=4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(t)))
        ax.set_yticklabels([f"{r.hypothesis} ({r.kpi}, {r.design})" for r in t.itertuples()])
        ax.invert_yaxis()
        ax.set_xlabel("effect (points for rates, KPI units otherwise)")
        ax.set_title("Pre-registered hypotheses")
        return ax


def _table_for(data, h: dict, kpi_columns: Mapping[str, str]) -> tuple[pd.DataFrame, str]:
    """The unit table and outcome column for one hypothesis."""
    kpi = str(h["kpi"])
    if isinstance(data, Mapping):
        if kpi not in data:
            raise DataError([f"hypothesis '{h['id']}': no unit table for KPI '{kpi}' "
                             f"(tables for: {', '.join(map(str, data))})"])
        table = data[kpi]
    else:
        table = data
    if isinstance(table, _Missing):
        raise DataError([table.message])
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(f"hypothesis '{h['id']}': the data must be a pandas DataFrame "
                             f"(got {type(table).__name__})")
    column = kpi_columns.get(kpi) or (kpi if kpi in table.columns else "y")
    if column not in table.columns:
        raise DataError([f"hypothesis '{h['id']}': the table has no column '{kpi}' (or 'y') for KPI '{kpi}'; "
                         f"columns: {', '.join(map(str, table.columns[:20]))}"])
    return table, column


#: Columns of a unit table that give each unit's outcome window (``unit_table`` adds them).
WINDOW_START, WINDOW_END = "window_start", "window_end"


def _before_after(d: pd.DataFrame, h: dict, time: str) -> tuple[pd.Series, pd.Series]:
    """Each unit before (0) or after (1) the intervention date by its whole outcome window, and
    whether the window straddles the date (then the unit belongs to neither period).

    With ``window_start``/``window_end`` columns (a customer's first touch and the end of its
    conversion window, a customer-month and the end of the next month for retention) a unit is
    *before* when its window ends before the date, *after* when it starts on or after it, and a
    straddler otherwise: a June first touch with a 30-day window may convert after a July launch.
    Without them a unit's window is its period: the units of a period that contains the date
    (starts before it, ends after it) straddle it."""
    date = h["date"]
    if WINDOW_END in d.columns and pd.api.types.is_datetime64_any_dtype(d[WINDOW_END]):
        start = d[WINDOW_START] if WINDOW_START in d.columns else d[time]
        date = pd.Timestamp(date)
        after = pd.to_datetime(start) >= date
        before = d[WINDOW_END] < date
        return after.astype(int), ~(after | before)
    if pd.api.types.is_datetime64_any_dtype(d[time]):
        date = pd.Timestamp(date)
        after = d[time] >= date
        starts = np.sort(d[time].dropna().unique())
        straddle = pd.Series(False, index=d.index)
        before_starts = starts[starts < np.datetime64(date)]
        if len(before_starts) and np.datetime64(date) not in set(starts):
            last = before_starts[-1]
            later = starts[starts > last]
            if len(later):
                inside = later[0] > np.datetime64(date)
            else:  # the last period: does the date fall within a typical period length of its start?
                step = np.median(np.diff(starts)) if len(starts) > 1 else np.timedelta64(0, "ns")
                inside = np.datetime64(date) < last + step
            if inside:
                straddle = d[time] == last
        return after.astype(int), straddle
    try:
        after = d[time] >= date
    except TypeError:
        raise DataError([f"hypothesis '{h['id']}': the period column '{time}' cannot be compared with the "
                         f"date {date} (make it a datetime column)"]) from None
    return after.astype(int), pd.Series(False, index=d.index)


def _prepare(data: pd.DataFrame, h: dict, column: str, unit: str | None, time: str) -> tuple[pd.DataFrame, int]:
    """The rows of one hypothesis' test with ``_treated`` and ``_post``, and how many units were
    left out because their outcome window straddles the intervention date."""
    need = [c for c in (column, unit, time, h.get("treated_column")) if c]
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise DataError([f"hypothesis '{h['id']}': column(s) {', '.join(map(repr, missing))} not in the table "
                         f"(it has {', '.join(map(str, data.columns[:20]))})"])
    windows = [c for c in (WINDOW_START, WINDOW_END) if c in data.columns and c not in need]
    d = data[list(dict.fromkeys(need + windows))].copy()
    if str(h["kpi"]) == "nps" or h.get("kind") == "nps":
        vals = d[column].dropna()
        if vals.isin([-1, 0, 1]).all():
            d[column] = d[column].astype(float) * 100.0   # promoter coding -> NPS points
        elif vals.between(0, 10).all():
            d[column] = _nps_points(d[column])
    d = d.dropna(subset=[column])
    d[column] = d[column].astype(float)
    if h.get("treated_column"):
        d["_treated"] = d[h["treated_column"]].isin(h["treated_values"]).astype(int)
    post, straddle = _before_after(d, h, time)
    d["_post"] = post
    straddlers = int(straddle.sum())
    d = d[~straddle.to_numpy()]
    if d.empty:
        raise DataError([f"hypothesis '{h['id']}': no rows with a value of '{column}'"
                         + (f" whose outcome window lies wholly before or after {h['date']:%Y-%m-%d} "
                            f"({straddlers} straddle it)" if straddlers else "")])
    return d, straddlers


def _run_one(data, h, column, unit, time, cluster, unit_effects, power, ci_level, did_inference="assignment"):
    design = h["design"]
    if time is None:
        raise ParameterError(f"hypothesis '{h['id']}': pass time= (the period column) to split before/after")
    d, straddlers = _prepare(data, h, column, unit, time)
    alpha, me = h["alpha"], h.get("min_effect")
    label = f"{_kpi_info(h, d[column])[0]}, {h['id']}"
    repeated = unit is not None and unit in d and d[unit].duplicated().any()
    if design == "did" and did_inference == "assignment":
        res = did_by_assignment(d, column, "_treated", "_post", cluster=cluster or h["treated_column"], time=time,
                                ci_level=ci_level, label=f"{label}: difference in differences")
        est = with_power(res.estimate, alpha=alpha, power=power, min_effect=me)
        res.estimate = est
    elif design == "did":
        res = did(d, column, "_treated", "_post", unit=unit if (repeated and unit_effects) else None, time=time,
                  cluster=cluster or (unit if repeated else None), ci_level=ci_level,
                  label=f"{label}: difference in differences")
        est = with_power(res.estimate, alpha=alpha, power=power, min_effect=me)
        res.estimate = est
    elif design == "ab":
        d = d[d["_post"] == 1]
        if repeated:
            d = d.groupby(unit, as_index=False).agg({column: "mean", "_treated": "max"})
        d["_arm"] = np.where(d["_treated"] == 1, "treatment", "control")
        res = ab(d, column, "_arm", treatment="treatment", control="control", alpha=alpha, power=power,
                 expected_split=h.get("expected_split") or 0.5,
                 min_effect=me, ci_level=ci_level, label=f"{label}: treated - control")
        est = res.estimate
    elif design == "pre_post":
        if "_treated" in d:
            d = d[d["_treated"] == 1]
        res = pre_post(d, column, time, h["date"], unit=unit, alpha=alpha, power=power, min_effect=me,
                       ci_level=ci_level, label=f"{label}: after - before")
        est = res.estimate
    else:  # its
        if "_treated" in d:
            d = d[d["_treated"] == 1]
        series = d.groupby(time, as_index=False)[column].mean()
        res = its(series, column, time, h["date"], ci_level=ci_level, label=label)
        est = with_power(res.estimate, alpha=alpha, power=power, min_effect=me)
        res.estimate = est
    if straddlers:
        est.extra["straddlers"] = straddlers
        if hasattr(res, "notes"):
            res.notes.append(f"{straddlers:,} units whose outcome window straddles {h['date']:%Y-%m-%d} were left "
                             "out of both periods")
    return est, res


#: The decision when the design's own check failed (DiD: the groups diverged before the change).
CHECK_FAILED = "not supported: design check failed"


def design_check_failed(res) -> bool:
    """Whether a design's assumption check failed: for difference-in-differences, the joint
    test of the pre-period gaps rejects parallel trends (p < ``PRETREND_ALPHA``)."""
    from .designs import DiDResult

    return isinstance(res, DiDResult) and res.pretrend is not None and res.pretrend["p_value"] < PRETREND_ALPHA


def _decision(h: dict, est: Estimate, p_adj: float, check_failed: bool = False) -> str:
    """supported / opposite / not detected by the adjusted p and the direction; a failed design
    check overrides all three: the estimate cannot be read as the change's effect either way."""
    if check_failed:
        return CHECK_FAILED
    if not (p_adj < h["alpha"]):
        return "not detected"
    if h["direction"] == "change":
        return "supported"
    up = est.estimate > 0
    return "supported" if up == (h["direction"] == "increase") else "opposite"


def test_hypotheses(
    hypotheses: Iterable[Mapping] | Mapping,
    data: pd.DataFrame,
    *,
    unit: str | None = "customer_id",
    time: str | None = "period",
    kpi_columns: Mapping[str, str] | None = None,
    cluster: str | None = None,
    unit_effects: bool = False,
    correction: str = "holm",
    power: float = 0.8,
    ci_level: float = 0.95,
    did_inference: str = "assignment",
) -> HypothesisResults:
    """Test exactly the given pre-registered hypotheses on one unit x period table.

    data: one unit table, or a dict KPI -> unit table (see the module docstring).
    For each hypothesis the KPI column (``kpi_columns[kpi]``, else the KPI's own name, else
    ``y``) is analysed with its design: ``did`` (by default ``did_inference="assignment"``:
    ``cxlab.impact.assignment.did_by_assignment`` on the cells of the treated column (or
    ``cluster``) x period, with randomization inference over the ways the change could have been
    assigned, because the change was assigned to whole regions, not to customers;
    ``did_inference="unit"`` is the unit-level regression with period fixed effects and standard
    errors clustered by ``cluster``, else by unit when units repeat, else HC1 -- valid only when
    treatment was assigned unit by unit; ``unit_effects=True`` adds unit fixed effects there),
    ``ab`` (treated vs the rest after
    the date, one row per unit), ``pre_post`` (the treated rows, or all rows, before vs after,
    paired by unit when possible), ``its`` (the treated rows' per-period mean, segmented
    regression; the level change is tested). p-values are two-sided and adjusted over the
    whole family with ``correction`` ("holm" or "bh"). A hypothesis is "supported" when its
    adjusted p is below its alpha and the estimate goes in the hypothesized direction,
    "opposite" when significant the other way, else "not detected" — and then the reading
    says which effects the data could have detected (the minimum detectable effect at
    ``power``) so a null result is not read as "no effect".

    Units are placed before or after the date by their whole outcome window (``window_start``
    and ``window_end`` columns when the table has them, else their period); units whose window
    straddles the date are left out of both periods and counted (column ``straddlers``).
    When a design's own check fails (DiD: the groups already diverged before the change, joint
    test of the pre-period gaps p < 0.05, column ``check_p``) the decision is "not supported:
    design check failed", whatever the p-value.

    A hypothesis that cannot be tested (a missing column, no rows after the date) gets a row
    whose decision is "not tested" and whose reading says why; the others still run.
    """
    if did_inference not in ("assignment", "unit"):
        raise ParameterError(f"did_inference '{did_inference}' must be 'assignment' or 'unit'")
    if correction not in METHODS:
        raise ParameterError(f"correction '{correction}' must be one of {', '.join(METHODS)}")
    if isinstance(hypotheses, Mapping):
        hypotheses = hypotheses.get("hypotheses", [hypotheses])
    hs = [normalize_hypothesis(h) for h in hypotheses]
    ids = [h["id"] for h in hs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ParameterError(f"hypothesis ids must be unique; repeated: {', '.join(dup)}")
    kpi_columns = dict(kpi_columns or {})
    rows, details = [], {}
    for h in hs:
        values = None
        try:
            table, column = _table_for(data, h, kpi_columns)
            values = table[column]
            est, res = _run_one(table, h, column, unit, time, cluster, unit_effects, power, ci_level,
                                did_inference)
            details[h["id"]] = res
            rows.append((h, est, None, values))
        except (DataError, ParameterError) as exc:
            rows.append((h, None, str(exc), values))
    p_adj = adjust_pvalues([e.p_value if e is not None else None for _, e, _, _ in rows], correction)
    out = []
    for (h, est, err, values), pa in zip(rows, p_adj):
        name, kind = _kpi_info(h, values)
        if est is None:
            out.append({"hypothesis": h["id"], "kpi": h["kpi"], "design": h["design"], "alpha": h["alpha"],
                        "decision": "not tested", "reading": f"Not tested: {err.split(': ', 1)[-1] if err.startswith('hypothesis') else err}",
                        "display_kind": kind})
            continue
        res = details[h["id"]]
        pretrend = getattr(res, "pretrend", None)
        check_p = pretrend["p_value"] if pretrend is not None else None
        decision = _decision(h, est, pa, design_check_failed(res))
        out.append({
            "hypothesis": h["id"], "kpi": h["kpi"], "design": h["design"], "estimate": est.estimate,
            "ci_low": est.ci_low, "ci_high": est.ci_high, "p_value": est.p_value, "p_adjusted": float(pa),
            "alpha": h["alpha"], "decision": decision, "mde": est.extra.get("mde"), "n": est.n,
            "method": est.method, "reading": reading(h, est, pa, decision, kind, name, check_p=check_p),
            "display_kind": kind, "check_p": check_p, "straddlers": est.extra.get("straddlers", 0),
        })
    table = pd.DataFrame(out, columns=TABLE_COLUMNS + ["display_kind"])
    table["n"] = table["n"].astype("Int64")
    table["straddlers"] = table["straddlers"].astype("Int64")
    table["check_p"] = table["check_p"].astype(float)
    return HypothesisResults(table, details, correction)


# pytest collects functions named test_* from modules it imports; this one is not a test
test_hypotheses.__test__ = False


# --------------------------------------------------------------------------- from a study
RESULTS_FILE = "impact_results.parquet"  # the impact stage's output "results" (cxlab.stages)


def read_registration(study) -> dict | None:
    """The registration the objectives stage wrote (its output ``hypotheses``), or None before
    it ran; refused when it was made from other data (StaleOutputError) or in another format."""
    study = Study.load(study)
    registration = read_output(study, "objectives", "hypotheses")
    if registration is None:
        return None
    return check_registration(registration, str(output_path(study, "objectives", "hypotheses")))


def unit_table(study, kpi: str, *, freq: str = "month", treated_column: str | None = None,
               **kpi_options) -> pd.DataFrame:
    """A KPI's unit table for a study, as the impact tests need it: customer_id, period (the
    start of the unit's period at ``freq``), y (the unit's outcome), and ``treated_column``
    (a customer attribute) when given.

    The units and outcomes are the shared KPI library's (``cxlab.kpis.kpi_units``: new
    customers for conversion, customer-periods for retention, survey answers for CSAT/NPS),
    computed in the engine with the KPI settings the hypothesis was registered with
    (``kpi_options``); only these narrow unit rows come back to pandas.
    """
    study = Study.load(study)
    units = kpi_units(study, kpi, freq=freq, **kpi_options)
    cols = ["customer_id", PERIOD_INDEX, "y"]
    window = _window_of(study, kpi, units, kpi_options)
    if window is not None:
        cols.append(window[0])
    if treated_column:
        cust = engine.table(study, "customers")
        if treated_column not in cust.columns:
            raise DataError([f"the customers of study '{study.name}' have no column '{treated_column}' "
                             f"(the treated group of a hypothesis); columns: {', '.join(cust.columns)}"])
        cust = cust.select(_cid="customer_id", **{treated_column: cust[treated_column]})
        units = units.left_join(cust, units.customer_id == cust._cid)
        cols.append(treated_column)
    frame = engine.to_pandas(units.select(*cols))
    frame["period"] = period_start(frame[PERIOD_INDEX].to_numpy(), freq).to_numpy()
    if window is not None:
        frame[WINDOW_START], frame[WINDOW_END] = window[1](frame.pop(window[0]))
    return frame.drop(columns=PERIOD_INDEX)


def _window_of(study, kpi: str, units, kpi_options: dict):
    """How to get each unit's outcome window from its unit table: (column, function returning
    (start, end)), or None when the unit's period is its window (a survey answer). Conversion:
    the first touch and the end of the conversion window; retention and churn: the customer's
    period and the next one, whose activity is the outcome."""
    columns = set(units.columns)
    if kpi in ("conversion_rate", "conversion") and "first_touch" in columns:
        days = conversion_window_days(study, **kpi_options)

        def conversion(first):
            first = pd.to_datetime(first)
            if getattr(first.dt, "tz", None) is not None:
                first = first.dt.tz_convert(None)
            if days is None:  # no window: any later goal counts, the window never closes
                return first, pd.Series(pd.Timestamp.max, index=first.index)
            return first, first + pd.to_timedelta(days, unit="D")
        return "first_touch", conversion
    if kpi in ("retention_rate", "retention", "churn_rate", "churn") and "period_middle" in columns:
        period = kpi_options.get("retention_period") or "month"

        def retention(middle):
            idx = np.array([period_index_of(t, period) for t in pd.to_datetime(middle)])
            start = pd.Series(period_start(idx, period), index=middle.index)
            # the outcome is activity in the next period: the window closes at the end of it
            end = pd.Series(period_start(idx + 2, period), index=middle.index) - pd.Timedelta(microseconds=1)
            return start, end
        return "period_middle", retention
    return None


def test_study_hypotheses(study, hypotheses=None, *, freq: str = "month", correction: str = "holm",
                          power: float = 0.8, ci_level: float = 0.95) -> HypothesisResults:
    """Test a study's pre-registered hypotheses (the objectives stage's output ``hypotheses``,
    or ``hypotheses`` given: a registration or a list) on unit tables built with ``unit_table``
    at period ``freq``; see ``test_hypotheses`` for designs and decisions."""
    study = Study.load(study)
    if hypotheses is None:
        hypotheses = read_registration(study)
        if hypotheses is None:
            raise StudyError(f"No pre-registered hypotheses for study '{study.name}': run the objectives stage "
                             f"first (cxlab run {study.name} --stages objectives).")
    if isinstance(hypotheses, Mapping):
        hypotheses = hypotheses.get("hypotheses", [])
    hs = [normalize_hypothesis(h) for h in hypotheses]
    tables: dict[str, pd.DataFrame] = {}
    errors: dict[str, str] = {}
    for h in hs:
        key = str(h["kpi"])
        if key in tables or key in errors:
            continue
        treated = sorted({x["treated_column"] for x in hs if x["kpi"] == key and x["treated_column"]})
        try:
            t = unit_table(study, key, freq=freq, treated_column=treated[0] if treated else None,
                           **h["kpi_options"])
            for extra in treated[1:]:
                more = unit_table(study, key, freq=freq, treated_column=extra, **h["kpi_options"])
                t[extra] = more[extra].to_numpy()
            tables[key] = t
        except CxlabError as exc:
            errors[key] = str(exc)
    for key, msg in errors.items():  # the runner reports these hypotheses as not tested
        tables[key] = _Missing(msg)
    return test_hypotheses(hypotheses, tables, unit="customer_id", time="period", correction=correction,
                           power=power, ci_level=ci_level)


class _Missing:
    """Stands in for a unit table that could not be built; the runner reports why."""

    def __init__(self, message: str):
        self.message = message


test_study_hypotheses.__test__ = False


def _kpi_title(kpi: str) -> str:
    """A KPI as a reader knows it: its title in the KPI library (a KPI it does not know: the id)."""
    try:
        return get_kpi(str(kpi)).title
    except ParameterError:  # a registration from another cxlab version: show what it says
        return str(kpi)
