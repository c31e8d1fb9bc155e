"""Showing findings in a notebook so the HTML report reads well and is safe to share.

Customer text is data, and so is every text a study brings (objective goals, intervention ids,
treated values from the data): everything shown here is redacted (``cxlab.privacy``: emails,
phones, cards, IBANs, names, addresses …) and escaped — for HTML, and in Markdown also every
Markdown sign, so a value never becomes a link or an image. Only links the template itself holds
(written by us) are links, and only to http(s) addresses or files of the report; an image in a
template loads only from the report itself, never from the network. Numbers are formatted for
people (``cxlab.units``): counts 1,234; shares 12.3%; money in the study's currency, €245;
durations in the unit their size calls for, 1.2 minutes or 5.4 days; a missing value '–'; CI in
brackets. Tables longer than a screen fold (a click opens them).
"""
from __future__ import annotations

import html
import re
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from .. import units
from ..metrics import figures_html, figures_markdown
from ..privacy import markdown_text, redact, safe_text
from ..results import ESTIMATE_COLUMNS, Estimate
from ..units import MISSING

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
    "fmt_money",
    "fmt_duration",
    "fmt_value",
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
# the formats of cxlab.units under the names the notebooks use
fmt_int = units.fmt_count
fmt_num = units.fmt_number
fmt_pct = units.fmt_pct
fmt_money = units.fmt_money
fmt_duration = units.fmt_duration


def fmt_p(p: Any) -> str:
    if units.is_missing(p):
        return MISSING
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(low: Any, high: Any, fmt: Callable[[Any], str] = fmt_num) -> str:
    """'[1.20, 3.40]'."""
    return f"[{fmt(low)}, {fmt(high)}]"


def fmt_estimate(est: Estimate, fmt: Callable[[Any], str] = fmt_num) -> str:
    """'12.3% [11.0%, 13.6%]' for an Estimate (pass fmt_pct for shares)."""
    return f"{fmt(est.estimate)} {fmt_ci(est.ci_low, est.ci_high, fmt)}"


def fmt_value(value: Any) -> str:
    """Any value a table or a sentence may hold, for people: missing as '–', a whole float as a
    count, a mapping as 'key: value; …' and a list as 'a, b, c' (never Python's {'…'} or [...])."""
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {fmt_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(fmt_value(v) for v in value)
    if units.is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) or hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f":
        return fmt_int(value) if float(value).is_integer() else fmt_num(value)
    return str(value)


# --------------------------------------------------------------------------- display
def _display(obj) -> None:
    from IPython.display import HTML, display

    display(HTML(obj))


# a column named with one of these words holds a duration in that unit ("median_hours_to_next")
_DURATION_WORDS = {"seconds": "seconds", "minutes": "minutes", "hours": "hours", "days": "days", "weeks": "weeks"}
# a column named with one of these holds money ("revenue_per_customer", "mean order value") …
_MONEY_WORDS = {"revenue", "clv", "spend", "spent", "monetary", "aov", "amount", "value"}
# … unless it is a share, a rate or a count of something ("revenue share", "value index")
_NOT_MONEY_WORDS = {"share", "rate", "ratio", "pct", "percent", "index", "rank", "z", "sd", "score", "n"}
#: a table with more rows than this shows folded (a click opens it), so the page reads in sections
FOLD_ROWS = 12


def _words(column: Any) -> list[str]:
    return re.split(r"[\s_()]+", str(column).lower())


def duration_unit(column: Any) -> str | None:
    """The unit of a column named for a duration ('median_hours_to_next' -> 'hours'), else None
    ('events_per_active_day' is a rate, not a duration)."""
    words = _words(column)
    for i, word in enumerate(words):
        if word in _DURATION_WORDS and (i == 0 or words[i - 1] != "per"):
            return _DURATION_WORDS[word]
    return None


def is_money_column(column: Any) -> bool:
    """A column named for an amount of money ('revenue_per_customer', 'mean order value
    (buyers)', 'clv') that is not a share, rate or score of it."""
    words = set(_words(column))
    money = bool(words & (_MONEY_WORDS - {"value"})) or "order" in words and "value" in words or "clv" in words
    return money and not words & _NOT_MONEY_WORDS


def _header(column: Any, unit: str | None) -> str:
    """A column's heading: underscores as spaces, and a duration's unit word as 'time' (its cells
    carry their own unit: 'median time to next' over '1.2 minutes')."""
    text = str(column).replace("_", " ")
    if unit:
        text = re.sub(rf"\b{unit}\b", "time", text, count=1, flags=re.I)
    return text


def _auto_format(values: pd.Series, column: Any) -> tuple[Callable[[Any], str] | None, str | None]:
    """The format a column gets when none is given, and the duration unit it was read in."""
    if pd.api.types.is_bool_dtype(values):
        return (lambda v: MISSING if units.is_missing(v) else ("yes" if v else "no")), None
    if not pd.api.types.is_numeric_dtype(values):
        return None, None
    unit = duration_unit(column)
    if unit:
        return (lambda v, unit=unit: fmt_duration(v, unit)), unit
    if is_money_column(column):
        return fmt_money, None
    if pd.api.types.is_integer_dtype(values):
        return fmt_int, None
    present = values.dropna().astype(float)
    present = present[present.abs() != float("inf")]
    if {"share", "rate"} & set(_words(column)) and len(present) and present.abs().max() <= 1:
        return fmt_pct, None  # a share or rate given as a fraction
    if len(present) and (present == present.round()).all():
        return fmt_int, None  # counts stored as floats (600.0 customers): no decimals
    return fmt_num, None


def _text_cell(value: Any) -> str:
    """A cell of a text column: redacted and escaped; missing as '–', a number or a mapping in
    words (``fmt_value``)."""
    return figures_html(value if isinstance(value, str) else fmt_value(value))  # marked figures as spans


def table_html(
    frame: pd.DataFrame | Estimate | Iterable[Estimate],
    caption: str | None = None,
    formats: Mapping[str, Callable[[Any], str] | str] | None = None,
    max_rows: int = 30,
    index: bool = False,
    fold: bool | None = None,
) -> str:
    """A formatted, escaped HTML table. ``formats`` maps a column to a formatter or to one of
    'int' (a count), 'pct' (a share as a percentage), 'num', 'p', 'money' (in the study's
    currency) or a duration unit ('hours', 'days', 'minutes', 'seconds'). A column without one
    is formatted by its name and values: a duration unit in its name ('median_hours_to_next')
    shows each cell in the unit its size calls for, under the heading 'median time to next';
    money ('revenue_per_customer', 'mean order value') in the study's currency; whole numbers
    (counts, also when stored as floats) without decimals; other numbers with two. Missing
    values show as '–'. 'num' is the plain number format: a column it is given for whose name
    says money or a duration is still shown as money or a duration. A table may carry its own
    formats in ``frame.attrs["formats"]`` (a stage's result table); ``formats`` wins over them.
    Text cells are redacted and escaped.

    ``fold``: show the table folded under a line that opens it (the caption stays visible);
    None folds tables of more than ``FOLD_ROWS`` rows."""
    if isinstance(frame, Estimate):
        frame = frame.to_frame()
    elif not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame([e.to_dict() for e in frame])[ESTIMATE_COLUMNS]
    named: dict[str, Callable] = {"int": fmt_int, "count": fmt_int, "pct": fmt_pct, "num": fmt_num, "p": fmt_p,
                                  "money": fmt_money}
    named.update({u: (lambda v, u=u: fmt_duration(v, u)) for u in units.DURATION_UNITS})
    # the formats the table carries (a stage sets frame.attrs["formats"]), then the caller's
    given = {**(frame.attrs.get("formats") or {}), **(formats or {})}
    fmts: dict[str, Callable] = {"n": fmt_int, "p_value": fmt_p}
    for col, f in given.items():
        if isinstance(f, str) and f not in named:
            raise ValueError(f"format of column {col!r} must be a function or one of {', '.join(named)} (got {f!r})")
        # 'num' says "a number": a column named for money or a duration is still shown as one
        if f == "num" and (duration_unit(col) or is_money_column(col)):
            continue
        fmts[col] = named[f] if isinstance(f, str) else f
    shown = frame.head(max_rows)
    if index:
        shown = shown.reset_index()
    columns, numeric, headers = [], [], []
    for col in shown.columns:
        f, unit = fmts.get(col), None
        if f is not None:
            unit = given.get(col) if given.get(col) in units.DURATION_UNITS else None
        else:
            f, unit = _auto_format(shown[col], col)
        is_number = f is not None and not pd.api.types.is_bool_dtype(shown[col])
        # a cell a stage wrote out already ('12.5% (10.1%–14.9%)') is shown as it is, as text
        cells = shown[col].map(lambda v, f=f: _text_cell(v) if f is None or isinstance(v, str) else html.escape(f(v)))
        columns.append(cells.tolist())
        numeric.append(bool(is_number))
        headers.append(_header(col, unit))
    head = "".join(
        f'<th class="{"num" if num else "txt"}">{safe_text(h)}</th>' for h, num in zip(headers, numeric)
    )
    rows = "".join(
        "<tr>" + "".join(f'<td class="{"num" if num else "txt"}">{col[i]}</td>' for col, num in zip(columns, numeric)) + "</tr>"
        for i in range(len(shown))
    )
    body = f'<table class="cx-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    if fold or fold is None and len(shown) > FOLD_ROWS:
        body = (f'<details class="cx-fold"><summary>Show the table ({len(shown):,} rows)</summary>'
                f"{body}</details>")
    cap = f'<p class="cx-caption">{safe_text(caption)}</p>' if caption else ""
    more = (
        f'<p class="cx-note">Showing {max_rows:,} of {len(frame):,} rows.</p>'
        if len(frame) > max_rows
        else ""
    )
    return f'<div class="cx-block">{body}{cap}{more}</div>'


def show_table(frame, caption: str | None = None, formats=None, max_rows: int = 30, index=False,
               fold: bool | None = None) -> None:
    """Display a formatted, escaped table with a caption under it (see ``table_html``)."""
    _display(table_html(frame, caption, formats, max_rows, index, fold))


def show_findings(findings: Iterable[str], title: str = "Key findings") -> None:
    """A box of headline sentences (redacted and escaped; write numbers in with the fmt_* helpers)."""
    items = "".join(f"<li>{figures_html(f)}</li>" for f in findings if f)  # marked figures as spans
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
    shown = {k: figures_markdown(v if isinstance(v, str) else fmt_value(v)) for k, v in values.items()}
    return safe_links(template.format(**shown))


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
