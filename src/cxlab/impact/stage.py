"""The impact stage in one call: ``analyze(study, **parameters) -> ImpactStage``.

It tests exactly the hypotheses the objectives stage registered (its output ``hypotheses``, read
through the stage registry), each with its design and the KPI settings it was registered with,
adjusts the p-values over all of them and reads each result in plain language. ``write()``
writes the results table (output ``results``) and the stage's record.

Without a registration (the objectives stage has not run) or with no hypotheses in it (no
objective or intervention names a change to test), ``results`` is None and ``skipped`` (and
the record's notes) say so; the page says it plainly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from ..errors import ParameterError
from ..kpis import hypotheses_frame
from ..stages import StageResult, not_computed, stage_analysis
from ..stats.multiplicity import METHODS
from ..study import Study
from .hypotheses import HypothesisResults, read_registration, test_study_hypotheses

__all__ = ["ImpactStage", "analyze"]


@dataclass
class ImpactStage(StageResult):
    """What the impact stage found: the registration it tested (None before the objectives
    stage ran), the tested hypotheses (``results``; None when there was nothing to test) and,
    when a part is missing, why (``skipped``)."""

    stage: ClassVar[str] = "impact"
    registration: dict | None = None
    results: HypothesisResults | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def headlines(self) -> list[str]:
        return self.results.headlines() if self.results is not None else list(self.skipped.values())[:1]

    def glance(self) -> list[str]:
        return [self.results.glance()] if self.results is not None else list(self.skipped.values())[:1]

    def metrics(self) -> dict[str, Any]:
        return self.results.metrics() if self.results is not None else {}

    def tables(self) -> dict[str, Any]:
        return {"results": None if self.results is None else self.results.table}

    def record_extra(self) -> dict[str, Any]:
        reg = self.registration or {}
        return {"registration": {"registered_at": reg.get("registered_at"), "fingerprint": reg.get("fingerprint"),
                                 "hypotheses": len(reg.get("hypotheses", []))}}

    # ------------------------------------------------------------------ for the page
    def findings(self) -> list[str]:
        """The page's key findings: the verdict and one sentence per hypothesis, or why nothing was tested."""
        return self.glance() + self.headlines() if self.results is not None else list(self.notes)

    def hypotheses(self) -> pd.DataFrame:
        """The registered hypotheses as a table (empty without any)."""
        return hypotheses_frame(self.registration or {"hypotheses": []})

    def registered_text(self) -> str:
        reg = self.registration or {}
        n = len(reg.get("hypotheses", []))
        return f"Registered on {reg.get('registered_at', 'unknown')}: {n} {'hypothesis' if n == 1 else 'hypotheses'}."


@stage_analysis("impact")
def analyze(study: Study, *, correction: str = "holm", power: float = 0.8, freq: str = "month") -> ImpactStage:
    """Test the study's pre-registered hypotheses (see the module docstring).

    correction: the multiple-testing correction over all hypotheses, 'holm' (the chance of any
    false positive) or 'bh' (the false discovery rate). power: the power at which the smallest
    detectable effect beside a null result is computed. freq: the period of the
    difference-in-differences and time-series designs (week, month or quarter)."""
    if correction not in METHODS:
        raise ParameterError(f"correction '{correction}' must be one of {', '.join(METHODS)}")
    registration = read_registration(study)
    skipped: dict[str, str] = {}
    results = None
    if registration is None:
        skipped["results"] = not_computed(
            "tests of the hypotheses", "hypotheses registered by the objectives stage (the objectives stage has "
            "not registered any hypotheses for this study yet: run it first, "
            f"cxlab run {study.name} --stages objectives,impact)")
    elif not registration.get("hypotheses"):
        skipped["results"] = not_computed(
            "tests of the hypotheses", "an intervention in study.yaml to test (no hypotheses were registered, "
            "because no objective or intervention names a change to test)")
    else:
        results = test_study_hypotheses(study, registration, freq=freq, correction=correction, power=power)
        for r in results.table[results.table["decision"] == "not tested"].itertuples():
            why = str(r.reading).removeprefix("Not tested: ")
            skipped[f"test {r.hypothesis}"] = not_computed(f"the test of {r.hypothesis} ({r.kpi}, {r.design})",
                                                           f"data this design can use ({why})")
    return ImpactStage(study, registration=registration, results=results, skipped=skipped,
                       notes=list(skipped.values()))
