"""Every error a user can cause is a CxlabError; the CLI prints its message and exits 2."""
from __future__ import annotations

__all__ = [
    "CxlabError",
    "StudyError",
    "DataError",
    "NotEnoughData",
    "ParameterError",
    "StageError",
]


class CxlabError(Exception):
    """Root of the errors a researcher can fix; the message says what to fix."""


class StudyError(CxlabError):
    """study.yaml is missing, unreadable or inconsistent."""


class DataError(CxlabError):
    """A table breaks the data contract. Carries every problem found, not only the first."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotEnoughData(DataError):
    """The data lack what one analysis needs (too few repeat buyers, no survey with driver
    ratings): a stage skips that analysis and says so. ``needs`` completes the sentence "needs
    …" ("repeat purchases with revenue from at least 10 customers (2 have them)")."""

    def __init__(self, message: str, needs: str):
        super().__init__([message])
        self.needs = needs


class ParameterError(CxlabError):
    """A notebook parameter is unknown, of the wrong type, or points outside the study."""


class StageError(CxlabError):
    """A stage notebook failed while running."""
