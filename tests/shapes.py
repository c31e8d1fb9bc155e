"""Real-world shapes of a study, cut from one small synthetic study (cxlab.synth, 400 customers).

``make_shape(name, base, folder)`` writes the study ``name`` into ``folder``: the synthetic study's
tables and study.yaml, cut down or rewritten the way real exports come (events only, no revenue,
one journey stage, one customer, every customer converting, extra columns, .csv.gz, time-zoned
parquet …). ``SHAPES`` lists every shape with what it is. ``plain`` is the synthetic study as it
is (its event times at milliseconds), the reference the other shapes' numbers are compared with.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

from cxlab.synth import write_study

BASE = dict(customers=400, seed=11)
SURVEY_KPIS = {"csat_mean", "nps", "ces_mean"}


@dataclass
class Tables:
    """A study being cut: its four tables (None: the study has no such table), study.yaml as a
    dict, and how each table is written (file suffix: csv, csv.gz, parquet)."""

    customers: pd.DataFrame | None
    events: pd.DataFrame
    surveys: pd.DataFrame | None
    tickets: pd.DataFrame | None
    config: dict
    fmt: dict

    def keep_customers(self, ids) -> "Tables":
        """Only these customers, in every table (a table left empty is dropped: an export of no rows
        is not a table)."""
        ids = set(ids)
        for name in ("customers", "events", "surveys", "tickets"):
            frame = getattr(self, name)
            if frame is not None:
                kept = frame[frame["customer_id"].isin(ids)].reset_index(drop=True)
                setattr(self, name, kept if len(kept) or name == "events" else None)
        return self

    def without_survey_kpis(self) -> "Tables":
        """Objectives and interventions on survey KPIs removed (for a study without surveys)."""
        cfg = self.config
        cfg["objectives"] = [o for o in cfg.get("objectives", []) if o["kpi"] not in SURVEY_KPIS]
        for iv in cfg.get("interventions", []):
            iv["kpis"] = [k for k in iv["kpis"] if k not in SURVEY_KPIS]
            iv["min_effect"] = {k: v for k, v in iv.get("min_effect", {}).items() if k not in SURVEY_KPIS}
        return self


def load_base(folder: Path) -> Tables:
    """The synthetic study's tables, as pandas reads them: a copy of its own (the shapes cut theirs
    in place), read once per folder."""
    return copy.deepcopy(_read_base(Path(folder).resolve()))


@functools.lru_cache(maxsize=4)
def _read_base(folder: Path) -> Tables:
    config = yaml.safe_load((folder / "study.yaml").read_text())
    files = config["tables"]

    def read(name):
        path = folder / files[name]
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)

    config["tables"] = {}
    events = read("events")
    # at milliseconds, so a shape written at any resolution (ns, us, ms) holds the same instants
    events["timestamp"] = pd.to_datetime(events["timestamp"]).dt.floor("ms")
    return Tables(read("customers"), events, read("surveys"), read("tickets"), config,
                  fmt={"customers": "csv", "events": "parquet", "surveys": "csv", "tickets": "csv"})


def converted_within_window(t: Tables) -> set:
    """Customers who reached a goal touchpoint within the study's window of their first touch."""
    ev = t.events
    window = pd.Timedelta(days=t.config.get("conversion_window_days", 30))
    first = ev.groupby("customer_id")["timestamp"].min()
    goal = ev[ev["touchpoint"].isin(t.config["goal_touchpoints"])].groupby("customer_id")["timestamp"].min()
    both = pd.concat([first.rename("first"), goal.rename("goal")], axis=1).dropna()
    return set(both.index[(both["goal"] - both["first"]) <= window])


# --------------------------------------------------------------------------- the shapes
def _events_only(t: Tables) -> Tables:
    t.customers = t.surveys = t.tickets = None
    cfg = t.without_survey_kpis().config
    cfg.pop("customer_attributes", None)
    # a study of events only has no customer attribute to split on: the change is tested before/after
    for iv in cfg.get("interventions", []):
        iv["design"] = "pre_post"
        iv.pop("treated", None)
    return t


def _events_customers(t: Tables) -> Tables:
    t.surveys = t.tickets = None
    return t.without_survey_kpis()


def _no_revenue(t: Tables) -> Tables:
    t.events = t.events.drop(columns="revenue")
    return t


def _no_channel(t: Tables) -> Tables:
    t.events = t.events.drop(columns="channel")
    return t


def _no_session(t: Tables) -> Tables:
    t.events = t.events.drop(columns="session_id")
    return t


def _one_stage(t: Tables) -> Tables:
    """A purchases-only log: the purchase stage's touchpoints only, a catalog of one journey stage."""
    cfg = t.config
    kept = {tp: spec for tp, spec in cfg["touchpoints"].items() if spec["stage"] == "purchase"}
    cfg["stages"], cfg["touchpoints"] = ["purchase"], kept  # the anchor, payment_error, is one of them
    t.events = t.events[t.events["touchpoint"].isin(kept)].reset_index(drop=True)
    t.surveys = t.tickets = None
    t.without_survey_kpis()
    return t.keep_customers(t.events["customer_id"])


def _one_touchpoint(t: Tables) -> Tables:
    """A log of one touchpoint (web purchases) and a catalog of that one (the anchor touchpoint
    study.yaml names, payment_error, is not in the log)."""
    cfg = t.config
    cfg["touchpoints"] = {"web_purchase": cfg["touchpoints"]["web_purchase"]}
    cfg["goal_touchpoints"] = ["web_purchase"]
    t.events = t.events[t.events["touchpoint"] == "web_purchase"].reset_index(drop=True)
    t.surveys = t.tickets = None
    t.without_survey_kpis()
    return t.keep_customers(t.events["customer_id"])


def _no_objectives(t: Tables) -> Tables:
    t.config.pop("objectives")
    return t


def _no_interventions(t: Tables) -> Tables:
    t.config.pop("interventions")
    for o in t.config["objectives"]:
        o.pop("intervention", None)
    return t


def _no_comments(t: Tables) -> Tables:
    t.surveys = t.surveys.drop(columns="comment")
    return t


def _no_ticket_text(t: Tables) -> Tables:
    t.tickets = t.tickets.drop(columns="text")
    return t


def _one_customer(t: Tables) -> Tables:
    """One customer whose data study.yaml still fits (study.yaml is checked against the data: an
    objective's baseline must hold events, a treated group must occur, the log must go on after an
    intervention): a customer of the treated region, active in the baselines and after the
    intervention, who converted — the one with the most events."""
    counts = t.events.groupby("customer_id").size()
    first = t.events.groupby("customer_id")["timestamp"].min()
    last = t.events.groupby("customer_id")["timestamp"].max()
    north = set(t.customers.loc[t.customers["region"] == "North", "customer_id"])
    spans = set(first.index[first < pd.Timestamp("2025-03-01")]) & set(last.index[last > pd.Timestamp("2025-08-01")])
    fits = converted_within_window(t) & north & spans
    return t.keep_customers(sorted(fits, key=lambda c: (-counts[c], c))[:1])


def _twenty_customers(t: Tables) -> Tables:
    """The first twenty customers of the customers table (buyers and others, as they come)."""
    return t.keep_customers(t.customers["customer_id"].head(20))


def _all_converting(t: Tables) -> Tables:
    return t.keep_customers(converted_within_window(t))


def _none_converting(t: Tables) -> Tables:
    ever = set(t.events.loc[t.events["touchpoint"].isin(t.config["goal_touchpoints"]), "customer_id"])
    return t.keep_customers(set(t.events["customer_id"]) - ever)


def _extra_columns(t: Tables) -> Tables:
    rng = np.random.default_rng(5)
    t.events = t.events.assign(browser=rng.choice(["firefox", "safari"], len(t.events)),
                               page_ms=rng.integers(1, 900, len(t.events)))
    t.customers = t.customers.assign(crm_note=rng.choice(["vip", "", "call back"], len(t.customers)))
    t.surveys = t.surveys.assign(device=rng.choice(["ios", "android"], len(t.surveys)))
    t.tickets = t.tickets.assign(agent=rng.choice(["ann", "bo"], len(t.tickets)))
    return t


def _csv_gz(t: Tables) -> Tables:
    t.fmt = {k: "csv.gz" for k in t.fmt}
    return t


def _tz_parquet(unit: str) -> Callable[[Tables], Tables]:
    def zoned(t: Tables) -> Tables:
        # the same instants, written in Berlin time at the given resolution (pandas writes ns by default)
        ts = pd.to_datetime(t.events["timestamp"]).dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin")
        t.events = t.events.assign(timestamp=ts.astype(f"datetime64[{unit}, Europe/Berlin]"))
        return t

    return zoned


def _integer_ids(t: Tables) -> Tables:
    for name in ("customers", "events", "surveys", "tickets"):
        frame = getattr(t, name)
        frame["customer_id"] = frame["customer_id"].str[1:].astype("int64")
    return t


def _string_ids(t: Tables) -> Tables:
    """Ids that are text with letters and punctuation ('cust-0001'), in every table."""
    for name in ("customers", "events", "surveys", "tickets"):
        frame = getattr(t, name)
        frame["customer_id"] = "cust-" + frame["customer_id"].str[-4:]
    return t


SHAPES: dict[str, tuple[str, Callable[[Tables], Tables]]] = {
    "plain": ("the synthetic study as it is", lambda t: t),
    "events_only": ("study.yaml with just events", _events_only),
    "events_customers": ("events and customers, no surveys or tickets", _events_customers),
    "no_revenue": ("events without a revenue column", _no_revenue),
    "no_channel": ("events without a channel column", _no_channel),
    "no_session": ("events without session_id", _no_session),
    "one_stage": ("a purchases-only log: a catalog of one journey stage", _one_stage),
    "one_touchpoint": ("a log and catalog of one touchpoint", _one_touchpoint),
    "no_objectives": ("no objectives in study.yaml", _no_objectives),
    "no_interventions": ("no interventions in study.yaml", _no_interventions),
    "no_comments": ("surveys without comments", _no_comments),
    "no_ticket_text": ("tickets without text", _no_ticket_text),
    "one_customer": ("one customer", _one_customer),
    "twenty_customers": ("twenty customers", _twenty_customers),
    "all_converting": ("every customer converts within the window", _all_converting),
    "none_converting": ("no customer ever converts", _none_converting),
    "extra_columns": ("extra columns in every table", _extra_columns),
    "csv_gz": ("every table a compressed CSV (.csv.gz)", _csv_gz),
    "tz_ns": ("time-zoned parquet timestamps at nanoseconds", _tz_parquet("ns")),
    "tz_us": ("time-zoned parquet timestamps at microseconds", _tz_parquet("us")),
    "tz_ms": ("time-zoned parquet timestamps at milliseconds", _tz_parquet("ms")),
    "integer_ids": ("customer ids as integers", _integer_ids),
    "string_ids": ("customer ids as text with punctuation", _string_ids),
}


def write_base(folder: Path) -> Path:
    """The synthetic study every shape is cut from."""
    return write_study(folder, **BASE)


def cut(name: str, base: Path) -> Tables:
    """The tables and study.yaml of the shape ``name`` of the synthetic study at ``base``."""
    return SHAPES[name][1](load_base(base))


def make_shape(name: str, base: Path, folder: Path) -> Path:
    """Write the shape ``name`` of the synthetic study at ``base`` into ``folder``; returns it."""
    t = cut(name, base)
    folder.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(t.config)
    for table in ("customers", "events", "surveys", "tickets"):
        frame = getattr(t, table)
        if frame is None:
            continue
        fmt = t.fmt[table]
        file = f"{table}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(folder / file, index=False)
        else:
            frame.to_csv(folder / file, index=False, compression="gzip" if fmt == "csv.gz" else None)
        config["tables"][table] = file
    config["title"] = f"Shape {name}: {SHAPES[name][0]}"
    (folder / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder
