"""The machine a benchmark ran on, for its report: CPU, cores, memory, OS, Python, package versions."""
from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> float | None:
    try:
        line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        return round(int(line.split()[1]) / 1024 ** 2, 1)
    except (OSError, StopIteration, ValueError):
        return None


def describe(packages: list[str]) -> dict:
    """CPU, cores, RAM, OS, Python, the installed versions of ``packages``, the commit."""
    versions = {}
    for pkg in packages:
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "ram_gib": memory_gib(),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "versions": versions, "commit": commit}


def summary(packages: list[str]) -> str:
    """One line: 'AMD EPYC, 2 cores, 23.5 GiB RAM; Python 3.11.7, duckdb 2.0.0, …'."""
    m = describe(packages)
    ram = f"{m['ram_gib']} GiB RAM" if m["ram_gib"] else "unknown RAM"
    return (f"{m['cpu']}, {m['cores']} cores, {ram}; Python {m['python']}, "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
