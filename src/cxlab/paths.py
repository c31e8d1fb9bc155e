"""Where things live: the project root, a study's folders, and paths kept inside a study."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ParameterError, StudyError

__all__ = ["project_root", "resolve_study_dir", "inside"]


def project_root() -> Path:
    """The project folder holding notebooks/, data/ and reports/.

    ``CXLAB_HOME`` wins; otherwise the source checkout this package was installed from
    (an editable install, as ``make`` does); otherwise the current directory.
    """
    env = os.environ.get("CXLAB_HOME")
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "notebooks").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.cwd().resolve()


def resolve_study_dir(study: str | os.PathLike) -> Path:
    """A study named by its folder (any path holding study.yaml) or by its name under data/raw/."""
    candidate = Path(study).expanduser()
    if (candidate / "study.yaml").is_file():
        return candidate.resolve()
    hint = (
        "Name a folder that holds study.yaml, or a study under data/raw/ "
        "(the demo is made by `make demo` or `cxlab synth --demo --out data/raw/demo`)."
    )
    if candidate.is_absolute() or len(candidate.parts) > 1:
        raise StudyError(f"No study at {candidate.resolve()}: the folder holds no study.yaml. {hint}")
    named = project_root() / "data" / "raw" / str(study)
    if (named / "study.yaml").is_file():
        return named.resolve()
    raise StudyError(
        f"No study '{study}': neither {candidate.resolve()} nor {named} holds a study.yaml. {hint}"
    )


def inside(base: Path, relative: str | os.PathLike, what: str = "path") -> Path:
    """``base / relative``, refusing anything that escapes ``base`` (absolute paths, '..')."""
    base = Path(base).resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise ParameterError(
            f"The {what} '{relative}' points outside the study folder {base}; "
            "give a path relative to the study folder."
        )
    return target
