"""Executed notebooks to HTML pages a team reads: no code, no prompts, no warnings."""
from __future__ import annotations

import copy
import errno
import html as _html
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

import nbformat

from ..errors import CxlabError
from ..paths import temp_file_beside

__all__ = ["render_notebook", "write_page", "ReportWriteError", "REPORT_CSS", "PLOTLY_ASSET", "PLOTLY_SIGNATURE"]


class ReportWriteError(CxlabError):
    """A report file could not be written (disk full, no permission); nothing half-written is
    left under its name."""


_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only", errno.EACCES: "no permission to write there",
        errno.EPERM: "no permission to write there"}


def write_error(path: Path, exc: OSError) -> ReportWriteError:
    """The named error for a report file that could not be written."""
    why = _WHY.get(exc.errno or 0, "the system refused the write")
    reason = exc.strerror or str(exc)
    return ReportWriteError(
        f"Could not write {path}: {why} ({reason}, errno {exc.errno}). Free space or fix the folder's "
        "permissions and run again; no partial file was left under that name."
    )


def _write(fh, text: str) -> None:
    fh.write(text)


@contextmanager
def _atomic_file(target: Path, mode: str) -> Iterator[IO]:
    """An open file (``mode`` "w": text in UTF-8, "wb": bytes) that becomes ``target`` when the
    block ends: written to a temporary file beside ``target``, then renamed onto it, so a reader
    never finds a truncated file under its name; its mode follows the umask
    (``cxlab.paths.temp_file_beside``). A failed write in the block (disk full, no permission)
    removes the temporary file and raises ``ReportWriteError`` naming ``target``."""
    tmp = None
    try:
        fd, tmp = temp_file_beside(target)  # readable as the umask says, like the user's other files
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise write_error(target, exc) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_page(target: Path, text: str) -> Path:
    """Write a page atomically (``_atomic_file``): a reader never finds a truncated page under
    the page's name; its mode follows the umask. A failed write (disk full, no permission)
    removes the temporary file and raises ``ReportWriteError`` naming the page."""
    target = Path(target)
    with _atomic_file(target, "w") as fh:
        _write(fh, text)
    return target

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
.cx-fold > summary { cursor: pointer; color: #1d4ed8; font-size: 0.85rem; margin: 0.3rem 0; }
.cx-fold[open] > summary { margin-bottom: 0.3rem; }
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


#: where a run folder keeps plotly.js, relative to its pages (one copy for every page and chart)
PLOTLY_ASSET = "assets/plotly.min.js"
#: what the head of every copy of plotly.js says (a test counts the copies in a page)
PLOTLY_SIGNATURE = "* plotly.js v"


def _plotly_js() -> Path:
    """The plotly.js of the installed plotly package (the version its figures are made for)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def write_plotly_asset(folder: Path) -> Path:
    """Copy the installed plotly.js to ``folder``/assets/plotly.min.js, once: nothing is
    downloaded, and pages reference it relatively, so a report folder opens offline from disk
    or from a web server. Written atomically (pages of one run render side by side)."""
    source, target = _plotly_js(), Path(folder) / PLOTLY_ASSET
    if target.exists() and target.stat().st_size == source.stat().st_size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _atomic_file(target, "wb") as fh, source.open("rb") as src:
        shutil.copyfileobj(src, fh)
    return target


def _with_plotly(body: str, folder: Path) -> str:
    """A page with plotly charts loads plotly.js from the run folder, before the charts' own
    scripts run (``cxlab.notebook.OfflineHtmlRenderer`` leaves it out of every figure)."""
    if 'class="plotly-graph-div"' not in body:
        return body
    write_plotly_asset(folder)
    script = ("<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
              f'<script charset="utf-8" src="{PLOTLY_ASSET}"></script>')
    return body.replace("</head>", script + "</head>", 1)


def render_notebook(executed: Path, target: Path, *, failed: bool = False, nav: str = "") -> Path:
    """Render an executed notebook to ``target`` without code; ``nav`` is HTML placed on top
    (links back to the run index). A page with plotly charts loads plotly.js from the run
    folder's ``assets/`` (written on the first such page). Written atomically (``write_page``): a full disk raises
    ``ReportWriteError`` and leaves no truncated page."""
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
    body = _with_plotly(body, Path(target).parent)
    body = _with_toc(body)
    if nav:
        marker = "<main>" if "<main>" in body else "<body"
        if marker == "<main>":
            body = body.replace("<main>", "<main>" + nav, 1)
        else:
            head, rest = body.split("<body", 1)
            tag_end = rest.index(">") + 1
            body = head + "<body" + rest[:tag_end] + nav + rest[tag_end:]
    return write_page(target, body)


def nav_html(index_href: str, title: str) -> str:
    return (
        f'<div class="cx-nav"><a href="{_html.escape(index_href)}">&larr; Run index</a>'
        f"<strong>{_html.escape(title)}</strong></div>"
    )
