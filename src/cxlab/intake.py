"""Stage 0, intake: what data we were given, profiled through the engine.

Rows and customers per table, the date range, touchpoints seen against the catalog, missing
values per column, events per customer and per month.

``analyze(study) -> IntakeResult`` validates the tables, writes the clean tables every later
stage reads (data/processed/<study>/), and profiles them; ``.write()`` writes the stage's record.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from . import data, engine
from .stages import StageResult, stage_analysis
from .study import Study

__all__ = ["analyze", "IntakeResult", "IntakeProfile", "profile", "touchpoint_coverage", "missing_values",
           "events_per_month", "events_per_customer"]


def touchpoint_coverage(study: Study) -> pd.DataFrame:
    """Every touchpoint in the catalog or the log: stage, channel, events, customers, and
    status 'in catalog and log', 'not in catalog' (kept, stage 'uncatalogued') or 'never seen'."""
    ev = engine.events(study)
    seen = engine.to_pandas(
        ev.group_by("touchpoint").agg(events=ev.count(), customers=ev.customer_id.nunique())
    )
    table = study.catalog[["touchpoint", "stage", "channel", "stage_order"]].merge(
        seen, on="touchpoint", how="outer", indicator=True
    )
    table["status"] = table["_merge"].map(
        {"both": "in catalog and log", "right_only": "not in catalog", "left_only": "never seen"}
    ).astype(str)
    table["stage"] = table["stage"].fillna("uncatalogued")
    table["stage_order"] = table["stage_order"].fillna(len(study.stages)).astype(int)
    table[["events", "customers"]] = table[["events", "customers"]].fillna(0).astype("int64")
    return (
        table.drop(columns="_merge")
        .sort_values(["stage_order", "events", "touchpoint"], ascending=[True, False, True], kind="stable")
        .drop(columns="stage_order")
        .reset_index(drop=True)
    )


def missing_values(study: Study) -> pd.DataFrame:
    """Per table and column: rows, missing values and their share (computed in the engine)."""
    rows = []
    for name in data.clean_tables(study):
        t = engine.table(study, name)
        aggs = {"_rows": t.count()}
        for col in t.columns:
            aggs[col] = t[col].isnull().sum()
        counts = engine.to_pandas(t.aggregate(**aggs)).iloc[0]
        n = int(counts["_rows"])
        for col in t.columns:
            rows.append({"table": name, "column": col, "rows": n, "missing": int(counts[col]),
                         "missing_share": (int(counts[col]) / n) if n else 0.0})
    return pd.DataFrame(rows)


def events_per_month(study: Study) -> pd.DataFrame:
    """Events and active customers per calendar month, by channel."""
    ev = engine.events(study)
    month = ev.timestamp.truncate("M").name("month")
    out = engine.to_pandas(
        ev.group_by([month, ev.channel]).agg(events=ev.count(), customers=ev.customer_id.nunique())
    )
    out["channel"] = out["channel"].fillna("unknown")
    return out.sort_values(["month", "channel"]).reset_index(drop=True)


def events_per_customer(study: Study) -> pd.DataFrame:
    """The distribution of events per customer: how many customers have k events."""
    ev = engine.events(study)
    per = ev.group_by("customer_id").agg(k=ev.count())
    return engine.to_pandas(per.group_by("k").agg(customers=per.count()).order_by("k"))


@dataclass
class IntakeProfile:
    study: Study
    report: data.ValidationReport
    overview: pd.DataFrame
    coverage: pd.DataFrame
    missing: pd.DataFrame
    monthly: pd.DataFrame
    per_customer: pd.DataFrame
    first_event: pd.Timestamp
    last_event: pd.Timestamp
    customers_with_events: int
    customers: int

    def headlines(self) -> list[str]:
        ev_rows = int(self.overview.loc[self.overview.table == "events", "rows"].iloc[0])
        unknown = self.coverage[self.coverage.status == "not in catalog"]
        never = self.coverage[self.coverage.status == "never seen"]
        lines = [
            f"{ev_rows:,} events from {self.customers_with_events:,} of {self.customers:,} customers, "
            f"{self.first_event:%d %b %Y} to {self.last_event:%d %b %Y}.",
            f"{(self.coverage.status == 'in catalog and log').sum()} of {len(self.study.catalog)} "
            f"catalogued touchpoints occur in the log.",
        ]
        if len(unknown):
            lines.append(
                f"{len(unknown)} touchpoint(s) in the log are missing from the catalog "
                f"({int(unknown.events.sum()):,} events kept as 'uncatalogued'): "
                + ", ".join(unknown.touchpoint.astype(str))
            )
        if len(never):
            lines.append(f"{len(never)} catalogued touchpoint(s) never occur: " + ", ".join(never.touchpoint))
        if "customers" not in self.study.tables:
            lines.append(f"The study has no customers table: its {self.customers:,} customers are the event log's "
                         "customer ids, with no attributes.")
        lines.append(f"The data passed every contract check ({len(self.report.warnings)} warning(s)).")
        return lines

    def metrics(self) -> dict:
        return {
            "events": int(self.overview.loc[self.overview.table == "events", "rows"].iloc[0]),
            "customers": self.customers,
        }


def profile(study: str | os.PathLike | Study) -> IntakeProfile:
    """Validate (raising DataError on errors), write the clean tables, and profile them."""
    study = Study.load(study)
    report = data.write_clean_tables(study)
    ev = engine.events(study)
    span = engine.to_pandas(
        ev.aggregate(first=ev.timestamp.min(), last=ev.timestamp.max(), customers=ev.customer_id.nunique())
    ).iloc[0]
    overview = []
    for name in data.clean_tables(study):
        t = engine.table(study, name)
        file = study.tables[name].name if name in study.tables else "(none: the event log's customer ids)"
        row = {"table": name, "file": file, "rows": int(t.count().to_pyarrow().as_py())}
        if "customer_id" in t.columns:
            row["customers"] = int(t.customer_id.nunique().to_pyarrow().as_py())
        overview.append(row)
    overview = pd.DataFrame(overview)
    return IntakeProfile(
        study=study,
        report=report,
        overview=overview,
        coverage=touchpoint_coverage(study),
        missing=missing_values(study),
        monthly=events_per_month(study),
        per_customer=events_per_customer(study),
        first_event=pd.Timestamp(span["first"]),
        last_event=pd.Timestamp(span["last"]),
        customers_with_events=int(span["customers"]),
        customers=int(overview.loc[overview.table == "customers", "rows"].iloc[0]),
    )


@dataclass
class IntakeResult(StageResult):
    """The intake stage's result: the profile of the clean tables (``profile``; its tables are
    also reachable here: overview, coverage, missing, monthly, per_customer). The stage
    writes no output for later stages besides the clean tables, which ``analyze`` wrote."""

    stage: ClassVar[str] = "intake"
    profile: IntakeProfile | None = None

    def headlines(self) -> list[str]:
        return self.profile.headlines()

    def metrics(self) -> dict[str, Any]:
        return self.profile.metrics()

    def warnings(self) -> pd.DataFrame:
        """The contract checks' warnings (data kept), one row each."""
        return self.profile.report.to_frame()

    @property
    def overview(self) -> pd.DataFrame:
        """Rows (and customers) per input table."""
        return self.profile.overview

    @property
    def coverage(self) -> pd.DataFrame:
        """Touchpoints of the catalog against the log (``touchpoint_coverage``)."""
        return self.profile.coverage

    @property
    def missing(self) -> pd.DataFrame:
        """Missing values per table and column (``missing_values``)."""
        return self.profile.missing

    @property
    def monthly(self) -> pd.DataFrame:
        """Events and customers per month and channel (``events_per_month``)."""
        return self.profile.monthly

    @property
    def per_customer(self) -> pd.DataFrame:
        """Customers with k events (``events_per_customer``)."""
        return self.profile.per_customer


@stage_analysis("intake", clean=False)
def analyze(study: Study) -> IntakeResult:
    """Validate the study's tables (raising DataError on errors), write the clean tables, and
    profile them."""
    return IntakeResult(study, profile=profile(study))
