"""The run folders of a study as a whole: reports/<study>/history.html, and pruning old runs.

The history page lists every run (date, status, data fingerprint, what changed in the data and the
parameters since the run before, the run its KPIs were compared with, a link to its index, its
size) and draws each headline KPI over the runs with its 95% interval; ``prune_runs`` (the
``cxlab runs <study> --keep N`` command) removes old run folders. Which runs compare, and how a
change is judged, is ``cxlab.report.history``.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CxlabError, ParameterError
from ..kpis import get_kpi
from ..privacy import redact
from ..stages import STAGES
from ..study import Study
from .history import (HEADLINE_STAGE, HISTORY_PAGE, RunFolder, data_change, history_lock, kpi_unit, list_runs,
                      not_comparable, parameter_changes, referenced_runs)

__all__ = ["run_rows", "write_history", "prune_runs", "PruneResult", "folder_bytes", "size_text"]


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (links not followed)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def size_text(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} B"


# --------------------------------------------------------------------------- the history page
def _status_text(run: RunFolder) -> str:
    if run.meta is None:
        return {"running": "running (or starting)", "unfinished": "unfinished: no run.json (the run was killed)"}[
            run.state]
    bad = [f"{s['stage']} {s['status']}" for s in run.meta.get("stages") or []
           if s.get("status") in ("failed", "blocked", "interrupted")]
    text = run.state + (f": {', '.join(bad)}" if bad else "")
    if run.meta.get("error") and not bad:
        text += ": " + redact(str(run.meta["error"]))[:200]
    return text


def run_rows(runs: list[RunFolder], sizes: bool = False) -> list[dict]:
    """One row per run, oldest first: id, date, status, fingerprint, what changed in the data and
    the parameters since the run before it, and (``sizes``) the folder's bytes."""
    rows, previous = [], None
    for run in runs:
        meta = run.meta or {}
        row = {"run_id": run.run_id, "started": run.started.strftime("%Y-%m-%d %H:%M"), "state": run.state,
               "status": _status_text(run), "fingerprint": meta.get("fingerprint") or "–",
               "index": "index.html" if (run.folder / "index.html").is_file() else None,
               "data_changed": "", "parameters_changed": [], "stages": ", ".join(
                   s.get("stage", "") for s in meta.get("stages") or []),
               "compared_with": "", "bytes": folder_bytes(run.folder) if sizes else None,
               "first": run.meta is not None and previous is None}
        if run.meta is not None and previous is not None:
            change = data_change(previous, meta)
            row["data_changed"] = "" if change["same"] else change["text"]
            stages = [s for s in STAGES if s in (meta.get("parameters") or {}) and s in (previous.get("parameters") or {})]
            row["parameters_changed"] = parameter_changes(previous, meta, stages)
        headline = (meta.get("comparison") or {}).get("headline")
        if headline and headline.get("against"):
            row["compared_with"] = headline["against"]
        if run.meta is not None:
            previous = meta
        rows.append(row)
    listed = {r.run_id for r in runs}
    for row in rows:  # a baseline since removed is named, not linked
        row["compared_listed"] = row["compared_with"] in listed
    return rows


def _kpi_series(runs: list[RunFolder]) -> list[dict]:
    """Per headline KPI (those of the latest run that has any, in its order): its value and
    interval in every finished run where the objectives stage finished, and the change each run
    recorded against its last comparable run."""
    finished = [r for r in runs if r.meta is not None and not_comparable(r.meta, HEADLINE_STAGE) is None
                and r.meta.get("kpis")]
    if not finished:
        return []
    order = [k["kpi"] for k in finished[-1].meta["kpis"]]
    series = []
    for name in order:
        spec = get_kpi(name)
        unit = kpi_unit(spec.unit)
        points = []
        for run in finished:
            k = next((k for k in run.meta["kpis"] if k["kpi"] == name), None)
            if k is None or k.get("estimate") is None:
                continue
            headline = (run.meta.get("comparison") or {}).get("headline") or {}
            row = next((r for r in headline.get("rows") or [] if r.get("kpi") == name), None)
            verdict = (row or {}).get("verdict") or (
                f"not compared: {headline['why_none']}" if headline and not headline.get("against") else "")
            points.append({"run_id": run.run_id, "value": k["estimate"], "low": k.get("ci_low"),
                           "high": k.get("ci_high"), "text": unit.value(k["estimate"]),
                           "interval": (f"{unit.value(k['ci_low'])} to {unit.value(k['ci_high'])}"
                                        if k.get("ci_low") is not None and k.get("ci_high") is not None else "–"),
                           "n": f"{int(k['n']):,}" if k.get("n") is not None else "–", "definition": k.get("definition") or {},
                           "against": headline.get("against") if row else None,
                           "change": (row or {}).get("change", ""), "band": (row or {}).get("band", ""),
                           "verdict": verdict,
                           "css": (row or {}).get("css", "")})
        if points:
            series.append({"kpi": name, "title": spec.title, "unit": unit.name, "points": points,
                           "chart": _chart(points, unit)})
    return series


def _chart(points: list[dict], unit) -> str:
    """An inline SVG of a KPI over runs: each run's value with its 95% interval (the noise band a
    change is judged against); a dashed line where the KPI's definition changed."""
    width, height, left, right, top, bottom = 640, 150, 70, 15, 12, 28
    values = [v for p in points for v in (p["value"], p["low"], p["high"]) if v is not None]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * (height - top - bottom)

    step = (width - left - right) / max(len(points), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'class="chart"><line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#9ca3af"/>',
             f'<text x="{left - 6}" y="{y(hi - pad) + 4:.1f}" text-anchor="end" font-size="10">'
             f'{_xml(unit.value(hi - pad))}</text>',
             f'<text x="{left - 6}" y="{y(lo + pad) + 4:.1f}" text-anchor="end" font-size="10">'
             f'{_xml(unit.value(lo + pad))}</text>']
    for i, p in enumerate(points):
        x = left + step * (i + 0.5)
        if i and p["definition"] != points[i - 1]["definition"]:
            xs = left + step * i
            parts.append(f'<line x1="{xs:.1f}" y1="{top}" x2="{xs:.1f}" y2="{height - bottom}" stroke="#b45309" '
                         'stroke-dasharray="4 3"><title>definition changed</title></line>')
        if p["low"] is not None and p["high"] is not None:
            parts.append(f'<line x1="{x:.1f}" y1="{y(p["low"]):.1f}" x2="{x:.1f}" y2="{y(p["high"]):.1f}" '
                         'stroke="#93c5fd" stroke-width="6"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{y(p["value"]):.1f}" r="3.5" fill="#1d4ed8">'
                     f'<title>{_xml(p["run_id"])}: {_xml(p["text"])} ({_xml(p["interval"])})</title></circle>')
        if len(points) <= 12 or i in (0, len(points) - 1):
            parts.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" font-size="9">'
                         f'{_xml(p["run_id"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _xml(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def write_history(study: Study, current: dict | None = None) -> Path:
    """Write reports/<study>/history.html: every run (date, status, data fingerprint, what changed
    in the data and parameters, the run it was compared with, a link to its index) and each
    headline KPI over the runs with its 95% interval. ``current``: the metadata of a run whose
    run.json is not written yet. Call it holding ``history_lock``."""
    import markupsafe

    from .html import write_page
    from .index import template_env

    runs = list_runs(study, current)
    rows = list(reversed(run_rows(runs, sizes=True)))
    for row in rows:
        row["size"] = size_text(row.pop("bytes"))
    series = _kpi_series(runs)
    for s in series:
        s["chart"] = markupsafe.Markup(s["chart"])  # built from numbers and escaped run ids only
    page = template_env().get_template("history.html.j2").render(
        study={"title": redact(study.title), "name": study.name},
        runs=rows,
        series=series,
        generated=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    return write_page(study.reports_dir / HISTORY_PAGE, page)


# --------------------------------------------------------------------------- pruning
@dataclass
class PruneResult:
    """What ``prune_runs`` did: removed (run id, state, bytes) oldest first, the runs kept, the
    bytes freed, the indexes rewritten because they linked to a removed run, the history page."""

    removed: list[tuple[str, str, int]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    history: Path | None = None

    @property
    def freed(self) -> int:
        return sum(b for _, _, b in self.removed)


def prune_runs(study: Study, keep: int) -> PruneResult:
    """Remove the run folders of ``study`` but the ``keep`` newest; never the latest run whose
    status is ok, never a run still running (see ``RunFolder``). The history page is rewritten,
    and so is the index of every kept run that linked to a removed one (its comparison stays; the
    removed run is named without a link)."""
    from .index import write_index

    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ParameterError(f"--keep must be a whole number of runs, at least 1 (got {keep!r}).")
    result = PruneResult()
    with history_lock(study):
        runs = list_runs(study)
        protected = {r.run_id for r in runs[-keep:]} | {r.run_id for r in runs if r.state == "running"}
        ok = [r for r in runs if r.state == "ok"]
        if ok:
            protected.add(ok[-1].run_id)
        for run in runs:
            if run.run_id in protected:
                result.kept.append(run.run_id)
                continue
            size = folder_bytes(run.folder)
            try:
                shutil.rmtree(run.folder)
            except OSError as exc:
                raise CxlabError(f"Could not remove the run folder {run.folder}: {exc.strerror or exc}. "
                                 f"Removed before it: {', '.join(r for r, _, _ in result.removed) or 'none'}.") from None
            result.removed.append((run.run_id, run.state, size))
        gone = {r for r, _, _ in result.removed}
        for run in list_runs(study):
            meta = run.meta
            if meta is None or not (referenced_runs(meta.get("comparison")) & gone):
                continue
            if (run.folder / "index.html").is_file():
                write_index(study, run.folder, meta)
                result.rewritten.append(run.run_id)
        result.history = write_history(study)
    return result
