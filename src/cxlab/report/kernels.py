"""The Jupyter kernels of a run: one per worker, shared by the stages it runs (imports paid once,
namespace emptied between stages), and a watch on their memory."""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Callable, Mapping

__all__ = ["PeakMemory", "SharedKernel", "RESET_CODE", "WARM_CODE", "WARM_ALL_CODE", "threads_code"]


class PeakMemory:
    """Samples the resident memory of this process and its children (the notebook kernels)
    every ``interval`` seconds: ``peak_child_mb`` over all children (reset per stage when
    kernels are not shared), and per kernel process (``start_stage``/``peak_of``)."""

    def __init__(self, interval: float = 0.2):
        import threading

        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak_self_mb = 0.0
        self.peak_child_mb = 0.0
        self.peaks: dict[int, float] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_self_mb = max(self.peak_self_mb, self._me.memory_info().rss / 2**20)
                for child in self._me.children(recursive=True):
                    try:
                        rss = child.memory_info().rss / 2**20
                    except self._psutil.Error:
                        continue
                    self.peak_child_mb = max(self.peak_child_mb, rss)
                    self.peaks[child.pid] = max(self.peaks.get(child.pid, 0.0), rss)
            except self._psutil.Error:
                pass
            self._stop.wait(self._interval)

    def rss_of(self, pid: int) -> float | None:
        try:
            return self._psutil.Process(pid).memory_info().rss / 2**20
        except self._psutil.Error:
            return None

    def start_stage(self, pid: int) -> float | None:
        """A stage begins in kernel ``pid``: its peak restarts from its memory now (returned)."""
        now = self.rss_of(pid)
        self.peaks[pid] = now or 0.0
        return now

    def peak_of(self, pid: int) -> float:
        return max(self.peaks.get(pid, 0.0), self.rss_of(pid) or 0.0)

    def children_mb(self) -> float:
        """Resident memory of the children now (the kernel, between stages)."""
        total = 0.0
        for child in self._me.children(recursive=True):
            try:
                total = max(total, child.memory_info().rss / 2**20)
            except self._psutil.Error:
                continue
        return total

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# Run between two stages in the shared kernel: the next stage starts from an empty namespace,
# closed engine connections and freed memory, as if in a kernel of its own (but with the
# imports already paid). Names start with _cx so a failure message can never be confused with
# a stage's own code.
RESET_CODE = """
%reset -f
import gc as _cx_gc, sys as _cx_sys
if "cxlab.engine" in _cx_sys.modules:
    _cx_sys.modules["cxlab.engine"].reset()
if "matplotlib.pyplot" in _cx_sys.modules:
    _cx_sys.modules["matplotlib.pyplot"].close("all")
_cx_gc.collect()
if "pyarrow" in _cx_sys.modules:
    _cx_sys.modules["pyarrow"].default_memory_pool().release_unused()
try:
    import ctypes as _cx_ctypes
    _cx_ctypes.CDLL("libc.so.6").malloc_trim(0)
except (OSError, AttributeError):
    pass
%reset -f
"""

def _import_code(modules: str) -> str:
    return ("import warnings as _cx_warnings\n"
            "with _cx_warnings.catch_warnings():\n"
            "    _cx_warnings.simplefilter(\"ignore\")\n"
            f"    import {modules}\n"
            "del _cx_warnings\n")


# What every stage notebook imports anyway; loaded once while the kernel starts.
_COMMON = "cxlab, cxlab.engine, cxlab.notebook, pandas, numpy, matplotlib.pyplot"
WARM_CODE = _import_code(_COMMON)

# A second worker's kernel starts while the first stage runs alone on the other core: it can
# load every stage's libraries (scikit-learn, statsmodels, VADER, plotly) before its first job.
WARM_ALL_CODE = _import_code(
    f"{_COMMON}, cxlab.objectives, cxlab.segments, cxlab.touchpoints, cxlab.painpoints, cxlab.impact, "
    "cxlab.journeymap, vaderSentiment.vaderSentiment, plotly.graph_objects"
)


class SharedKernel:
    """One Jupyter kernel for every stage of a run, so kernel start-up and the imports (pandas,
    DuckDB, Ibis, statsmodels, scikit-learn, matplotlib: seconds per stage) are paid once.
    Between stages the namespace is reset, the engine's connections closed and freed memory
    handed back to the system (``RESET_CODE``); each stage still gets its own executed
    notebook, HTML, time and peak memory. (With ``warm=""`` it is the fresh kernel of one stage.)

    ``env`` is the kernel's environment (default: this process's); ``connection_file`` where its
    connection file goes (default: Jupyter's runtime folder); ``on_start`` is called with the
    kernel as soon as its process exists, before the imports, so a run that is stopped can
    ``kill`` it. ``close`` shuts it down and removes its connection file."""

    def __init__(self, cwd: Path, warm: str = WARM_CODE, *, env: Mapping[str, str] | None = None,
                 connection_file: Path | None = None, on_start: Callable[["SharedKernel"], None] | None = None):
        from jupyter_client import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self._run_sync = run_sync
        self.km = AsyncKernelManager(kernel_name="python3")
        if connection_file is not None:
            self.km.connection_file = str(connection_file)
        extra = {"env": dict(env)} if env is not None else {}
        try:
            run_sync(self.km.start_kernel)(cwd=str(cwd), extra_arguments=["--IPKernelApp.log_level=ERROR"], **extra)
        except BaseException:
            self._run_sync(self.km.cleanup_resources)()
            raise
        try:
            if on_start is not None:
                on_start(self)
            if warm:
                self.execute(warm)
        except BaseException:
            self.close()
            raise

    def execute(self, code: str) -> None:
        """Run a snippet in the kernel (through nbclient, as papermill does)."""
        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        client = NotebookClient(nb, km=self.km, kernel_name="python3", timeout=600)
        client.execute()
        if client.kc is not None:
            client.kc.stop_channels()

    @property
    def pid(self) -> int | None:
        return getattr(self.km.provisioner, "pid", None)

    def alive(self) -> bool:
        return bool(self._run_sync(self.km.is_alive)())

    def kill(self) -> None:
        """Stop the kernel at once (SIGKILL to its process group: the kernel and what it started).
        Safe to call from a signal handler and from another thread; ``close`` still tidies up."""
        process = getattr(self.km.provisioner, "process", None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)  # jupyter_client starts kernels in their own session
        except OSError:
            try:
                process.kill()
            except OSError:
                pass

    def close(self) -> None:
        try:
            if self.alive():
                self._run_sync(self.km.shutdown_kernel)(now=True)
        finally:
            self._run_sync(self.km.cleanup_resources)()
            # a connection file of a kernel that was killed is removed too
            if self.km.connection_file:
                Path(self.km.connection_file).unlink(missing_ok=True)


def threads_code(threads: int | None) -> str:
    if threads is None:
        return ""
    return f"import cxlab.engine as _cx_engine\n_cx_engine.set_threads({int(threads)})\ndel _cx_engine\n"
