"""Demographic segments: age bands, income bands, region, tenure — from the customers table.

Which attributes are used, and how, comes from study.yaml ``customer_attributes``:

    customer_attributes:
      age: {kind: numeric, bins: [18, 25, 35, 50, 65]}   # edges given: used as they are
      income: {kind: numeric}                             # no edges: quantile bands (quartiles)
      region: {kind: category}                            # used as it is
      signup_date: {kind: date}                           # tenure bands as of the observation end

Default edges: ages 18, 25, 35, 45, 55, 65 (an attribute named age); tenure in years 0, 0.5, 1,
2, 5 (a date attribute); any other numeric attribute is cut at its quantiles (``quantiles``
bands of about equal size). Edges passed in ``bins`` override both. Bands are closed on the
left: [25, 35) is written "25–34" for whole-number edges (ages), "25–35" otherwise and for money
("30k–50k" holds 30,000 up to but not including 50,000); values below the first edge are "< 18",
from the last edge on "65+". Missing values are "unknown".
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import data
from ..errors import ParameterError
from ..study import Study
from .features import observation_end as _observation_end

__all__ = ["demographic_segments", "band", "quantile_edges", "DEFAULT_AGE_EDGES", "DEFAULT_TENURE_YEARS"]

DEFAULT_AGE_EDGES = [18, 25, 35, 45, 55, 65]
DEFAULT_TENURE_YEARS = [0, 0.5, 1, 2, 5]
UNKNOWN = "unknown"


def _fmt(x: float, money: bool = False) -> str:
    if money and abs(x) >= 1_000_000:
        return f"{x / 1_000_000:,.3g}M"
    if money and abs(x) >= 1000:
        return f"{x / 1000:,.0f}k" if x % 1000 == 0 or abs(x) >= 10_000 else f"{x / 1000:,.1f}k"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2g}"


def _labels(edges: Sequence[float], integer: bool, money: bool = False, unit: str = "") -> list[str]:
    """Labels for the bands below, between and above ``edges``."""
    labels = [f"< {_fmt(edges[0], money)}{unit}"]
    for lo, hi in zip(edges[:-1], edges[1:]):
        upper = _fmt(hi - 1, money) if integer and not money else _fmt(hi, money)
        labels.append(f"{_fmt(lo, money)}–{upper}{unit}")
    labels.append(f"{_fmt(edges[-1], money)}+{unit}")
    return labels


def band(values: pd.Series, edges: Sequence[float], labels: Sequence[str] | None = None,
         money: bool = False, unit: str = "") -> pd.Series:
    """Cut numbers into left-closed bands at ``edges`` (below the first edge, between edges,
    from the last edge on), as an ordered categorical; missing values are 'unknown'. Bands
    nobody falls into are kept as categories, so tables line up across studies."""
    edges = [float(e) for e in edges]
    if not edges or any(b <= a for a, b in zip(edges[:-1], edges[1:])):
        raise ParameterError(f"band edges must be increasing numbers, got {edges}")
    x = pd.to_numeric(values, errors="coerce").astype(float)
    integer = all(e.is_integer() for e in edges) and bool(np.nan_to_num(x.dropna() % 1).max(initial=0) == 0)
    labels = list(labels) if labels is not None else _labels(edges, integer, money, unit)
    if len(labels) != len(edges) + 1:
        raise ParameterError(f"{len(edges)} edges make {len(edges) + 1} bands; got {len(labels)} labels")
    idx = np.searchsorted(np.asarray(edges), x.to_numpy(), side="right")
    out = pd.Series(np.asarray(labels, dtype=object)[np.clip(idx, 0, len(labels) - 1)], index=values.index)
    out[x.isna().to_numpy()] = UNKNOWN
    cats = labels + ([UNKNOWN] if x.isna().any() else [])
    return pd.Series(pd.Categorical(out, categories=cats, ordered=True), index=values.index, name=values.name)


def quantile_edges(values: pd.Series, quantiles: int = 4, round_to: float | None = None) -> list[float]:
    """Inner edges that cut ``values`` into ``quantiles`` bands of about equal size (duplicates
    dropped), rounded to ``round_to`` (default: 2 significant digits) so labels read well."""
    x = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    if quantiles < 2:
        raise ParameterError("quantiles must be at least 2")
    if x.empty:
        return []
    qs = np.quantile(x, np.linspace(0, 1, quantiles + 1)[1:-1])
    out = []
    for q in qs:
        if round_to:
            q = round(q / round_to) * round_to
        elif q != 0:
            q = float(f"{q:.2g}")
        if not out or q > out[-1]:
            out.append(float(q))
    return out


def _is_money(name: str) -> bool:
    return any(k in name.lower() for k in ("income", "salary", "spend", "revenue", "value"))


def demographic_segments(
    study: Study | str | os.PathLike | pd.DataFrame,
    attributes: Mapping[str, dict] | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    quantiles: int = 4,
    as_of: object = None,
    min_share: float = 0.0,
) -> pd.DataFrame:
    """customer_id and one band column per attribute: ``<name>_band`` for numbers and dates
    (tenure: ``<name>_tenure``), ``<name>`` for categories, as ordered categoricals.

    ``study``: a study (its customers table and ``customer_attributes``) or a customers
    DataFrame; ``attributes``: name -> {kind: numeric|category|date, bins: [...]} (default: the
    study's customer_attributes, or every non-id column of a DataFrame); ``bins``: edges that
    override the defaults (for a date attribute, in years of tenure); ``quantiles``: bands for
    numeric attributes without edges; ``as_of``: the date tenure is measured at (default: the
    last day of the event log, or the latest date in the column for a bare DataFrame);
    ``min_share``: categories held by fewer customers than this share are merged into 'other'.
    """
    bins = dict(bins or {})
    if isinstance(study, pd.DataFrame):
        customers = study.copy()
        if attributes is None:
            attributes = {}
            for col in customers.columns:
                if col == "customer_id":
                    continue
                if pd.api.types.is_datetime64_any_dtype(customers[col]):
                    attributes[col] = {"kind": "date"}
                elif pd.api.types.is_numeric_dtype(customers[col]):
                    attributes[col] = {"kind": "numeric"}
                else:
                    attributes[col] = {"kind": "category"}
        end = pd.Timestamp(as_of) if as_of is not None else None
    else:
        study = data.ensure_clean(study)
        customers = data.load(study, "customers")
        attributes = study.customer_attributes if attributes is None else attributes
        end = pd.Timestamp(as_of) if as_of is not None else None
        if end is None and any((spec or {}).get("kind") == "date" for spec in attributes.values()):
            end = _observation_end(study)
    if "customer_id" not in customers.columns:
        raise ParameterError("the customers table needs a customer_id column")
    unknown = [b for b in bins if b not in attributes]
    if unknown:
        raise ParameterError(f"bins given for {', '.join(unknown)}, which are not customer attributes "
                             f"({', '.join(attributes) or 'none'})")
    out = pd.DataFrame({"customer_id": customers["customer_id"].astype(str)})
    for name, spec in attributes.items():
        spec = spec or {}
        if name not in customers.columns:
            raise ParameterError(f"customer attribute '{name}' is not a column of the customers table")
        kind = spec.get("kind", "category")
        col = customers[name]
        if kind == "numeric":
            edges = bins.get(name) or spec.get("bins")
            if edges is None:
                edges = DEFAULT_AGE_EDGES if name.lower() in ("age", "age_years") else quantile_edges(col, quantiles)
            if not edges:
                out[f"{name}_band"] = pd.Categorical([UNKNOWN] * len(col))
                continue
            out[f"{name}_band"] = band(col, edges, money=_is_money(name)).array
        elif kind == "date":
            dates = pd.to_datetime(col, errors="coerce")
            ref = end if end is not None else dates.max()
            years = (pd.Timestamp(ref) - dates).dt.days / 365.25
            edges = bins.get(name) or spec.get("bins") or DEFAULT_TENURE_YEARS
            labels = _labels([float(e) for e in edges], integer=False, unit=" yr")
            labels[0] = f"< {_fmt(float(edges[0]))} yr (after the reference date)" if edges[0] == 0 else labels[0]
            out[f"{name}_tenure"] = band(years, edges, labels=labels).array
        else:
            values = col.astype("string").fillna(UNKNOWN).astype(str)
            if min_share > 0:
                share = values.value_counts(normalize=True)
                rare = share.index[share < min_share]
                values = values.where(~values.isin(rare), "other")
            cats = values.value_counts().index.tolist()
            out[name] = pd.Categorical(values, categories=cats)
    return out
