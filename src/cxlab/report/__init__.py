"""Reports: running the stage notebooks with papermill, rendering their HTML without code, and
the run index. The display helpers the notebooks use live in ``cxlab.notebook``."""
from __future__ import annotations

from .runner import RunResult, available_stages, raise_for_failure, run_study

__all__ = ["RunResult", "available_stages", "raise_for_failure", "run_study"]
