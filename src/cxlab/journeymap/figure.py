"""The journey-map figure: the study's stages across, lanes down.

Lanes, top to bottom:

1. **Touchpoints** — the stage's top touchpoints; the bar behind each shows its reach (share of
   the population's customers who used it, 0–100% of the column), the number says it.
2. **What customers do** — the most common moves at the stage, in words.
3. **How they feel** — the emotion curve: the first metric present (CSAT, else comment
   sentiment, else NPS) by stage with its 95% confidence band; the stage where it is lowest is
   marked red. A second metric, when present, is written under each stage.
4. **Pain points** — ranked across the whole journey (1 = fix first), each with its key number.
5. **Opportunities** — derived from the pain points and the key drivers, each with its basis.
6. **Stage KPI** — from the stage funnel (customers reaching the stage, conversion onwards).

Made for A4 landscape (11.69 × 8.27 in): no text smaller than 7 pt, labels wrapped to their
column by measuring the rendered text, and a cell that cannot hold all its items says how many
it left out ("+ 2 more") instead of overlapping its neighbour. Every text drawn is redacted
(emails, phone numbers) and drawn without math parsing, so customer text shows as written.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch, Rectangle

from ..metrics import figures_plain
from ..privacy import redact
from .inputs import JourneyMapData
from .narrative import segment_name

__all__ = ["A4_LANDSCAPE", "MIN_FONT_PT", "pain_emphasis", "journey_map_figure", "map_files", "save_journey_map", "figure_texts",
           "show_map"]

A4_LANDSCAPE = (11.69, 8.27)
MIN_FONT_PT = 7.0

CHANNEL_COLOURS = {
    "web": "#4c72b0",
    "app": "#55a868",
    "email": "#8172b3",
    "store": "#dd8452",
    "call_centre": "#c44e52",
}
_OTHER_CHANNEL = "#8c8c8c"
_STAGE_COLOURS = ["#1f3b5c", "#26507a", "#2e6597", "#367ab3", "#3f8fd0", "#4fa0dd", "#6ab0e3", "#85c0e9"]
_PAIN = "#c44e52"
_PAIN_LIGHT = "#e8a0a2"
_OPP = "#2f8f5b"
_INK = "#222222"
_MUTED = "#555555"
_LANE_BG = ["#f6f7f9", "#ffffff"]

# lane id, title, explanation, height (inches)
LANES = [
    ("touchpoints", "Touchpoints", "top touchpoints; bar = share of customers reached", 1.12),
    ("actions", "What customers do", "most common moves at the stage", 0.86),
    ("emotion", "How they feel", "", 1.08),
    ("pain_points", "Pain points", "ranked across the journey; 1 = fix first; a customer's words under the largest", 1.62),
    ("opportunities", "Opportunities", "from pain points and key drivers", 1.12),
    ("kpis", "Stage KPI", "from the stage funnel", 0.66),
]
_METRIC_NAMES = {
    "csat": ("CSAT", "mean CSAT (1–5)", 2),
    "sentiment": ("sentiment", "mean comment sentiment (−1 to +1)", 2),
    "nps": ("NPS", "NPS (−100 to +100)", 0),
    "ces": ("CES", "mean CES (1–7)", 2),
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text) -> str:
    """Text as the figure shows it: redacted, control characters and runs of space removed."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", redact(text))).strip()


# --------------------------------------------------------------------------- measuring text
class _Measure:
    """Rendered text widths in points (Agg at 72 dpi, the font the figure uses)."""

    def __init__(self):
        from matplotlib.backends.backend_agg import RendererAgg

        self._renderer = RendererAgg(10, 10, 72)
        self._cache: dict = {}

    def width(self, text: str, size: float, weight: str = "normal") -> float:
        key = (text, size, weight)
        if key not in self._cache:
            prop = FontProperties(size=size, weight=weight)
            w, _, _ = self._renderer.get_text_width_height_descent(text, prop, ismath=False)
            self._cache[key] = w
        return self._cache[key]

    def wrap(self, text: str, width_pt: float, size: float, weight: str = "normal") -> list[str]:
        """Greedy word wrap to ``width_pt``; a word longer than a line is cut."""
        lines: list[str] = []
        line = ""
        for word in text.split(" "):
            trial = f"{line} {word}" if line else word
            if self.width(trial, size, weight) <= width_pt:
                line = trial
                continue
            if line:
                lines.append(line)
            while self.width(word, size, weight) > width_pt and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and self.width(word[:cut] + "-", size, weight) > width_pt:
                    cut -= 1
                lines.append(word[:cut] + "-")
                word = word[cut:]
            line = word
        if line:
            lines.append(line)
        return lines or [""]

    def truncate(self, text: str, width_pt: float, size: float, weight: str = "normal") -> str:
        """``text`` cut with an ellipsis to fit on one line."""
        if self.width(text, size, weight) <= width_pt:
            return text
        while len(text) > 1 and self.width(text + "…", size, weight) > width_pt:
            text = text[:-1]
        return text.rstrip() + "…"


def _line_h(size: float) -> float:
    """Line height in inches for a font size in points."""
    return size * 1.22 / 72


@dataclass
class _Part:
    text: str
    size: float = 7.5
    weight: str = "normal"
    color: str = _INK


@dataclass
class _Item:
    parts: list[_Part]
    badge: str | None = None
    badge_color: str = _PAIN
    lines: list[list[str]] = field(default_factory=list)

    def height(self) -> float:
        return sum(len(ls) * _line_h(p.size) for p, ls in zip(self.parts, self.lines)) + 0.045


class _Canvas:
    """Draws in inches from the figure's bottom-left corner."""

    def __init__(self, fig: Figure):
        self.fig = fig
        self.tr = fig.dpi_scale_trans
        self.m = _Measure()

    def text(self, x, y, s, size=7.5, weight="normal", color=_INK, ha="left", va="top", **kw):
        size = max(float(size), MIN_FONT_PT)
        return self.fig.text(x, y, s, transform=self.tr, fontsize=size, fontweight=weight, color=color,
                             ha=ha, va=va, parse_math=False, **kw)

    def rect(self, x, y, w, h, color, alpha=1.0, round_=False, **kw):
        if round_:
            patch = FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.05",
                                   transform=self.tr, facecolor=color, edgecolor="none", alpha=alpha, **kw)
        else:
            patch = Rectangle((x, y), w, h, transform=self.tr, facecolor=color, edgecolor="none", alpha=alpha, **kw)
        self.fig.add_artist(patch)
        return patch

    def items(self, box, items: list[_Item], more_size: float = 7.0, empty: str | None = None,
              more: bool = True, draw: bool = True) -> int:
        """Stack ``items`` top-down in ``box`` (x0, y0, x1, y1); returns how many were drawn
        (with ``draw=False``: how many would fit, drawing nothing). Items that do not fit are
        counted in a '+ k more' line (left out silently when ``more`` is False: the lane shows
        the top ones only)."""
        x0, y0, x1, y1 = box
        widest = max((self.m.width(it.badge, 7, "bold") for it in items if it.badge), default=0.0)
        badge_d = max(0.135, widest / 72 + 0.05)  # the badge grows to hold "12"
        badge_w = badge_d + 0.035
        for it in items:
            indent = badge_w if it.badge else 0.0
            it.lines = [self.m.wrap(p.text, (x1 - x0 - indent) * 72, p.size, p.weight) for p in it.parts]
        avail = y1 - y0
        heights = [it.height() for it in items]
        k = len(items)
        while k > 0 and sum(heights[:k]) + (_line_h(more_size) if k < len(items) and more else 0) > avail:
            k -= 1
        if not draw:
            return k
        if not items and empty:
            self.text(x0, y1, empty, size=7, color=_MUTED, style="italic")
        y = y1
        for it in items[:k]:
            top = y
            indent = badge_w if it.badge else 0.0
            for p, lines in zip(it.parts, it.lines):
                for line in lines:
                    self.text(x0 + indent, y, line, size=p.size, weight=p.weight, color=p.color)
                    y -= _line_h(p.size)
            if it.badge:
                d = 0.135
                self.rect(x0, top - d - 0.005, badge_d, d, it.badge_color, round_=True)
                self.text(x0 + badge_d / 2, top - d / 2 - 0.005, it.badge, size=7, weight="bold", color="white",
                          ha="center", va="center")
            y -= 0.045
        if k < len(items) and more:
            self.text(x0, y, f"+ {len(items) - k} more", size=more_size, color=_MUTED, style="italic")
        return k


# --------------------------------------------------------------------------- layout
@dataclass
class _Layout:
    width: float
    height: float
    margin: float = 0.28
    label_w: float = 1.32
    gutter: float = 0.12
    title_h: float = 0.7
    header_h: float = 0.34
    footer_h: float = 0.56
    n: int = 5
    lanes: dict = field(default_factory=dict)  # lane -> (y0, y1)

    def __post_init__(self):
        fixed = sum(h for *_, h in LANES)
        free = self.height - 2 * self.margin - self.title_h - self.header_h - self.footer_h
        scale = free / fixed
        y = self.height - self.margin - self.title_h - self.header_h
        for lane, _, _, h in LANES:
            self.lanes[lane] = (y - h * scale, y)
            y -= h * scale

    @property
    def stages_x0(self) -> float:
        return self.margin + self.label_w

    @property
    def slot(self) -> float:
        return (self.width - self.margin - self.stages_x0) / self.n

    def column(self, i: int) -> tuple[float, float]:
        x0 = self.stages_x0 + i * self.slot + self.gutter / 2
        return x0, x0 + self.slot - self.gutter

    def cell(self, lane: str, i: int, pad: float = 0.06) -> tuple[float, float, float, float]:
        x0, x1 = self.column(i)
        y0, y1 = self.lanes[lane]
        return x0, y0 + pad, x1, y1 - pad


def _fmt_share(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.0%}" if x >= 0.01 or x == 0 else "<1%"


def _metric_value(metric: str, value: float) -> str:
    digits = _METRIC_NAMES.get(metric, (metric, metric, 2))[2]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:+.{digits}f}" if metric == "sentiment" else f"{value:.{digits}f}"
    return text.replace("-", "−")


# --------------------------------------------------------------------------- lanes
def _draw_touchpoints(c: _Canvas, L: _Layout, data: JourneyMapData, top: int) -> None:
    size = 7.5
    row = _line_h(size) + 0.07
    for i, stage in enumerate(data.stages):
        x0, y0, x1, y1 = L.cell("touchpoints", i)
        tps = data.top_touchpoints(stage, n=max(top, 1) + 50)
        fit = max(int((y1 - y0 - _line_h(7)) // row), 1)
        shown = tps.head(min(top, fit))
        if shown.empty:
            c.text(x0, y1, "–" if "touchpoints" in data.missing else "no touchpoint seen", size=7,
                   color=_MUTED, style="italic")
            continue
        y = y1
        w = x1 - x0
        for r in shown.itertuples(index=False):
            reach = float(r.reach) if r.reach == r.reach else 0.0
            colour = CHANNEL_COLOURS.get(str(r.channel), _OTHER_CHANNEL)
            c.rect(x0, y - row + 0.025, w, row - 0.05, "#e9ecf1")
            c.rect(x0, y - row + 0.025, max(w * min(max(reach, 0.0), 1.0), 0.02), row - 0.05, colour, alpha=0.45)
            pct = _fmt_share(reach)
            pct_w = c.m.width(pct, size, "bold") / 72
            room = (w - pct_w - 0.1) * 72
            label = _clean(r.label or r.touchpoint)
            label_size = size if c.m.width(label, size) <= room else MIN_FONT_PT
            label = _fit_label(c, label, room, label_size)
            c.text(x0 + 0.04, y - row / 2, label, size=label_size, va="center_baseline")
            c.text(x1 - 0.03, y - row / 2, pct, size=size, weight="bold", ha="right", va="center_baseline")
            y -= row
        left = len(tps) - len(shown)
        if left > 0:
            c.text(x0, y - 0.02, f"+ {left} more touchpoint{'s' if left > 1 else ''}", size=7, color=_MUTED,
                   style="italic")


def _fit_label(c: _Canvas, label: str, room_pt: float, size: float) -> str:
    """A touchpoint label that fits its bar: as written; else its channel in brackets shortened
    to the first channel ("Order tracking (web or app)" → "Order tracking (web+)"); only then cut."""
    if c.m.width(label, size) <= room_pt:
        return label
    short = re.sub(r"\(([^()\s]+) or [^()]+\)$", r"(\1+)", label)
    if c.m.width(short, size) <= room_pt:
        return short
    return c.m.truncate(short, room_pt, size)


def _draw_actions(c: _Canvas, L: _Layout, data: JourneyMapData) -> None:
    for i, stage in enumerate(data.stages):
        a = data.actions[data.actions.stage == stage]
        items = []
        for r in a.itertuples(index=False):
            items.append(_Item([_Part("• " + _clean(r.text), size=7.5, color=_INK)]))
        c.items(L.cell("actions", i), items, empty="–", more=False)


def _draw_emotion(c: _Canvas, L: _Layout, data: JourneyMapData) -> dict:
    y0, y1 = L.lanes["emotion"]
    x0 = L.stages_x0
    x1 = L.width - L.margin
    metrics = data.metrics
    info: dict = {"metric": None, "lowest": None}
    if not metrics:
        cx0, _, _, cy1 = L.cell("emotion", 0)
        c.text(cx0, cy1, "–" if "emotion" in data.missing else "no survey data", size=7, color=_MUTED,
               style="italic")
        return info
    primary = metrics[0]
    secondary = metrics[1] if len(metrics) > 1 else None
    strip = 0.2 if secondary else 0.0
    pad = 0.05
    ax = c.fig.add_axes([x0 / L.width, (y0 + pad + strip) / L.height, (x1 - x0) / L.width,
                         (y1 - y0 - 2 * pad - strip) / L.height])
    ax.patch.set_alpha(0.0)
    m = data.emotion_metric(primary)
    x = np.arange(L.n, dtype=float)
    est = m["estimate"].to_numpy()
    lo = np.where(np.isnan(m["ci_low"].to_numpy()), est, m["ci_low"].to_numpy())
    hi = np.where(np.isnan(m["ci_high"].to_numpy()), est, m["ci_high"].to_numpy())
    ok = ~np.isnan(est)
    # y range leaving room (in points) for the value labels above and below
    h_pt = ax.get_position().height * L.height * 72
    top_pt, bottom_pt = 13.0, 14.0
    vmin, vmax = np.nanmin(lo[ok]), np.nanmax(hi[ok])
    span = max(vmax - vmin, 1e-6 + 0.05 * max(abs(vmax), 1.0))
    per_pt = span / max(h_pt - top_pt - bottom_pt, 10.0)
    ax.set_ylim(vmin - bottom_pt * per_pt, vmax + top_pt * per_pt)
    ax.set_xlim(-0.5, L.n - 0.5)
    colour = "#4c72b0"
    ax.fill_between(x, lo, hi, where=ok, color=colour, alpha=0.18, linewidth=0, interpolate=False)
    ax.plot(x[ok], est[ok], color=colour, linewidth=2.0, marker="o", markersize=5, zorder=3)
    avg = float(np.nanmean(est[ok]))
    ax.axhline(avg, color=_MUTED, linestyle=(0, (3, 3)), linewidth=0.8, zorder=1)
    low_i = int(np.nanargmin(np.where(ok, est, np.inf)))
    ax.plot([x[low_i]], [est[low_i]], marker="o", markersize=8, color=_PAIN, zorder=4)
    for i in np.flatnonzero(ok):
        if i == low_i:  # the dip: its label under the band, in red
            ax.annotate(f"lowest: {_metric_value(primary, est[i])}", (x[i], lo[i]), xytext=(0, -3),
                        textcoords="offset points", ha="center", va="top", fontsize=8, fontweight="bold",
                        color=_PAIN, parse_math=False)
        else:
            n = m["n"].iloc[i]
            few = f" (n = {int(n)})" if n == n and n < 30 else ""  # a wide band: say why
            ax.annotate(_metric_value(primary, est[i]) + few, (x[i], hi[i]), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7.5, fontweight="bold", color=_INK, parse_math=False)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.grid(False)
    if secondary:
        s = data.emotion_metric(secondary)
        name = _METRIC_NAMES.get(secondary, (secondary,))[0]
        for i in range(L.n):
            cx0, _, cx1, _ = L.cell("emotion", i)
            v = s["estimate"].iloc[i]
            if v == v:
                c.text((cx0 + cx1) / 2, y0 + pad + strip - 0.03, f"{name} {_metric_value(secondary, v)}",
                       size=7, color=_MUTED, ha="center")
    info.update(metric=primary, secondary=secondary, lowest=data.stages[low_i], average=avg, axes=ax)
    return info


_PAIN_MID = "#e08a3c"
_PAIN_QUIET = "#a0a0a0"


def pain_emphasis(rank: float, priority: float, top_priority: float) -> str:
    """How loud a pain point is drawn: 'top' (red, its quote under it) for rank 1 and any whose
    priority is at least a quarter of the top one's; 'mid' (orange) for the next ones down to a
    twentieth of it within the first five; 'minor' (grey, small) for the rest, so a 3% drop-off
    does not shout like the pain point that harms five times more customers."""
    share = priority / top_priority if top_priority and top_priority > 0 and priority == priority else math.nan
    if rank == 1 or share >= 0.25:
        return "top"
    if rank <= 5 and not share < 0.05:
        return "mid"
    return "minor"


def _quote_lines(c: _Canvas, quote, width_pt: float, size: float = 7.0, lines: int = 2) -> str | None:
    """The quote in typographic quotes, cut at a word (with "…") to ``lines`` lines of the cell."""
    if not isinstance(quote, str) or not quote.strip():
        return None
    text = f"“{_clean(quote)}”"
    if len(c.m.wrap(text, width_pt, size)) <= lines:
        return text
    words = text[:-1].split(" ")
    while len(words) > 1 and len(c.m.wrap(" ".join(words) + " …”", width_pt, size)) > lines:
        words.pop()
    return " ".join(words).rstrip(",;:.") + " …”"


def _pain_items(c: _Canvas, frame: pd.DataFrame, top_priority: float, width_pt: float,
                quotes: bool = True) -> list[_Item]:
    items = []
    badge_room = 0.2 * 72
    for r in frame.itertuples(index=False):
        label = _clean(r.label if isinstance(r.label, str) and r.label else r.name)
        words = getattr(r, "plain", None) or r.key_number
        tier = pain_emphasis(float(r.rank), float(r.value), top_priority)
        if tier == "minor":
            parts = [_Part(label, size=7.0, color=_MUTED), _Part(_clean(words), size=7.0, color=_MUTED)]
        else:
            parts = [_Part(label, size=7.5, weight="bold"),
                     _Part(_clean(words), size=7.5 if tier == "top" else 7.0, color=_INK)]
        quote = _quote_lines(c, getattr(r, "quote", None), width_pt - badge_room) if tier == "top" and quotes else None
        if quote:
            parts.append(_Part(quote, size=7.0, color=_MUTED))
        colour = {"top": _PAIN, "mid": _PAIN_MID, "minor": _PAIN_QUIET}[tier]
        items.append(_Item(parts, badge=str(int(r.rank)), badge_color=colour))
    return items


def _draw_pain_points(c: _Canvas, L: _Layout, data: JourneyMapData) -> list:
    """Draws the lane; returns the top pain points whose quote had no room in their cell (the
    footer gives them)."""
    unquoted: list = []
    pp = data.pain_points.sort_values("rank")
    top_priority = float(pd.to_numeric(pp["value"], errors="coerce").max()) if len(pp) else math.nan
    for i, stage in enumerate(data.stages):
        box = L.cell("pain_points", i)
        here = pp[pp.stage == stage]
        items = _pain_items(c, here, top_priority, (box[2] - box[0]) * 72)
        loud = sum(pain_emphasis(float(r.rank), float(r.value), top_priority) != "minor"
                   for r in here.itertuples(index=False))
        if c.items(box, items, draw=False) < min(loud, len(items)):  # a quote never hides a ranked pain point
            items = _pain_items(c, here, top_priority, (box[2] - box[0]) * 72, quotes=False)
            unquoted += [r for r in here.itertuples(index=False)
                         if pain_emphasis(float(r.rank), float(r.value), top_priority) == "top"
                         and isinstance(getattr(r, "quote", None), str) and r.quote.strip()]
        c.items(box, items, empty="–" if "pain_points" in data.missing else "none found")
    return unquoted


def _draw_opportunities(c: _Canvas, L: _Layout, data: JourneyMapData) -> None:
    op = data.opportunities.sort_values("rank")
    for i, stage in enumerate(data.stages):
        items = [
            _Item([_Part(_clean(r.text), size=7.5, weight="bold", color=_OPP),
                   _Part(_clean(r.basis), size=7, color=_MUTED)], badge="→", badge_color=_OPP)
            for r in op[op.stage == stage].itertuples(index=False)
        ]
        c.items(L.cell("opportunities", i), items, empty="–")


def _draw_kpis(c: _Canvas, L: _Layout, data: JourneyMapData) -> None:
    for i, stage in enumerate(data.stages):
        k = data.kpis[data.kpis.stage == stage]
        items = [
            _Item([_Part(_clean(r.text), size=8.5 if j == 0 else 7.5, weight="bold" if j == 0 else "normal")])
            for j, r in enumerate(k.itertuples(index=False))
        ]
        c.items(L.cell("kpis", i), items, empty="–", more=False)


# --------------------------------------------------------------------------- the figure
def journey_map_figure(
    data: JourneyMapData,
    *,
    top_touchpoints: int = 4,
    figsize: tuple[float, float] = A4_LANDSCAPE,
    dpi: int = 100,
    source: str | None = None,
) -> Figure:
    """Draw the journey map of ``data`` (see the module doc) and return the Figure.

    top_touchpoints: touchpoints shown per stage (fewer when the lane is short); figsize: A4
    landscape by default, in inches; source: a line naming where the numbers come from (shown
    in the footer; default: the study's processed folder)."""
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)  # measuring and saving without pyplot
    fig.patch.set_facecolor("white")
    W, H = figsize
    L = _Layout(W, H, n=max(len(data.stages), 1))
    c = _Canvas(fig)

    # title
    top = H - L.margin
    title = _clean(f"Customer journey map — {data.title}")
    c.text(L.margin, top, c.m.truncate(title, (W - 2 * L.margin) * 72, 13, "bold"), size=13, weight="bold")
    who = data.population if data.segment is None else f"Segment: {segment_name(data.population)}"
    if data.n_customers:
        who += f" · {data.n_customers:,} customers"
    if data.persona:
        who += f" · persona: {data.persona}"
    who = c.m.truncate(_clean(who), (W - 2 * L.margin) * 72, 9)
    c.text(L.margin, top - 0.27, who, size=9, color=_MUTED)
    if data.objectives:  # the study's objectives on a line of their own: each names whom it counts
        room = (W - 2 * L.margin) * 72
        # the values as the pages print them (marks as plain values), with the current period they share
        items = [_clean(figures_plain(o)) for o in data.objectives]
        # "now" is the study's one current period (cxlab.metrics.current_period), named once
        head = f"Now, {data.objectives_period}: " if data.objectives_period else "Objectives: "
        for k in range(len(items), 0, -1):  # whole objectives only, then how many were left out
            shown = head + " · ".join(items[:k]) + (f" · + {len(items) - k} more" if k < len(items) else "")
            if c.m.width(shown, 7.5) <= room:
                c.text(L.margin, top - 0.46, shown, size=7.5, color=_MUTED)
                break

    # lane backgrounds and titles
    for j, (lane, name, explain, _) in enumerate(LANES):
        y0, y1 = L.lanes[lane]
        c.rect(L.margin, y0, W - 2 * L.margin, y1 - y0, _LANE_BG[j % 2], zorder=-5)
        c.rect(L.margin, y0, 0.05, y1 - y0, _STAGE_COLOURS[1], zorder=-4)
        lw = (L.label_w - 0.2) * 72
        y = y1 - 0.06
        for line in c.m.wrap(name, lw, 9, "bold"):
            c.text(L.margin + 0.12, y, line, size=9, weight="bold")
            y -= _line_h(9)
        explain = data.lane_notes.get(lane, explain)
        if lane == "emotion" and lane not in data.lane_notes:
            metric = data.metrics[0] if data.metrics else None
            explain = (f"{_METRIC_NAMES.get(metric, (metric, metric))[1]} by stage, 95% band; "
                       "dashed: journey average" if metric else "no survey data")
        lines = c.m.wrap(_clean(explain), lw, 7)
        room = max(int((y - 0.02 - y0 - 0.04) // _line_h(7)), 0)
        if len(lines) > room:  # a long caption is cut to the lane, never into the next one
            lines = lines[:room]
            if lines:
                lines[-1] = c.m.truncate(lines[-1] + " …", lw, 7)
        for line in lines:
            c.text(L.margin + 0.12, y - 0.02, line, size=7, color=_MUTED)
            y -= _line_h(7)

    # stage headers
    hy1 = H - L.margin - L.title_h
    for i, stage in enumerate(data.stages):
        x0, x1 = L.column(i)
        c.rect(x0, hy1 - L.header_h + 0.04, x1 - x0, L.header_h - 0.08,
               _STAGE_COLOURS[min(i, len(_STAGE_COLOURS) - 1)], round_=True)
        label = c.m.truncate(f"{i + 1}  {_clean(stage).replace('_', ' ').capitalize()}", (x1 - x0 - 0.1) * 72, 10, "bold")
        c.text((x0 + x1) / 2, hy1 - L.header_h / 2, label, size=10, weight="bold", color="white",
               ha="center", va="center")

    _draw_touchpoints(c, L, data, top_touchpoints)
    _draw_actions(c, L, data)
    emotion = _draw_emotion(c, L, data)
    unquoted = _draw_pain_points(c, L, data)
    _draw_opportunities(c, L, data)
    _draw_kpis(c, L, data)

    # footer: journey-wide findings, channel legend, source and notes
    fy = L.margin + L.footer_h - 0.06
    width = (W - 2 * L.margin) * 72
    footer = []
    pp = data.pain_points
    unstaged = pp[pp.stage.isna()].sort_values("rank")
    if len(unstaged):
        footer.append("Pain points across the journey: " + "; ".join(
            f"{int(r.rank)}. {_clean(r.label or r.name)}: {_clean(getattr(r, 'plain', None) or r.key_number)}"
            for r in unstaged.head(3).itertuples()))
    if unquoted:
        footer.append("In customers' words: " + "; ".join(
            f"{int(r.rank)}. {_clean(r.label or r.name)}: “{_clean(r.quote)}”" for r in unquoted[:2]))
    op = data.opportunities
    wide = op[op.stage.isna()].sort_values("rank")
    if len(wide):
        footer.append("Across the journey: " + "; ".join(
            f"{_clean(r.text)} ({_clean(r.basis)})" for r in wide.head(2).itertuples()))
    footer += [_clean(n) for n in data.notes]
    legend_x = W - L.margin
    channels = [ch for ch in CHANNEL_COLOURS if ch in set(data.touchpoints.get("channel", pd.Series(dtype=str)))]
    for ch in reversed(channels):
        name = ch.replace("_", " ")
        w = c.m.width(name, 7) / 72
        legend_x -= w
        c.text(legend_x, L.margin + 0.02, name, size=7, color=_MUTED, va="bottom")
        legend_x -= 0.13
        c.rect(legend_x, L.margin + 0.03, 0.1, 0.08, CHANNEL_COLOURS[ch], alpha=0.6)
        legend_x -= 0.1
    src = _clean(source if source is not None else f"Source: the stages' tables in data/processed/{data.study}/")
    c.text(L.margin, L.margin + 0.02, c.m.truncate(src, (legend_x - L.margin - 0.2) * 72, 7), size=7,
           color=_MUTED, va="bottom")
    lines = [part for line in footer for part in c.m.wrap(line, width, 7)[:2]]
    room = max(int((fy - L.margin - 0.14) // _line_h(7)), 1)
    if len(lines) > room:  # never into the source line: say how much is left out
        lines = lines[:room - 1] + [f"+ {len(lines) - room + 1} more line(s) of notes: see the report page"]
    y = fy
    for part in lines:
        c.text(L.margin, y, part, size=7, color=_MUTED)
        y -= _line_h(7)
    fig._cxlab_emotion = {k: v for k, v in emotion.items() if k != "axes"}  # for tests and captions
    return fig


def figure_texts(fig: Figure) -> list:
    """Every visible Text artist of the figure (figure texts and axes annotations)."""
    texts = [t for t in fig.texts if t.get_visible() and t.get_text()]
    for ax in fig.axes:
        texts += [t for t in ax.texts if t.get_visible() and t.get_text()]
    return texts


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_").lower() or "map"


def map_files(folder: str | os.PathLike, name: str = "journey_map") -> dict[str, Path]:
    """Where ``save_journey_map(fig, folder, name)`` writes: {'png': path, 'svg': path}."""
    stem = _slug(name)
    return {ext: Path(folder) / f"{stem}.{ext}" for ext in ("png", "svg")}


def save_journey_map(fig: Figure, folder: str | os.PathLike, name: str = "journey_map", dpi: int = 200) -> dict:
    """Write ``fig`` as ``<name>.png`` (``dpi``, print quality) and ``<name>.svg`` into ``folder``
    (created if needed). Returns {'png': path, 'svg': path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _slug(name)
    out = {}
    for ext, path in map_files(folder, name).items():
        tmp = folder / f".{stem}.tmp.{ext}"
        # svg.fonttype "none": the SVG keeps its words as <text>, editable in slides and
        # searchable, instead of outlines; the PNG is unchanged
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            fig.savefig(tmp, dpi=dpi if ext == "png" else None, format=ext, facecolor="white",
                        metadata={"Date": None} if ext == "svg" else None)
        os.replace(tmp, path)
        out[ext] = path
    return out


def show_map(fig: Figure, text: str, dpi: int = 120, width: int = 1100) -> None:
    """Show the map in a notebook (and so in the HTML report) as a PNG image at most ``width``
    pixels wide, drawn at ``dpi``, with ``text`` as its caption under it and as the image's
    alternative text. Works whatever the notebook's matplotlib backend (the figure is not a
    pyplot figure)."""
    import base64
    import html
    import io

    from IPython.display import HTML, display

    from ..notebook import caption

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    # 256 colours are plenty for flat fills and anti-aliased text, at a third of the bytes: a page
    # with a map per segment stays well under the 3 MB a page may weigh (the PNG file beside the
    # report keeps every colour, for print)
    buffer.seek(0)
    small = io.BytesIO()
    Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        small, format="PNG", optimize=True)
    data = base64.b64encode(small.getvalue()).decode("ascii")
    display(HTML(f'<img class="cx-map" alt="{html.escape(redact(text), quote=True)}" '
                 f'style="width:{int(width)}px;max-width:100%" src="data:image/png;base64,{data}"/>'))
    caption(text)
