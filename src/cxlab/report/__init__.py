"""Reports: running stage notebooks, rendering HTML without code, the run index, and the
display helpers stage notebooks use to show findings safely."""
from __future__ import annotations

from .context import STAGE_TITLES, StageContext, open_stage, read_summary
from .display import (
    caption,
    fmt_ci,
    fmt_estimate,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    redact,
    safe_text,
    show_figure,
    show_findings,
    show_markdown,
    show_table,
    table_html,
)
from .runner import STAGES, RunResult, available_stages, raise_for_failure, run_study

__all__ = [
    "STAGES",
    "STAGE_TITLES",
    "RunResult",
    "StageContext",
    "available_stages",
    "caption",
    "fmt_ci",
    "fmt_estimate",
    "fmt_int",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "open_stage",
    "raise_for_failure",
    "read_summary",
    "redact",
    "run_study",
    "safe_text",
    "show_figure",
    "show_findings",
    "show_markdown",
    "show_table",
    "table_html",
]
