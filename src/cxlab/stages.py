"""The method stages: one registry of what each stage is, reads and writes, and one face for all.

**The registry.** ``STAGES`` lists every method stage in method order (intake … journey map):
its notebook, its title, the stages it reads from, and its **outputs** — the files it writes to
data/processed/<study>/ for later stages. The runner, the scheduler, the run index and every
reader take stage names, notebooks, dependencies and file names from here, never from a copy.

**The record.** Writing a stage's result writes its outputs and then ``summary_<stage>.json``,
the stage's record: the headline sentences and numbers the run index shows, the parameters the
outputs were computed with, and the fingerprint of the clean tables they were computed from.
A later stage reads an output with ``read_output`` and a parameter that shaped it with
``output_parameters`` (the touchpoint stage's conversion window, say): from the record, never
from study.yaml again. An output whose record names other input data than the clean tables now
in data/processed/ is refused (``StaleOutputError``), so no number is computed from a mix of old
and new data.

**The face.** Every stage package offers ``analyze(study, **parameters) -> StageResult``; the
result has ``headlines()``, ``metrics()``, ``tables()`` and ``write()``. ``stage_analysis``
makes an ``analyze`` of a plain function: it loads the study once (clean tables written if
missing) and keeps the parameters the function was called with, defaults included, on the
result for its record.

"Method stage" (intake … journey map) and "journey stage" (awareness … loyalty, study.yaml's
``stages``) are different things; here every name means the method stage.
"""
from __future__ import annotations

import datetime as dt
import functools
import inspect
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import pandas as pd

from . import data, paths
from .errors import CxlabError, ParameterError
from .study import Study

__all__ = [
    "STAGES",
    "Output",
    "StageSpec",
    "StageResult",
    "StaleOutputError",
    "stage_spec",
    "stage_names",
    "output_path",
    "read_output",
    "read_record",
    "output_parameters",
    "stage_analysis",
    "not_computed",
]


class StaleOutputError(CxlabError):
    """A stage output was computed from other input data than the clean tables there now."""


@dataclass(frozen=True)
class Output:
    """One file a stage writes to data/processed/<study>/ for later stages (parquet or JSON)."""

    key: str
    file: str
    about: str


@dataclass(frozen=True)
class StageSpec:
    """A method stage: its name, notebook, title, the stages it reads from, and its outputs."""

    name: str
    notebook: str
    title: str
    depends: tuple[str, ...]
    outputs: tuple[Output, ...] = ()

    def output(self, key: str) -> Output:
        for out in self.outputs:
            if out.key == key:
                return out
        raise ParameterError(
            f"The {self.name} stage writes no output '{key}' (it writes: "
            f"{', '.join(o.key for o in self.outputs) or 'nothing for later stages'})."
        )

    @property
    def record_file(self) -> str:
        return f"summary_{self.name}.json"


def _outputs(*rows: tuple[str, str, str]) -> tuple[Output, ...]:
    return tuple(Output(*row) for row in rows)


# What each stage reads from the stages before it decides what may run side by side: segmentation's
# segments (touchpoints, pain points), the objectives' hypotheses (impact), everything (journey map).
STAGES: dict[str, StageSpec] = {
    s.name: s
    for s in [
        StageSpec("intake", "00_intake.ipynb", "Intake: the data we were given", ()),
        StageSpec(
            "objectives", "01_objectives.ipynb", "Objectives and KPIs", ("intake",),
            _outputs(
                ("kpis", "kpis.parquet", "every KPI over the whole log, with its interval"),
                ("objectives", "objectives.parquet", "each objective: baseline, current, target, status"),
                ("clv", "clv.parquet", "predicted customer lifetime value per buyer"),
                ("hypotheses", "hypotheses.json", "the pre-registered hypotheses the impact stage tests"),
            ),
        ),
        StageSpec(
            "segmentation", "02_segmentation.ipynb", "Audience segments", ("intake",),
            _outputs(
                ("segments", "segments.parquet", "customer_id -> segment"),
                ("personas", "personas.parquet", "one persona card per segment"),
                ("features", "customer_features.parquet", "the per-customer features segments were built on"),
            ),
        ),
        StageSpec(
            "touchpoints", "03_touchpoints.ipynb", "Touchpoints and journeys", ("intake", "segmentation"),
            _outputs(
                ("inventory", "touchpoint_inventory.parquet", "every touchpoint: reach, use, drop-off"),
                ("channels", "channel_inventory.parquet", "the same per channel"),
                ("funnel", "stage_funnel.parquet", "customers reaching each journey stage within the window"),
                ("funnel_by_segment", "stage_funnel_by_segment.parquet", "the stage funnel per segment"),
                ("funnel_by_channel", "stage_funnel_by_channel.parquet", "the stage funnel per entry channel"),
                ("time_to_convert", "time_to_convert.parquet", "hours from entry to the last stage"),
                ("transitions", "transitions.parquet", "moves from one touchpoint to the next"),
                ("anchor", "anchor_paths.parquet", "paths around the anchor touchpoint"),
                ("variants", "path_variants.parquet", "the most common paths to the goal"),
                ("variants_by_segment", "path_variants_by_segment.parquet", "the most common paths per segment"),
                ("inventory_by_segment", "touchpoint_inventory_by_segment.parquet", "the inventory per segment"),
                ("transitions_by_segment", "transitions_by_segment.parquet", "the transitions per segment"),
                ("attribution", "attribution.parquet", "first touch, last touch and Markov attribution"),
                ("custom_funnel", "custom_funnel.parquet", "the funnel the custom_funnel parameter asked for"),
            ),
        ),
        StageSpec(
            "pain_points", "04_pain_points.ipynb", "Pain points", ("intake", "segmentation"),
            _outputs(
                ("pain_points", "pain_points.parquet", "the ranked pain-point register"),
                ("friction", "friction.parquet", "friction signals per touchpoint"),
                ("emotion", "emotion_curve.parquet", "CSAT, sentiment and NPS per journey stage"),
                ("emotion_by_segment", "emotion_curve_by_segment.parquet", "the emotion curve per segment"),
                ("drivers", "key_drivers.parquet", "key drivers of satisfaction"),
                ("drivers_by_segment", "key_drivers_by_segment.parquet", "key drivers per segment"),
                ("responses", "survey_scores.parquet", "survey responses with their journey stage and sentiment"),
            ),
        ),
        StageSpec(
            "impact", "05_impact.ipynb", "Impact of changes", ("intake", "objectives"),
            _outputs(("results", "impact_results.parquet", "each pre-registered hypothesis tested")),
        ),
        StageSpec(
            "journey_map", "06_journey_map.ipynb", "The journey map",
            ("intake", "objectives", "segmentation", "touchpoints", "pain_points", "impact"),
        ),
    ]
}


def stage_names() -> list[str]:
    """Every method stage, in method order."""
    return list(STAGES)


def stage_spec(stage: str) -> StageSpec:
    try:
        return STAGES[stage]
    except KeyError:
        raise ParameterError(f"Unknown stage '{stage}'; the stages are: {', '.join(STAGES)}") from None


# --------------------------------------------------------------------------- reading outputs
def output_path(study: Study, stage: str, key: str) -> Path:
    """Where ``stage`` writes its output ``key`` in data/processed/<study>/."""
    return study.processed(stage_spec(stage).output(key).file)


def read_record(study: Study, stage: str) -> dict | None:
    """The stage's record (summary_<stage>.json), or None when the stage has not written one."""
    path = study.processed(stage_spec(stage).record_file)
    try:
        return data.read_json(path) if path.exists() else None
    except (OSError, ValueError):
        return None


def _check_fresh(study: Study, stage: str, record: dict | None, what: str) -> None:
    made_from = (record or {}).get("inputs")
    current = data.clean_fingerprint(study)
    if made_from and current and made_from != current:
        words, cli = stage.replace("_", " "), paths.study_argument(study.root)
        raise StaleOutputError(
            f"{what} was computed by the {words} stage from other input data "
            f"(fingerprint {made_from}) than the clean tables now made from the study's files in "
            f"{study.root} ({current}); it is not used with them. Run the {words} stage again "
            f"together with the stages that read it (cxlab run {cli} --stages {stage},…), "
            f"or the whole study (cxlab run {cli})."
        )


def read_output(study: Study, stage: str, key: str) -> Any:
    """A stage's output ``key``: a DataFrame (parquet) or the parsed JSON; None when the stage
    has not written it. Refused (``StaleOutputError``) when the stage's record says it was
    computed from other input data than the clean tables now there."""
    path = output_path(study, stage, key)
    if not path.exists():
        return None
    _check_fresh(study, stage, read_record(study, stage), path.name)
    return data.read_json(path) if path.suffix == ".json" else pd.read_parquet(path)


def output_parameters(study: Study, stage: str) -> dict:
    """The parameters the stage's outputs were computed with (its record; empty before it ran)."""
    return dict((read_record(study, stage) or {}).get("parameters") or {})


# --------------------------------------------------------------------------- skipped sections
def not_computed(section: str, needs: str) -> str:
    """The one line a stage puts in its notes (and its page) for a section the study's data does
    not allow: "Not computed: customer lifetime value — needs revenue in the event log". The run
    index lists these lines per stage. A section that fails on data it should handle is a bug,
    not a skip: it raises."""
    return f"Not computed: {section} — needs {needs}"


# --------------------------------------------------------------------------- parameter values
def _at_least(low: float, *, above: bool = False):
    if above:
        return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > low), f"a number above {low:g}"
    return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= low), f"a number of at least {low:g}"


def _between(low: float, high: float):
    return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and low < v < high,
            f"a number between {low:g} and {high:g} (both excluded)")


def _one_of(*choices: str):
    return (lambda v: v in choices), "one of " + ", ".join(choices)


def _iso_date_or_empty():
    import datetime as _dt

    def ok(v) -> bool:
        if v in ("", None) or isinstance(v, _dt.date):
            return True
        try:
            pd.Timestamp(str(v))
            return True
        except (ValueError, TypeError):
            return False

    return ok, "a date (YYYY-MM-DD) or empty"


# The values a stage parameter may take, by name: one name means one thing in every stage, so one
# rule serves them all. Checked before any stage of a run starts (the runner) and by every
# ``analyze`` call, so a run with -p conversion_window_days=-5 stops at once, not minutes in.
PARAMETER_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "conversion_window_days": _at_least(0),  # 0: the study's window
    "top_variants": _at_least(1), "anchor_steps": _at_least(1), "sankey_steps": _at_least(1),
    "funnel_mode": _one_of("ordered", "strict", "any"),
    "k": _at_least(0), "max_k": _at_least(2), "fit_sample": _at_least(2), "quantiles": _at_least(2),
    "repeat_contact_days": _at_least(0, above=True), "session_gap_minutes": _at_least(0, above=True),
    "long_wait_quantile": _between(0, 1), "n_topics": _at_least(1), "max_fit_docs": _at_least(10),
    "driver_outcome": _one_of("csat", "nps"), "min_customers": _at_least(1), "min_responses": _at_least(2),
    "horizon_days": _at_least(0, above=True), "landmark_days": _at_least(0), "n_resamples": _at_least(0),
    "repeat_horizon_days": _at_least(0, above=True),
    "retention_period": _one_of("week", "month"), "activity": _one_of("any", "purchase"),
    "trend_freq": _one_of("day", "week", "month", "quarter"), "freq": _one_of("day", "week", "month", "quarter"),
    "cohort_by": _one_of("first_touch", "first_purchase"),
    "clv_months": _at_least(1), "discount_rate": (lambda v: isinstance(v, (int, float)) and 0 <= v < 1,
                                                  "a monthly rate from 0 to below 1"),
    "current_start": _iso_date_or_empty(), "current_end": _iso_date_or_empty(),
    "clv_calibration_end": _iso_date_or_empty(), "clv_holdout_end": _iso_date_or_empty(),
    "correction": _one_of("holm", "bh", "fdr_bh", "bonferroni", "none"),
    "power": _between(0, 1), "max_segments": _at_least(1), "top_touchpoints": _at_least(1),
}


def check_parameters(stage: str, values: Mapping[str, Any], *, source: str = "") -> None:
    """Every value in ``values`` that breaks its rule (``PARAMETER_RULES``), reported at once as a
    ParameterError naming the stage, the parameter, the value and what it may be."""
    problems = []
    for name, value in values.items():
        rule = PARAMETER_RULES.get(name)
        if rule is not None and value is not None and not rule[0](value):
            problems.append(f"parameter '{name}' of stage '{stage}' must be {rule[1]}, got {value!r}")
    if problems:
        where = f"{source}: " if source else ""
        raise ParameterError(where + "; ".join(problems))


# --------------------------------------------------------------------------- the face
def _plain(value: Any) -> Any:
    """A parameter value as JSON can hold it (paths as text, tuples as lists)."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple, range)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _missing_as_null(value: Any) -> Any:
    """Metrics as JSON holds them: a number that could not be computed (NaN, ±inf — no customer
    converted, say, so nothing ranks) is null, never a number."""
    if isinstance(value, Mapping):
        return {k: _missing_as_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_missing_as_null(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class StageResult:
    """What one stage computed for one study; every stage's result subclasses this.

    A subclass sets ``stage`` and provides ``headlines()`` (sentences for the run index),
    ``metrics()`` (numbers later runs compare against) and ``tables()`` (output key -> DataFrame,
    dict or None, keys from the registry). ``write()`` is the same for all."""

    stage: ClassVar[str] = ""
    study: Study
    parameters: dict = field(default_factory=dict, kw_only=True)
    notes: list[str] = field(default_factory=list, kw_only=True)

    def headlines(self) -> list[str]:
        return []

    def glance(self) -> list[str]:
        """What the index's "At a glance" box shows first (default: the first headline)."""
        return self.headlines()[:1]

    def metrics(self) -> dict[str, Any]:
        return {}

    def tables(self) -> dict[str, Any]:
        return {}

    def record_extra(self) -> dict[str, Any]:
        """More for the record (counts the index shows)."""
        return {}

    def write(self) -> dict[str, Path]:
        """Write the stage's outputs to data/processed/<study>/ (atomically; inside ``cxlab run``,
        the run's workspace, published when the run ends), then its record, which names the run.
        An output the result does not have (None) is removed, so no later stage reads one left
        by an earlier run. Returns output key -> path."""
        spec = stage_spec(self.stage)
        written: dict[str, Path] = {}
        for key, value in self.tables().items():
            path = self.study.processed(spec.output(key).file)
            if value is None:
                path.unlink(missing_ok=True)
            elif isinstance(value, pd.DataFrame):
                written[key] = data.write_parquet(value.reset_index(drop=True), path)
            else:
                written[key] = data.write_json(value, path)
        record = {
            "stage": self.stage,
            "title": spec.title,
            "headlines": [str(h) for h in self.headlines()],
            "glance": [str(g) for g in self.glance()],
            "metrics": _missing_as_null(self.metrics() or {}),
            "parameters": _plain(self.parameters),
            "inputs": data.clean_fingerprint(self.study),
            "run_id": paths.run_id(self.study.root),  # the `cxlab run` that computed it (None: outside a run)
            "outputs": {k: p.name for k, p in written.items()},
            "notes": [str(n) for n in self.notes],
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **self.record_extra(),
        }
        data.write_json(record, self.study.processed(spec.record_file))
        return written


def stage_analysis(stage: str, *, clean: bool = True) -> Callable:
    """Make ``fn(study, **parameters) -> StageResult`` a stage's ``analyze``: the study is loaded
    once (with ``clean``, its clean tables written if missing), study.yaml's
    ``parameters.<stage>`` fill in what the call does not pass, and the parameters used,
    defaults included, are kept on the result for its record; where the function put a
    resolved value on ``result.parameters`` (a default meaning "the study's value"), that value
    is kept instead."""
    stage_spec(stage)

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def analyze(study: Study | str | os.PathLike, /, **parameters: Any) -> StageResult:
            loaded = data.ensure_clean(study) if clean else Study.load(study)
            # what study.yaml sets for this stage (parameters.<stage>) applies where the call does
            # not say otherwise, as in a run: analyze("demo") computes what `cxlab run demo` shows
            own = {k: v for k, v in loaded.stage_parameters(stage).items() if k in signature.parameters}
            try:
                bound = signature.bind(loaded, **{**own, **parameters})
            except TypeError as exc:
                known = [p for p in signature.parameters if p != "study"]
                raise ParameterError(f"{stage}.analyze: {exc} (it takes: {', '.join(known)})") from None
            bound.apply_defaults()
            check_parameters(stage, {k: v for k, v in bound.arguments.items() if k != "study"})
            result = fn(*bound.args, **bound.kwargs)
            called = {k: v for k, v in bound.arguments.items() if k != "study"}
            # a value the function resolved (0 -> the study's window, say) wins over the one called with
            result.parameters = {**called, **(result.parameters or {})}
            return result

        analyze.stage = stage
        return analyze

    return decorate
