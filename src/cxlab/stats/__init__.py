"""Statistics every stage shares, one implementation each: intervals (Wilson, t, NPS, clustered
units in ``cxlab.kpis``), two-sample tests with effect sizes, effect sizes across groups,
multiplicity corrections, and power. Each is validated against a named reference in the tests."""
from __future__ import annotations

from .effects import anova_eta2, kruskal_epsilon2
from .intervals import mean_ci, noncentrality_bounds, nps_ci, nps_interval, t_interval, wilson, z_value
from .multiplicity import METHODS, adjust_pvalues
from .power import mde_from_se, mde_means, mde_proportions, sample_size_means, sample_size_proportions, with_power
from .twosample import (bootstrap, chi_square, mann_whitney, mcnemar, nps_components, nps_difference, paired_t,
                        two_proportions, welch_t)

__all__ = [
    "wilson", "t_interval", "nps_interval", "mean_ci", "nps_ci", "noncentrality_bounds", "z_value",
    "two_proportions", "chi_square", "welch_t", "mann_whitney", "nps_difference", "nps_components",
    "bootstrap", "paired_t", "mcnemar",
    "kruskal_epsilon2", "anova_eta2",
    "adjust_pvalues", "METHODS",
    "mde_proportions", "sample_size_proportions", "mde_means", "sample_size_means", "mde_from_se", "with_power",
]
