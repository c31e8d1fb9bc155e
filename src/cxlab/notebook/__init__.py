"""Helpers used inside the stage notebooks: open the study, and show findings, tables and
figures so the HTML report reads well and is safe to share (customer text redacted and escaped,
numbers formatted for people, plotly figures that open offline)."""
from __future__ import annotations

from .context import open_stage
from .display import (
    caption,
    fmt_ci,
    fmt_duration,
    fmt_estimate,
    fmt_int,
    fmt_money,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_value,
    redact,
    safe_text,
    show_figure,
    show_findings,
    show_markdown,
    show_table,
    table_html,
)

__all__ = [
    "caption",
    "fmt_ci",
    "fmt_duration",
    "fmt_estimate",
    "fmt_int",
    "fmt_money",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "fmt_value",
    "open_stage",
    "redact",
    "safe_text",
    "show_figure",
    "show_findings",
    "show_markdown",
    "show_table",
    "table_html",
]
