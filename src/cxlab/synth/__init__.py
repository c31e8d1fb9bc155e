"""Synthetic studies with planted truths, for the demo, the tests and scale benchmarks.

    from cxlab.synth import write_study, DEMO
    write_study("data/raw/demo", **DEMO)       # 20,000 customers, seed 7

The folder holds study.yaml, customers, events.parquet, surveys, tickets, truth.json (what was
planted, with exact definitions) and truth_segments.parquet (each customer's latent segment).
"""
from __future__ import annotations

from .catalog import CHANNELS, GOALS, SEGMENTS, STAGES, TP_NAMES
from .generator import DEMO, LARGE_CUSTOMERS, SYNTH_FILES, SynthError, write_study
from .simulate import Frame, simulate
from .text import EMAIL_RE, PHONE_RE, SCRIPT_RE

__all__ = [
    "write_study", "DEMO", "SynthError", "LARGE_CUSTOMERS", "SYNTH_FILES",
    "SEGMENTS", "STAGES", "CHANNELS", "GOALS", "TP_NAMES",
    "EMAIL_RE", "PHONE_RE", "SCRIPT_RE", "Frame", "simulate",
]
