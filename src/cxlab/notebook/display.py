"""Showing findings in a notebook so the HTML report reads well and is safe to share.

Customer text is data, and so is every text a study brings (objective goals, intervention ids,
treated values from the data): everything shown here is redacted (``cxlab.privacy``: emails,
phones, cards, IBANs, names, addresses …) and escaped — for HTML, and in Markdown also every
Markdown sign, so a value never becomes a link or an image. Only links the template itself holds
(written by us) are links, and only to http(s) addresses or files of the report; an image in a
template loads only from the report itself, never from the network. Numbers are formatted for
people: 1,234; 12.3%; CI in brackets.
"""
from __future__ import annotations

import html
import math
import re
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from ..privacy import markdown_text, redact, safe_text
from ..results import ESTIMATE_COLUMNS, Estimate

__all__ = [
    "redact",
    "safe_text",
    "markdown_text",
    "fmt_int",
    "fmt_num",
    "fmt_pct",
    "fmt_ci",
    "fmt_p",
    "fmt_estimate",
    "table_html",
    "show_table",
    "show_findings",
    "show_markdown",
    "markdown_source",
    "safe_links",
    "caption",
    "show_figure",
]

# --------------------------------------------------------------------------- numbers
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt_int(value: Any) -> str:
    """1234.0 -> '1,234'."""
    return "–" if _missing(value) else f"{round(float(value)):,}"


def fmt_num(value: Any, digits: int = 2) -> str:
    """A number with thousands separators and ``digits`` decimals."""
    return "–" if _missing(value) else f"{float(value):,.{digits}f}"


def fmt_pct(value: Any, digits: int = 1, signed: bool = False) -> str:
    """0.1234 -> '12.3%' (a share given as a fraction)."""
    if _missing(value):
        return "–"
    sign = "+" if signed else ""
    return f"{float(value) * 100:{sign},.{digits}f}%"


def fmt_p(p: Any) -> str:
    if _missing(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(low: Any, high: Any, fmt: Callable[[Any], str] = fmt_num) -> str:
    """'[1.20, 3.40]'."""
    return f"[{fmt(low)}, {fmt(high)}]"


def fmt_estimate(est: Estimate, fmt: Callable[[Any], str] = fmt_num) -> str:
    """'12.3% [11.0%, 13.6%]' for an Estimate (pass fmt_pct for shares)."""
    return f"{fmt(est.estimate)} {fmt_ci(est.ci_low, est.ci_high, fmt)}"


# --------------------------------------------------------------------------- display
def _display(obj) -> None:
    from IPython.display import HTML, display

    display(HTML(obj))


def table_html(
    frame: pd.DataFrame | Estimate | Iterable[Estimate],
    caption: str | None = None,
    formats: Mapping[str, Callable[[Any], str] | str] | None = None,
    max_rows: int = 30,
    index: bool = False,
) -> str:
    """A formatted, escaped HTML table. ``formats`` maps a column to a formatter or to one of
    'int', 'pct', 'num', 'p'. Estimate columns get sensible formats by default. Text cells are
    redacted and escaped."""
    if isinstance(frame, Estimate):
        frame = frame.to_frame()
    elif not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame([e.to_dict() for e in frame])[ESTIMATE_COLUMNS]
    named = {"int": fmt_int, "pct": fmt_pct, "num": fmt_num, "p": fmt_p}
    fmts: dict[str, Callable] = {"n": fmt_int, "p_value": fmt_p}
    for col, f in (formats or {}).items():
        fmts[col] = named[f] if isinstance(f, str) else f
    shown = frame.head(max_rows)
    if index:
        shown = shown.reset_index()
    columns, numeric = [], []
    for col in shown.columns:
        f = fmts.get(col)
        is_number = f is not None or pd.api.types.is_numeric_dtype(shown[col]) and not pd.api.types.is_bool_dtype(shown[col])
        if f is None:
            if pd.api.types.is_integer_dtype(shown[col]) and not pd.api.types.is_bool_dtype(shown[col]):
                f = fmt_int
            elif pd.api.types.is_float_dtype(shown[col]):
                f = fmt_num
        cells = shown[col].map(safe_text) if f is None else shown[col].map(lambda v, f=f: html.escape(f(v)))
        columns.append(cells.tolist())
        numeric.append(bool(is_number))
    head = "".join(
        f'<th class="{"num" if num else "txt"}">{safe_text(str(c).replace("_", " "))}</th>'
        for c, num in zip(shown.columns, numeric)
    )
    rows = "".join(
        "<tr>" + "".join(f'<td class="{"num" if num else "txt"}">{col[i]}</td>' for col, num in zip(columns, numeric)) + "</tr>"
        for i in range(len(shown))
    )
    body = f'<table class="cx-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    cap = f'<p class="cx-caption">{safe_text(caption)}</p>' if caption else ""
    more = (
        f'<p class="cx-note">Showing {max_rows:,} of {len(frame):,} rows.</p>'
        if len(frame) > max_rows
        else ""
    )
    return f'<div class="cx-block">{body}{cap}{more}</div>'


def show_table(frame, caption: str | None = None, formats=None, max_rows: int = 30, index=False) -> None:
    """Display a formatted, escaped table with a caption under it."""
    _display(table_html(frame, caption, formats, max_rows, index))


def show_findings(findings: Iterable[str], title: str = "Key findings") -> None:
    """A box of headline sentences (redacted and escaped; write numbers in with the fmt_* helpers)."""
    items = "".join(f"<li>{safe_text(f)}</li>" for f in findings)
    _display(f'<div class="cx-findings"><strong>{safe_text(title)}</strong><ul>{items}</ul></div>')


# an inline link or image of a template: [text](destination "title"), ![alt](source); the
# destination in <…>, or bare with balanced brackets as CommonMark reads it
_LINK = re.compile(
    r"(?P<image>!?)\[(?P<text>(?:\\.|[^\]\\])*)\]\(\s*"
    r"(?:<(?P<angled>(?:\\.|[^<>\n\\])*)>|(?P<dest>(?:\\.|[^\s()<>\\]|\((?:\\.|[^\s()<>\\])*\))*))"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
# [label]: destination (a link reference definition) and <scheme:…> (an autolink)
_DEFINITION = re.compile(r"^[ ]{0,3}\[(?:\\.|[^\]\\])+\]:[ \t]*(?:<(?P<angled>[^<>\n]*)>|(?P<dest>\S+)).*$", re.M)
_AUTOLINK = re.compile(r"<(?P<dest>[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>")
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")


def _destination(match: re.Match) -> str:
    dest = match.group("angled") if match.group("angled") is not None else match.group("dest") or ""
    dest = re.sub(r"\\(.)", r"\1", dest)
    return re.sub(r"[\x00-\x20\x7f]", "", html.unescape(dest)).lower()


def _unsafe(bare: str, image: bool = False) -> bool:
    """A destination that may not be a link (a scheme other than http(s)) or, for an image,
    that would load from outside the report (any scheme, or //host)."""
    scheme = _SCHEME.match(bare)
    if image:
        return bool(scheme) or bare.startswith("//") or bare.startswith("\\\\")
    return bool(scheme) and scheme.group(1) not in ("http", "https")


def safe_links(markdown: str) -> str:
    """Markdown whose links go only to http(s) addresses or to files and anchors of the report
    (any other scheme, ``javascript:`` or ``data:`` say, leaves the link's text as plain text),
    and whose images load only from the report's own files (an image from an address, which
    would load when the page opens, leaves its alt text)."""

    def inline(match: re.Match) -> str:
        return match.group("text") if _unsafe(_destination(match), bool(match.group("image"))) else match.group(0)

    def definition(match: re.Match) -> str:
        return "" if _unsafe(_destination(match)) else match.group(0)

    def autolink(match: re.Match) -> str:
        bare = re.sub(r"[\x00-\x20\x7f]", "", match.group("dest")).lower()
        return markdown_text(match.group("dest")) if _unsafe(bare) else match.group(0)

    markdown = _DEFINITION.sub(definition, markdown)
    markdown = _AUTOLINK.sub(autolink, markdown)
    return _LINK.sub(inline, markdown)


def show_markdown(template: str, **values: Any) -> None:
    """Markdown written by us with values filled in as text: ``show_markdown('We saw {n}
    customers', n=fmt_int(n))``. Every value is redacted and every Markdown and HTML sign in it
    escaped (``cxlab.privacy.markdown_text``): a goal, an id or a customer's comment holding
    ``[x](javascript:…)`` or ``![](https://…)`` shows as written, never as a link or an image.
    Links of the template itself pass ``safe_links``."""
    from IPython.display import Markdown, display

    display(Markdown(markdown_source(template, **values)))


def markdown_source(template: str, **values: Any) -> str:
    """The Markdown ``show_markdown`` displays (values as text, links checked)."""
    return safe_links(template.format(**{k: markdown_text(v) for k, v in values.items()}))


def caption(text: str) -> None:
    """A figure caption (shown under the figure that precedes it); redacted and escaped."""
    _display(f'<p class="cx-caption">{safe_text(text)}</p>')


def show_figure(fig, text: str) -> None:
    """Display a matplotlib or plotly figure followed by its caption, then close it."""
    from IPython.display import display

    if hasattr(fig, "savefig"):
        import matplotlib.pyplot as plt

        display(fig)
        plt.close(fig)
    else:
        fig.show()
    caption(text)
