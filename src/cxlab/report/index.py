"""The run index: headline findings of each stage, run metadata, and change since last run."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from ..study import Study
from ..notebook.display import fmt_num
from ..privacy import redact

__all__ = ["write_index", "previous_run", "metric_changes", "run_history"]


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cxlab", "templates"),
        autoescape=True,  # every value is escaped: headlines may quote customers
        undefined=jinja2.StrictUndefined,
    )


def run_history(study: Study) -> list[dict]:
    """Metadata of every finished run of the study, oldest first."""
    runs = []
    if not study.reports_dir.exists():
        return runs
    for meta_file in sorted(study.reports_dir.glob("*/run.json")):
        try:
            runs.append(json.loads(meta_file.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(runs, key=lambda m: m.get("started", ""))


def previous_run(study: Study, run_id: str) -> dict | None:
    """The latest earlier run that wrote summaries (an interrupted run published nothing: never)."""
    earlier = [m for m in run_history(study)
               if m.get("run_id") != run_id and m.get("summaries") and m.get("status") != "interrupted"]
    earlier = [m for m in earlier if m.get("run_id", "") < run_id] or earlier
    return earlier[-1] if earlier else None


def _metric_value(value: Any) -> tuple[float | None, str, str]:
    """(number, label, unit) from a summary metric: a number or {value, label, unit}."""
    if isinstance(value, dict):
        v = value.get("value", value.get("estimate"))
        return (float(v) if isinstance(v, (int, float)) else None, value.get("label", ""), value.get("unit", ""))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), "", ""
    return None, "", ""


def _fmt(value: float, unit: str) -> str:
    if unit in ("share", "%", "pct"):
        return f"{value * 100:,.1f}%"
    return fmt_num(value, 2) if abs(value) < 1000 else f"{value:,.0f}"


def metric_changes(before: dict, after: dict) -> list[dict]:
    """How each metric that both runs report moved: rows for the index's change table."""
    rows = []
    for stage, summary in (after.get("summaries") or {}).items():
        old = ((before.get("summaries") or {}).get(stage) or {}).get("metrics", {})
        for name, value in ((summary or {}).get("metrics") or {}).items():
            new_v, label, unit = _metric_value(value)
            old_v, _, _ = _metric_value(old.get(name))
            if new_v is None or old_v is None:
                continue
            before_text, after_text = _fmt(old_v, unit), _fmt(new_v, unit)
            delta = new_v - old_v
            if unit in ("share", "%", "pct"):
                delta_text = f"{delta * 100:+,.1f} points"
            else:
                delta_text = f"{delta:+,.2f}"
            if before_text == after_text or delta_text.lstrip("+-") in ("0.0 points", "0.00"):
                delta, delta_text = 0.0, "no change"  # a change below the shown precision
            rows.append(
                {
                    "label": label or f"{stage}: {name.replace('_', ' ')}",
                    "before": before_text,
                    "after": after_text,
                    "delta": delta_text,
                    "css": "up" if delta > 0 else ("down" if delta < 0 else ""),
                }
            )
    return rows


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def write_index(study: Study, run_dir: Path, meta: dict) -> Path:
    from ..stages import STAGES

    stages = []
    for s in meta["stages"]:
        summary = (meta.get("summaries") or {}).get(s["stage"]) or {}
        stages.append(
            {
                "title": summary.get("title") or (STAGES[s["stage"]].title if s["stage"] in STAGES else s["stage"]),
                "status": s["status"],
                "html": s.get("html"),
                "duration": (
                    _duration(s["seconds"]) + (f" · peak {s['kernel_peak_mb']:,.0f} MB" if s.get("kernel_peak_mb") else "")
                    if s["status"] not in ("skipped", "blocked") else ""
                ),
                "headlines": [redact(h) for h in summary.get("headlines", [])],
                # what the stage could not compute on this study's data, and why (named skips)
                "notes": [redact(n) for n in summary.get("notes", [])],
                "error": redact(s.get("error")) if s.get("error") else "",
            }
        )
    glance = []
    for s in meta["stages"]:  # what a manager reads first: objectives, pain, impact verdicts
        summary = (meta.get("summaries") or {}).get(s["stage"]) or {}
        lines = summary.get("glance") or summary.get("headlines", [])[:1]
        if s["stage"] != "intake":
            glance += [{"title": summary.get("title", s["stage"]), "text": redact(t)} for t in lines]
    failed = [s for s in meta["stages"] if s["status"] == "failed"]
    run = dict(meta)
    run["duration"] = _duration(meta.get("duration_seconds", 0))
    blocked = [s["stage"] for s in meta["stages"] if s["status"] == "blocked"]
    if meta.get("status") == "interrupted":
        run["status_text"] = (f"interrupted ({meta.get('interrupted_by') or 'stopped'}): nothing of this run "
                              "was published; the stages' pages below are what ran before the stop")
    elif failed:
        run["status_text"] = (f"stage {', '.join(s['stage'] for s in failed)} failed"
                              + (f"; not run, as they read from it: {', '.join(blocked)}" if blocked else ""))
    elif meta.get("error"):
        run["status_text"] = f"failed: {redact(meta['error'])}"
    else:
        run["status_text"] = f"{len(meta['stages'])} stage(s) ran"
    prev = previous_run(study, meta["run_id"])
    changes = metric_changes(prev, meta) if prev else []
    page = _env().get_template("index.html.j2").render(
        study={"title": redact(study.title), "description": redact(study.description), "root": str(study.root)},
        run=run,
        stages=stages,
        glance=glance,
        changes=changes,
        changes_since=prev.get("run_id") if prev else "",
    )
    from .html import write_page  # atomic; a full disk is a named ReportWriteError

    return write_page(run_dir / "index.html", page)
