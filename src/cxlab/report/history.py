"""A study's runs over time: which runs compare, and how each number moved between them.

Every ``cxlab run`` leaves a folder reports/<study>/<run-id>/ with its run.json. This module reads
them all (``list_runs``), says what a run records for later runs (``input_digests``,
``headline_kpis``) and decides which earlier run each run's numbers are compared with and how they
moved (``compare``); ``cxlab.report.runs`` writes the history page from it and prunes old runs.

**Comparable.** A stage's numbers in run B are compared with those of the latest earlier run A
of the same study (same study folder: same reports/<study>/) in which

1. the run was not interrupted, and
2. that stage finished ("ok": not failed, blocked, skipped or interrupted) and wrote its record.

A run in between that does not meet both is listed on the history page, named as passed over,
and never compared against. A headline KPI (the objectives stage's KPI table over the whole log)
is compared only when its definition is the same in both runs: the KPI and the settings that
define it (the conversion window for conversion; the horizon for repeat purchase; retention period
and activity for retention and churn; the goal touchpoints for the KPIs that count orders). When the definition changed, the
row says "not compared" and names the change. Input data may differ (a newer export of the same
study): the change is then shown with what changed in the data beside it (files, events,
customers); changed parameters of the stage, or of the stages it reads from, and a new cxlab
version are named beside it too.

**The change and its noise band.** A change is shown in the KPI's unit: percentage points for
shares, NPS points for NPS, the log's currency for money, scale points for scores. Its 95%
interval is the change ± 1.96·√(se_A² + se_B²), each run's standard error taken as its own 95%
interval's width ÷ (2 × 1.96). That treats the two runs as independent samples; two exports of
one study share most customers, whose values are positively correlated between the runs, so the
interval is conservative (wider than the exact one): a change it calls "beyond noise" is so at
least at the 5% level. With the same data tables (the same fingerprint, or only study.yaml
changed) nothing was sampled anew: the change is exactly 0 unless parameters, study.yaml or cxlab
changed ("changed on the same data"), and no interval is shown. A number a stage
records without an interval gets no band ("no interval recorded").
"""
from __future__ import annotations

import datetime as dt
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any, Iterator

from .. import data, paths
from ..kpis import get_kpi, kpi_settings
from ..privacy import redact
from ..stages import STAGES
from ..study import DatabaseTable, Study
from .workspace import file_lock, workspace_in_use

__all__ = [
    "HEADLINE_STAGE",
    "HISTORY_PAGE",
    "RunFolder",
    "list_runs",
    "input_digests",
    "headline_kpis",
    "compare",
    "not_comparable",
    "kpi_unit",
    "parameter_changes",
    "data_change",
    "referenced_runs",
    "history_lock",
]

HEADLINE_STAGE = "objectives"  # the stage whose KPI table holds the headline KPIs
HISTORY_PAGE = "history.html"  # reports/<study>/history.html
_LOCK = ".history.lock"  # reports/<study>/.history.lock: comparing, writing history and run.json, pruning
_Z95 = NormalDist().inv_cdf(0.975)
STARTING_GRACE_SECONDS = 600  # a run folder without run.json younger than this may be a run starting up
_NOT_PARAMETERS = {"study", "report_dir"}  # set by the runner for every run; not the user's choice
# KPIs that count orders (goal touchpoints): their definition includes the goal touchpoints
_ORDER_KPIS = {"conversion_rate", "repeat_purchase_rate", "average_order_value"}


# --------------------------------------------------------------------------- the runs on disk
@dataclass
class RunFolder:
    """One folder under reports/<study>/. ``state``: ok | failed | interrupted (from run.json),
    running (no run.json yet, its workspace held by a live run, or made in the last
    ``STARTING_GRACE_SECONDS``), unfinished (no run.json and no live run: killed)."""

    run_id: str
    folder: Path
    meta: dict | None
    state: str
    started: dt.datetime

    @property
    def finished(self) -> bool:
        return self.meta is not None

    def stage_status(self, stage: str) -> str | None:
        return _stage_status(self.meta or {}, stage)


def _stage_status(meta: dict, stage: str) -> str | None:
    return next((s.get("status") for s in meta.get("stages") or [] if s.get("stage") == stage), None)


def _started(meta: dict | None, folder: Path) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str((meta or {}).get("started")))
        return when if when.tzinfo else when.astimezone()
    except ValueError:
        return dt.datetime.fromtimestamp(folder.stat().st_mtime).astimezone()


def list_runs(study: Study, current: dict | None = None) -> list[RunFolder]:
    """Every run folder of the study, oldest first (by start time, then run id). ``current``: a
    run's metadata not yet written to its run.json (the run now finishing), used for its folder."""
    runs: list[RunFolder] = []
    reports = study.reports_dir
    if not reports.is_dir():
        return runs
    for folder in reports.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        meta = None
        if current is not None and current.get("run_id") == folder.name:
            meta = current
        elif (folder / "run.json").is_file():
            try:
                meta = data.read_json(folder / "run.json")
            except (OSError, ValueError):
                meta = None
            meta = meta if isinstance(meta, dict) else None
        if meta is not None:
            state = meta.get("status") or "ok"
        else:
            live = workspace_in_use(paths.workspace_dir(study.root, folder.name))
            young = time.time() - folder.stat().st_mtime < STARTING_GRACE_SECONDS
            state = "running" if live or young else "unfinished"
        runs.append(RunFolder(folder.name, folder, meta, state, _started(meta, folder)))
    return sorted(runs, key=lambda r: (r.started, r.run_id))


# --------------------------------------------------------------------------- what a run records
def input_digests(study: Study) -> dict[str, dict]:
    """What the run read, file by file: study.yaml and each table -> {file, sha256 (16 hex
    digits)}. Beside the run's one fingerprint, it tells which input changed between two runs."""
    out = {"study.yaml": {"file": "study.yaml", "sha256": _digest([study.root / "study.yaml"])}}
    for name, path in sorted(study.tables.items()):
        if isinstance(path, DatabaseTable):  # a table in a database: the digest of its content (cxlab.warehouse)
            out[name] = {"file": path.name, "sha256": data.database_digest(study, name)}
            continue
        files = data.folder_files(path) if path.is_dir() else [path]
        out[name] = {"file": path.name, "sha256": _digest(files)}
    return out


def _digest(files: list[Path]) -> str:
    """16 hex digits of the files' SHA-256 (``cxlab.data.files_digest``, as the fingerprint)."""
    return data.files_digest(files).hexdigest()[:16]


def _plain_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def headline_kpis(study: Study, kpis, record: dict | None) -> list[dict]:
    """The run's headline KPIs for run.json: each row of the objectives stage's KPI table (a
    DataFrame: kpi, estimate, ci_low, ci_high, n, method) with its unit and its definition (the
    settings from the stage's record that define it), the KPIs the study's objectives name first."""
    used = (record or {}).get("parameters") or {}
    # the KPI options the stage computed with, as its record states them
    options = {"window_days": used.get("conversion_window_days", study.conversion_window_days),
               **{k: used[k] for k in ("repeat_horizon_days", "retention_period", "activity") if k in used}}
    named = [o.kpi for o in study.objectives]
    rows = []
    for row in kpis.to_dict("records"):
        spec = get_kpi(row["kpi"])
        definition = kpi_settings(study, spec.name, **options)
        if spec.name in _ORDER_KPIS or (spec.name in ("retention_rate", "churn_rate")
                                        and definition.get("activity") == "purchase"):
            definition["goal_touchpoints"] = sorted(study.goal_touchpoints)
        rows.append({"kpi": spec.name, "title": spec.title, "unit": spec.unit,
                     "estimate": _plain_number(row.get("estimate")), "ci_low": _plain_number(row.get("ci_low")),
                     "ci_high": _plain_number(row.get("ci_high")), "n": int(row.get("n") or 0),
                     "method": str(row.get("method") or ""), "definition": definition,
                     "objective": spec.name in named})
    return sorted(rows, key=lambda r: (not r["objective"], named.index(r["kpi"]) if r["objective"] else 0))


# --------------------------------------------------------------------------- units
@dataclass(frozen=True)
class _Unit:
    """How a number and a change of it read: 'share' (49.4%, +1.2 points), 'nps' (NPS points),
    'count' (1,234), 'money' (the log's currency), 'score' (scale points) or 'number'."""

    kind: str
    name: str  # what the change column says the unit is

    def value(self, v: float | None) -> str:
        if v is None:
            return "–"
        if self.kind == "share":
            return f"{v * 100:.1f}%"
        if self.kind == "nps":
            return f"{v:.1f}"
        if self.kind == "count":
            return f"{v:,.0f}"
        if self.kind in ("money", "score"):
            return f"{v:,.2f}"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"

    def rounds_to_zero(self, d: float) -> bool:
        """Whether the change shows as 0 at the precision values are shown at."""
        digits = {"share": 3, "nps": 1, "count": 0, "money": 2, "score": 2}.get(self.kind, 3)
        return round(d, digits) == 0

    def span(self, low: float, high: float) -> str:
        """An interval of a change: '-0.1 to +14.1 points'."""
        if self.kind in ("share", "nps"):
            scale, suffix = (100, " points") if self.kind == "share" else (1, " NPS points")
            return f"{low * scale:+.1f} to {high * scale:+.1f}{suffix}"
        return f"{self.change(low)} to {self.change(high)}"

    def change(self, d: float | None) -> str:
        if d is None:
            return "–"
        if d == 0:
            return "0" + (" points" if self.kind == "share" else " NPS points" if self.kind == "nps" else "")
        if self.kind == "share":
            return f"{d * 100:+.1f} points"
        if self.kind == "nps":
            return f"{d:+.1f} NPS points"
        if self.kind == "count":
            return f"{d:+,.0f}"
        return ("+" if d >= 0 else "-") + self.value(abs(d))


def kpi_unit(unit: str) -> _Unit:
    if unit == "share":
        return _Unit("share", "percentage points")
    if unit == "NPS points":
        return _Unit("nps", "NPS points")
    if unit == "currency":
        return _Unit("money", "currency")
    if unit.startswith("score"):
        return _Unit("score", f"points on the {unit[len('score '):]} scale")
    return _Unit("number", unit or "")


_COUNTS = {"events", "customers", "clustered_customers", "k", "distinct_variants", "opportunities",
           "top_pain_point_reach", "hypotheses"}
_SHARE_WORDS = ("rate", "share", "coverage", "probability", "completion")


def _metric_unit(name: str, unit: str | None) -> _Unit:
    """A stage metric's unit: the one it records, else read from its name (a count, a share, a
    ratio or a plain number such as a silhouette or an R²)."""
    if unit:
        return kpi_unit(unit)
    low = name.lower()
    if low in _COUNTS:
        return _Unit("count", "count")
    if "hazard_ratio" in low:
        return _Unit("number", "ratio")
    if any(w in low for w in _SHARE_WORDS):
        return _Unit("share", "percentage points")
    return _Unit("number", "")


# --------------------------------------------------------------------------- comparing two runs
def not_comparable(meta: dict, stage: str) -> str | None:
    """Why ``meta`` cannot be a baseline for ``stage``'s numbers (None: it can)."""
    if meta.get("status") == "interrupted":
        return "the run was interrupted"
    status = _stage_status(meta, stage)
    if status is None:
        return f"the {_stage_name(stage)} stage was not part of the run"
    if status != "ok":
        return f"the {_stage_name(stage)} stage {status}" + (" (not run)" if status == "blocked" else "")
    if not (meta.get("summaries") or {}).get(stage):
        return f"the {_stage_name(stage)} stage left no record"
    return None


def _stage_name(stage: str) -> str:
    return stage.replace("_", " ")


def _baseline(earlier: list[dict], stage: str) -> tuple[dict | None, list[dict]]:
    """The latest of ``earlier`` (oldest first) comparable for ``stage``, and the later runs
    passed over with why."""
    passed = []
    for meta in reversed(earlier):
        why = not_comparable(meta, stage)
        if why is None:
            return meta, passed
        passed.append({"run_id": meta.get("run_id"), "why": why})
    return None, passed


def _parameters(meta: dict, stage: str, records: bool) -> dict:
    """A stage's parameters in a run: those its record says it used (defaults included) when
    ``records``, else those the run was given."""
    if records:
        params = ((meta.get("summaries") or {}).get(stage) or {}).get("parameters") or {}
    else:
        params = (meta.get("parameters") or {}).get(stage) or {}
    return {k: v for k, v in params.items() if k not in _NOT_PARAMETERS}


def parameter_changes(before: dict, after: dict, stages) -> list[str]:
    """'stage: name old → new' for every parameter of ``stages`` that differs between two runs
    (the parameters the stages' records say they used when both runs have them)."""
    out = []
    for stage in stages:
        both = all(((m.get("summaries") or {}).get(stage) or {}).get("parameters") is not None
                   for m in (before, after))
        old, new = _parameters(before, stage, both), _parameters(after, stage, both)
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                out.append(f"{_stage_name(stage)}: {name} {_shown(old.get(name))} → {_shown(new.get(name))}")
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "default"  # not given to the run (or not recorded by that cxlab): the notebook's default
    if value == "":
        return "''"
    return redact(str(value))


def _upstream(stage: str) -> list[str]:
    """The stage and every stage it reads from, directly or through another, in method order."""
    seen, todo = {stage}, [stage]
    while todo:
        current = todo.pop()
        for d in STAGES[current].depends if current in STAGES else ():
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return [s for s in STAGES if s in seen]


def data_change(before: dict, after: dict) -> dict:
    """Whether the two runs read the same data tables (``same``: nothing was sampled anew, so
    a change is not noise), and what changed, in words: the fingerprint, the files, the events
    and customers intake counted."""
    fa, fb = before.get("fingerprint"), after.get("fingerprint")
    if fa and fa == fb:
        return {"same": True, "text": f"Same input data (fingerprint {fb})"}
    parts = []
    ia, ib = before.get("inputs") or {}, after.get("inputs") or {}
    if ia and ib:
        changed = [k for k in sorted(set(ia) | set(ib))
                   if (ia.get(k) or {}).get("sha256") != (ib.get(k) or {}).get("sha256")]
        if changed == ["study.yaml"]:
            return {"same": True, "text": f"Same data tables; study.yaml changed (fingerprint {fa} → {fb})"}
        if changed:
            files = [(ib.get(k) or ia.get(k) or {}).get("file", k) for k in changed]
            parts.append("changed: " + ", ".join(redact(f) for f in files))
    ma = ((before.get("summaries") or {}).get("intake") or {}).get("metrics") or {}
    mb = ((after.get("summaries") or {}).get("intake") or {}).get("metrics") or {}
    for name in ("events", "customers"):
        if isinstance(ma.get(name), (int, float)) and isinstance(mb.get(name), (int, float)):
            parts.append(f"{name} {ma[name]:,} → {mb[name]:,}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return {"same": False, "text": f"Input data changed: fingerprint {fa or 'unknown'} → {fb or 'unknown'}{detail}"}


def _band(d: float, before: tuple, after: tuple) -> tuple[float, float] | None:
    """The 95% interval of the change (see the module doc), None without both intervals."""
    ses = []
    for _value, lo, hi in (before, after):
        if lo is None or hi is None:
            return None
        ses.append((hi - lo) / (2 * _Z95))
    half = _Z95 * math.sqrt(ses[0] ** 2 + ses[1] ** 2)
    return d - half, d + half


def _change_row(label: str, unit: _Unit, before: tuple, after: tuple, same_data: bool,
                higher_is_better: bool | None = None) -> dict:
    """One row of a change table: the two values (each (value, ci_low, ci_high)), the change in
    the unit, its 95% interval and the verdict."""
    a, b = before[0], after[0]
    d = b - a
    tolerance = 1e-9 * max(1.0, abs(a), abs(b))
    band = None if same_data else _band(d, before, after)
    shown_change = unit.change(d)
    if abs(d) <= tolerance:
        d, verdict, shown_change = 0.0, "no change", unit.change(0.0)
    elif unit.rounds_to_zero(d):  # the exact change is kept; the page shows what its precision can
        verdict, shown_change = "no change", unit.change(0.0)
    elif same_data:
        verdict = "changed on the same data"
    elif band is None:
        verdict = "no interval recorded"
    else:
        verdict = "beyond noise" if band[0] > 0 or band[1] < 0 else "within noise"
    css = ""
    if verdict in ("beyond noise", "changed on the same data") and higher_is_better is not None:
        css = "better" if (d > 0) == higher_is_better else "worse"

    def shown(values: tuple) -> str:
        value, lo, hi = values
        text = unit.value(value)
        return text + (f" [{unit.value(lo)} to {unit.value(hi)}]" if lo is not None and hi is not None else "")

    return {"label": label, "unit": unit.name, "before": shown(before), "after": shown(after),
            "before_value": a, "after_value": b, "change_value": d, "change": shown_change,
            "band_low": band[0] if band else None, "band_high": band[1] if band else None,
            "band": unit.span(*band) if band else "",
            "verdict": verdict, "css": css}


def _kpi_rows(before: dict, after: dict, same_data: bool) -> list[dict]:
    old = {k["kpi"]: k for k in before.get("kpis") or []}
    rows = []
    for k in after.get("kpis") or []:
        spec = get_kpi(k["kpi"])
        unit = kpi_unit(k.get("unit", spec.unit))
        label = k.get("title") or spec.title
        prev = old.get(k["kpi"])
        if prev is None or prev.get("estimate") is None or k.get("estimate") is None:
            rows.append({"label": label, "kpi": k["kpi"], "unit": unit.name, "before": "–",
                         "after": unit.value(k.get("estimate")), "change": "", "band": "", "css": "",
                         "verdict": "not compared: the earlier run has no value"})
            continue
        if (prev.get("definition") or {}) != (k.get("definition") or {}):
            changed = _definition_change(prev.get("definition") or {}, k.get("definition") or {})
            rows.append({"label": label, "kpi": k["kpi"], "unit": unit.name,
                         "before": unit.value(prev["estimate"]), "after": unit.value(k["estimate"]),
                         "change": "", "band": "", "css": "", "verdict": f"not compared: definition changed ({changed})"})
            continue
        row = _change_row(label, unit, (prev["estimate"], prev.get("ci_low"), prev.get("ci_high")),
                          (k["estimate"], k.get("ci_low"), k.get("ci_high")), same_data, spec.higher_is_better)
        rows.append({**row, "kpi": k["kpi"], "n": [prev.get("n"), k.get("n")]})
    return rows


_SETTING_NAMES = {"window_days": "conversion window (days)", "repeat_horizon_days": "repeat purchase horizon (days)",
                  "retention_period": "retention period", "activity": "activity counted",
                  "goal_touchpoints": "goal touchpoints"}


def _definition_change(old: dict, new: dict) -> str:
    """'conversion window (days) 30 → 60': the settings that differ between two definitions."""
    def shown(value: Any) -> str:
        if value is None:
            return "none"
        return ", ".join(redact(str(v)) for v in value) if isinstance(value, list) else redact(str(value))

    return "; ".join(f"{_SETTING_NAMES.get(k, k.replace('_', ' '))} {shown(old.get(k))} → {shown(new.get(k))}"
                     for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))


def _metric_rows(before: dict, after: dict, stage: str, same_data: bool) -> list[dict]:
    old = (((before.get("summaries") or {}).get(stage) or {}).get("metrics")) or {}
    new = (((after.get("summaries") or {}).get(stage) or {}).get("metrics")) or {}
    rows = []
    for name, value in new.items():
        if name not in old:
            continue
        b, label, unit_name, b_lo, b_hi = _metric(value)
        a, _, _, a_lo, a_hi = _metric(old[name])
        label = redact(label or name.replace("_", " ").capitalize())
        if isinstance(b, str) or isinstance(a, str):
            same = str(a) == str(b)
            rows.append({"label": label, "unit": "", "before": redact(str(a)), "after": redact(str(b)),
                         "change": "" if same else "changed", "band": "", "css": "",
                         "verdict": "no change" if same else ("changed on the same data" if same_data else "changed")})
            continue
        if a is None or b is None:
            continue
        unit = _metric_unit(name, unit_name)
        rows.append({**_change_row(label, unit, (a, a_lo, a_hi), (b, b_lo, b_hi), same_data), "metric": name})
    return rows


def _metric(value: Any) -> tuple[Any, str, str | None, float | None, float | None]:
    """(value, label, unit, ci_low, ci_high) of a recorded metric: a number, a text, or
    {value|estimate, label, unit, ci_low, ci_high}."""
    if isinstance(value, dict):
        v = value.get("value", value.get("estimate"))
        v = v if isinstance(v, str) else _plain_number(v)
        return (v, str(value.get("label") or ""), value.get("unit"), _plain_number(value.get("ci_low")),
                _plain_number(value.get("ci_high")))
    if isinstance(value, bool):
        return None, "", None, None, None
    if isinstance(value, (int, float)):
        return _plain_number(value), "", None, None, None
    if isinstance(value, str):
        return value, "", None, None, None
    return None, "", None, None, None


def _group(stage: str, title: str, after: dict, earlier: list[dict], rows_of) -> dict:
    """One group of the comparison: a stage's numbers against its baseline run."""
    base, passed = _baseline(earlier, stage)
    group = {"stage": stage, "title": title, "against": None, "against_started": None, "passed_over": passed,
             "data": None, "parameters": [], "version": None, "rows": [], "why_none": ""}
    if base is None:
        group["why_none"] = ("the first run of this study" if not earlier else
                             f"no earlier run in which the {_stage_name(stage)} stage finished")
        return group
    change = data_change(base, after)
    group.update(against=base.get("run_id"), against_started=base.get("started"), data=change,
                 parameters=parameter_changes(base, after, _upstream(stage)), rows=rows_of(base, change["same"]))
    if base.get("version") != after.get("version"):
        group["version"] = f"cxlab {base.get('version')} → {after.get('version')}"
    return group


def compare(study: Study, meta: dict, runs: list[RunFolder] | None = None) -> dict:
    """How run ``meta``'s numbers moved since the last comparable run (see the module doc), as
    plain values for run.json and the index: ``headline`` (the KPI table, or why there is none)
    and ``groups`` (every other number each finished stage recorded, one group per stage)."""
    runs = list_runs(study, current=meta) if runs is None else runs
    me = next((i for i, r in enumerate(runs) if r.run_id == meta.get("run_id")), len(runs))
    earlier = [r.meta for r in runs[:me] if r.meta is not None]
    headline = None
    if not_comparable(meta, HEADLINE_STAGE) is None and meta.get("kpis"):
        headline = _group(HEADLINE_STAGE, "Headline KPIs", meta, earlier,
                          lambda base, same: _kpi_rows(base, meta, same))
    groups = []
    for s in meta.get("stages") or []:
        stage = s.get("stage")
        if stage not in STAGES or not_comparable(meta, stage) is not None:
            continue
        title = ((meta.get("summaries") or {}).get(stage) or {}).get("title") or STAGES[stage].title
        group = _group(stage, title, meta, earlier, lambda base, same, st=stage: _metric_rows(base, meta, st, same))
        if group["rows"] or group["against"] is None:
            groups.append(group)
    why = ""
    if headline is None:
        why = not_comparable(meta, HEADLINE_STAGE) or "this run recorded no KPI table"
    return {"headline": headline, "headline_missing": why, "groups": groups}


def referenced_runs(comparison: dict | None) -> set[str]:
    """Run ids a stored comparison names (its baselines and the runs it passed over)."""
    if not comparison:
        return set()
    out = set()
    for group in [comparison.get("headline")] + list(comparison.get("groups") or []):
        if group:
            out |= {group.get("against")} | {p.get("run_id") for p in group.get("passed_over") or []}
    return {r for r in out if r}


# --------------------------------------------------------------------------- the lock
@contextmanager
def history_lock(study: Study) -> Iterator[None]:
    """Hold reports/<study>/.history.lock: a run compares, writes its index, the history page
    and its run.json under it, and pruning removes folders under it, so the page never lists a
    run that is gone or misses one that finished meanwhile."""
    with file_lock(study.reports_dir / _LOCK):
        yield
