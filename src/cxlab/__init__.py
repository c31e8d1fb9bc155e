"""cxlab: a research workbench for customer journey mapping."""
from __future__ import annotations

from .errors import CxlabError
from .results import Estimate
from .study import Study

__version__ = "0.1.0"
__all__ = ["CxlabError", "Estimate", "Study", "__version__"]
