"""Adjusting p-values for the number of hypotheses tested in one run."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ParameterError

__all__ = ["adjust_pvalues", "METHODS"]

#: our names -> statsmodels.stats.multitest names, and how a report names them
METHODS = {
    "holm": ("holm", "Holm"),
    "bh": ("fdr_bh", "Benjamini–Hochberg"),
    "fdr_bh": ("fdr_bh", "Benjamini–Hochberg"),
    "bonferroni": ("bonferroni", "Bonferroni"),
    "none": (None, "none"),
}


def adjust_pvalues(pvalues: Sequence[float | None], method: str = "holm") -> np.ndarray:
    """Adjusted p-values for a family of hypotheses (``statsmodels.stats.multitest.multipletests``).

    method: "holm" (controls the chance of any false positive; the default), "bh" or
    "fdr_bh" (Benjamini–Hochberg: controls the expected share of false positives among the
    effects declared), "bonferroni", or "none". Missing p-values (None/NaN, e.g. a hypothesis
    that could not be tested) stay missing and do not count in the family.
    """
    from statsmodels.stats.multitest import multipletests

    if method not in METHODS:
        raise ParameterError(f"correction '{method}' must be one of {', '.join(METHODS)}")
    p = np.array([np.nan if v is None else float(v) for v in pvalues], dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    sm_name = METHODS[method][0]
    if sm_name is None:
        out[ok] = p[ok]
    else:
        out[ok] = multipletests(p[ok], method=sm_name)[1]
    return out
