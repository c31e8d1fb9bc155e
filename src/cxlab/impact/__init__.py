"""Impact measurement: hypothesis tests with effect sizes and intervals, study designs (A/B,
pre/post, difference-in-differences, interrupted time series), power and minimum detectable
effects, multiplicity correction, and the runner that tests a study's pre-registered
hypotheses.

``analyze(study, **parameters) -> ImpactStage`` (``stage``) is the stage in one call: it tests
the hypotheses the objectives stage registered, read through the stage registry. Its
difference-in-differences (``did_by_assignment``) infers at the level at which the change was
assigned (regions), by randomization inference; ``did`` is the unit-level regression."""
from __future__ import annotations

from .assignment import did_by_assignment
from .designs import ABResult, DiDResult, ITSResult, PrePostResult, ab, did, is_binary, its, pre_post
from .did import period_order
from .hypotheses import (HypothesisResults, normalize_hypothesis, read_registration, test_hypotheses,
                         test_study_hypotheses, unit_table)
from .stage import ImpactStage, analyze
from ..kpis import hypotheses_frame
from ..stats.multiplicity import adjust_pvalues
from ..stats.power import (mde_from_se, mde_means, mde_proportions, sample_size_means, sample_size_proportions,
                    with_power)
from ..stats.twosample import (bootstrap, chi_square, mann_whitney, mcnemar, nps_components, nps_difference,
                        paired_t, two_proportions, welch_t)

__all__ = [
    "analyze", "ImpactStage", "read_registration", "hypotheses_frame",
    "two_proportions", "chi_square", "welch_t", "mann_whitney", "nps_difference", "nps_components",
    "bootstrap", "paired_t", "mcnemar",
    "ab", "pre_post", "did", "did_by_assignment", "period_order", "its", "ABResult", "PrePostResult", "DiDResult", "ITSResult", "is_binary",
    "mde_proportions", "sample_size_proportions", "mde_means", "sample_size_means", "mde_from_se", "with_power",
    "adjust_pvalues",
    "test_hypotheses", "test_study_hypotheses", "unit_table", "HypothesisResults", "normalize_hypothesis",
]
