"""Executed notebooks to HTML pages a team reads: no code, no prompts, no warnings."""
from __future__ import annotations

import copy
import html as _html
import re
from pathlib import Path

import nbformat

__all__ = ["render_notebook", "REPORT_CSS"]

REPORT_CSS = """
<style>
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.cx-nav { font-size: 0.9rem; padding: 0.5rem 0; border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
.cx-nav a { margin-right: 1rem; }
.cx-table { border-collapse: collapse; font-size: 0.85rem; margin: 0.3rem 0; }
.cx-table th { background: #f3f4f6; text-align: left; padding: 4px 8px; border-bottom: 2px solid #ccc; }
.cx-table td { padding: 3px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
.jp-RenderedHTMLCommon .cx-table td.txt, .jp-RenderedHTMLCommon .cx-table th.txt { text-align: left; }
.jp-RenderedHTMLCommon .cx-table td.num, .jp-RenderedHTMLCommon .cx-table th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cx-caption { font-size: 0.85rem; color: #444; font-style: italic; margin: 0.2rem 0 1.2rem 0; }
.cx-note { font-size: 0.8rem; color: #666; }
.cx-findings { background: #f0f7ff; border-left: 4px solid #2563eb; padding: 0.6rem 1rem; margin: 0.8rem 0; }
.cx-findings ul { margin: 0.3rem 0 0 0; }
.cx-failed { background: #fff1f0; border-left: 4px solid #dc2626; padding: 0.6rem 1rem; }
.cx-toc { background: #fafafa; border: 1px solid #eee; padding: 0.5rem 1rem; margin-bottom: 1rem; font-size: 0.9rem; }
</style>
"""


_CAPTION = re.compile(r'<p class="cx-caption">(.*?)</p>', re.S)


def _prepare(nb: nbformat.NotebookNode, failed: bool) -> nbformat.NotebookNode:
    """Drop stderr streams (warnings, progress bars) from a successful run's outputs, and give
    each figure its caption as alt text."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        if not failed:
            cell["outputs"] = [
                o for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
        pending = []  # figures waiting for the caption shown after them
        for output in cell["outputs"]:
            bundle = output.get("data", {})
            if "image/png" in bundle:
                pending.append(output)
                continue
            match = _CAPTION.search(str(bundle.get("text/html", "")))
            if match and pending:
                alt = _html.unescape(re.sub("<[^>]+>", "", match.group(1))).strip()
                for figure in pending:
                    figure.setdefault("metadata", {})["cx_alt"] = alt
                pending = []
    return nb


_TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "nbconvert"
_H2 = re.compile(r'<h2 id="([^"]+)">(.*?)(?:<a class="anchor-link"[^>]*>.*?</a>)?</h2>', re.S)


def _with_toc(body: str) -> str:
    """A table of contents of the page's sections, placed under its title."""
    sections = _H2.findall(body)
    if len(sections) < 2:
        return body
    items = "".join(
        f'<li><a href="#{anchor}">{re.sub("<[^>]+>", "", title).strip()}</a></li>' for anchor, title in sections
    )
    toc = f'<nav class="cx-toc"><strong>Contents</strong><ol>{items}</ol></nav>'
    end_h1 = body.find("</h1>")
    if end_h1 < 0:
        return body
    # after the paragraph that follows the title, if there is one in the same cell
    cut = end_h1 + len("</h1>")
    return body[:cut] + toc + body[cut:]


def render_notebook(executed: Path, target: Path, *, failed: bool = False, nav: str = "") -> Path:
    """Render an executed notebook to ``target`` without code; ``nav`` is HTML placed on top
    (links back to the run index)."""
    from nbconvert import HTMLExporter

    nb = _prepare(nbformat.read(executed, as_version=4), failed)
    exporter = HTMLExporter(
        template_name="cxlab", extra_template_basedirs=[str(_TEMPLATES)]
    )
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    body = body.replace("</head>", REPORT_CSS + "</head>", 1)
    body = _with_toc(body)
    if nav:
        marker = "<main>" if "<main>" in body else "<body"
        if marker == "<main>":
            body = body.replace("<main>", "<main>" + nav, 1)
        else:
            head, rest = body.split("<body", 1)
            tag_end = rest.index(">") + 1
            body = head + "<body" + rest[:tag_end] + nav + rest[tag_end:]
    target.write_text(body, encoding="utf-8")
    return target


def nav_html(index_href: str, title: str) -> str:
    return (
        f'<div class="cx-nav"><a href="{_html.escape(index_href)}">&larr; Run index</a>'
        f"<strong>{_html.escape(title)}</strong></div>"
    )
