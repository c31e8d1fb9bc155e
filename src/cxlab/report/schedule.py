"""Which stage runs when: the stages each stage reads from, the order in which ready stages take a
free kernel, and how the cores are shared between stages that run side by side."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ParameterError
from ..stages import STAGES

__all__ = ["DEPENDS", "TYPICAL_SECONDS", "dependencies", "last_run_seconds", "stage_priority", "stage_threads",
           "workers_default", "shared_kernel_default"]


# What each stage reads from the stages before it comes from the registry (cxlab.stages). Stages
# with no path between them run at the same time, one kernel each, on a machine with more than one
# core. The first stage of a run runs alone until it is done, except intake: what the others read
# from it are the clean tables, so they start as soon as it has written them (runner._run_stages),
# while it profiles them.
DEPENDS: dict[str, tuple[str, ...]] = {name: spec.depends for name, spec in STAGES.items()}


def dependencies(selected: list[str]) -> dict[str, list[str]]:
    """Each selected stage's dependencies among the selected (a stage cxlab does not know reads
    from every stage before it)."""
    return {s: [d for d in DEPENDS.get(s, tuple(selected[:i])) if d in selected] for i, s in enumerate(selected)}


# Typical seconds of each stage in a run (10M events, two stages side by side on 2 cores): the
# order in which ready stages take a free kernel until a study has run once; then the study's
# last run says.
TYPICAL_SECONDS = {"intake": 18, "objectives": 47, "segmentation": 52, "touchpoints": 63, "pain_points": 69,
                   "impact": 12, "journey_map": 24}


def last_run_seconds(reports: Path) -> dict[str, float]:
    """Seconds per stage in the study's latest run that recorded them (empty when none)."""
    if not reports.is_dir():
        return {}
    for folder in sorted((p for p in reports.iterdir() if p.is_dir()), reverse=True):
        try:
            meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        seconds = {s["stage"]: float(s["seconds"]) for s in meta.get("stages", [])
                   if s.get("status") == "ok" and s.get("seconds")}
        if seconds:
            return seconds
    return {}


def stage_priority(selected: list[str], seconds: dict[str, float] | None = None) -> dict[str, float]:
    """The longest chain of stages from each stage to the end of the run, in seconds (its own
    time plus that of the slowest chain of stages waiting for it): a free kernel takes the
    ready stage with the longest chain first, so the stages on the critical path never wait
    behind one that has time to spare."""
    seconds = {**TYPICAL_SECONDS, **(seconds or {})}
    deps = dependencies(selected)
    after = {s: [o for o in selected if s in deps[o]] for s in selected}
    chain: dict[str, float] = {}
    for s in reversed(selected):  # method order is a topological order
        chain[s] = seconds.get(s, 30.0) + max((chain[o] for o in after[s]), default=0.0)
    return chain


def stage_threads(selected: list[str], workers: int, cores: int | None = None) -> dict[str, int | None]:
    """DuckDB threads per stage when ``workers`` kernels share the cores: a stage that may run
    beside another (no dependency path between them) gets cores // workers, so two DuckDB
    queries never ask for more threads than there are cores (oversubscribed, DuckDB's threads
    wait on each other: 17% more CPU and 11% more time on a 10M-event study); a stage that runs
    alone by the dependencies (the first, the journey map) gets every core. None: leave DuckDB's
    default (one worker, or CXLAB_DUCKDB_THREADS / study.yaml engine.threads set by the user)."""
    cores = cores or os.cpu_count() or 1
    if workers <= 1 or os.environ.get("CXLAB_DUCKDB_THREADS", "").strip():
        return {s: None for s in selected}
    deps = dependencies(selected)

    def ancestors(stage: str) -> set[str]:
        seen, todo = set(), list(deps[stage])
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(deps[d])
        return seen

    before = {s: ancestors(s) | ({selected[0]} if s != selected[0] else set()) for s in selected}
    out = {}
    for s in selected:
        beside = [o for o in selected if o != s and o not in before[s] and s not in before[o]]
        out[s] = max(1, cores // workers) if beside else cores
    return out


def workers_default() -> int:
    """CXLAB_PARALLEL_STAGES, else 2 kernels on a machine with 2 cores or more, else 1."""
    env = os.environ.get("CXLAB_PARALLEL_STAGES", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ParameterError(f"CXLAB_PARALLEL_STAGES must be a whole number, got {env!r}") from None
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def shared_kernel_default() -> bool:
    """Stages share one kernel unless CXLAB_KERNEL_PER_STAGE=1 asks for a fresh one each."""
    return os.environ.get("CXLAB_KERNEL_PER_STAGE", "").strip().lower() not in ("1", "true", "yes")
