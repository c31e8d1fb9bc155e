"""The run index: the headline findings of each stage, how the run's numbers moved since the last
comparable run (``history.compare``: headline KPIs first, every other number folded), links to
the earlier run and to the study's run history, and the run's details."""
from __future__ import annotations

from pathlib import Path

import jinja2
import markupsafe

from ..study import Study
from ..metrics import figures_html
from ..privacy import redact
from . import history

__all__ = ["write_index", "template_env"]


def template_env() -> jinja2.Environment:
    """The Jinja environment of cxlab's own pages (the index, the history page)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cxlab", "templates"),
        autoescape=True,  # every value is escaped: headlines may quote customers
        undefined=jinja2.StrictUndefined,
    )


def _run_link(run_dir: Path, run_id: str | None) -> str | None:
    """The relative link to another run's index, None when that run's folder (or index) is gone."""
    if run_id and (run_dir.parent / run_id / "index.html").is_file():
        return f"../{run_id}/index.html"
    return None


def _since(comparison: dict, run_dir: Path) -> dict:
    """The comparison as the index shows it: links only to runs whose index still exists."""
    def shown(group: dict | None) -> dict | None:
        if group is None:
            return None
        return {**group, "link": _run_link(run_dir, group.get("against")),
                "passed_over": [{**p, "link": _run_link(run_dir, p.get("run_id"))}
                                for p in group.get("passed_over") or []]}

    groups = [shown(g) for g in comparison.get("groups") or []]
    headline = shown(comparison.get("headline"))
    against = (headline or {}).get("against") or next((g["against"] for g in groups if g["against"]), None)
    return {"headline": headline, "headline_missing": comparison.get("headline_missing", ""),
            "groups": groups, "rows": sum(len(g["rows"]) for g in groups),
            "against": against, "against_link": _run_link(run_dir, against)}


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def write_index(study: Study, run_dir: Path, meta: dict) -> Path:
    """Write run_dir/index.html from the run's metadata (run.json's content); see the module doc."""
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
                # redacted and escaped, marked figures as cx-figure spans (cxlab.metrics)
                "headlines": [markupsafe.Markup(figures_html(h)) for h in summary.get("headlines", [])],
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
            glance += [{"title": summary.get("title", s["stage"]), "text": markupsafe.Markup(figures_html(t))} for t in lines]
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
    # a run records its comparison (run.json); one rendered again after pruning shows the same
    comparison = meta["comparison"] if meta.get("comparison") is not None else history.compare(study, meta)
    page = template_env().get_template("index.html.j2").render(
        study={"title": redact(study.title), "description": redact(study.description), "root": str(study.root)},
        run=run,
        stages=stages,
        glance=glance,
        since=_since(comparison, run_dir),
        history_page=f"../{history.HISTORY_PAGE}",
    )
    from .html import write_page  # atomic; a full disk is a named ReportWriteError

    return write_page(run_dir / "index.html", page)
