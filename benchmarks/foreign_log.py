"""A foreign event log for benchmarks: a plain Zipf log that ``cxlab synth`` did not make.

    .venv/bin/python benchmarks/foreign_log.py --events 1000000 --out benchmarks/studies/foreign_1m

writes ``events.parquet`` and a minimal ``study.yaml`` into ``--out``. The log looks like an
analytics export, not like cxlab's contract, so study.yaml maps its columns:

- ``user_id`` (text, ``u0000042``), ``event_name`` and ``event_time`` (timestamp, microseconds,
  whole seconds); rows in order of event_time, as an export comes, so one customer's events are
  scattered through the file;
- ``--events`` events for ``--events / 10`` customers: every customer has one event, the rest go to
  customers drawn uniformly, so a customer has 1 + Binomial events (about 10, Poisson-like);
- 20 event names drawn independently per event with Zipf weights ``1 / rank ** 1.1`` (the most
  common 31% of all events, the goal ``purchase`` 2%, the rarest 1.2%);
- a customer's first event falls uniformly in 2025; each next one comes after an exponential gap
  with a mean of two days (whole seconds, so a customer's events may share a timestamp; the file
  order then decides, as it does for cxlab's ``seq``).

Nothing here depends on the order of anything but ``--seed``: the same seed writes the same bytes
of data. The touchpoint catalog, the goal (``purchase``) and the benchmark funnel are fixed here and
imported by the benchmark.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# rank order = frequency order (rank 1 is the most common)
TOUCHPOINTS = [
    ("page_view", "consideration", "web"), ("app_open", "awareness", "app"),
    ("product_view", "consideration", "web"), ("search", "consideration", "web"),
    ("email_open", "awareness", "email"), ("add_to_cart", "purchase", "web"),
    ("ad_click", "awareness", "web"), ("push_open", "awareness", "app"),
    ("wishlist_add", "consideration", "app"), ("checkout_start", "purchase", "web"),
    ("review_read", "consideration", "web"), ("purchase", "purchase", "web"),
    ("store_visit", "consideration", "store"), ("coupon_view", "consideration", "email"),
    ("order_tracking", "service", "web"), ("help_article", "service", "web"),
    ("chat_support", "service", "call_centre"), ("return_request", "service", "web"),
    ("review_written", "loyalty", "web"), ("referral_sent", "loyalty", "app"),
]
STAGES = ["awareness", "consideration", "purchase", "service", "loyalty"]
GOALS = ["purchase"]
# the ordered 4-step funnel both sides of the benchmark compute (30-day window)
FUNNEL = [["ad_click", "email_open", "push_open", "search"], ["product_view"], ["add_to_cart", "checkout_start"],
          ["purchase"]]
ZIPF_EXPONENT = 1.1
EVENTS_PER_CUSTOMER = 10
MEAN_GAP_SECONDS = 2 * 86400
YEAR_START = np.datetime64("2025-01-01T00:00:00", "s")
YEAR_SECONDS = 365 * 86400


def zipf_weights(n: int = len(TOUCHPOINTS), exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


def make_log(events: int, seed: int = 1):
    """The log as a pyarrow Table (user_id, event_name, event_time), rows in event_time order."""
    import pyarrow as pa

    if events < 10:
        raise SystemExit("--events must be at least 10 (a tenth of them are customers)")
    rng = np.random.default_rng(seed)
    customers = events // EVENTS_PER_CUSTOMER
    # every customer once, then the rest uniformly: 1 + Binomial(events - customers, 1/customers)
    owner = np.concatenate([np.arange(customers), rng.integers(0, customers, events - customers)])
    owner.sort(kind="stable")
    counts = np.bincount(owner, minlength=customers)
    first_of = np.concatenate([[0], np.cumsum(counts)[:-1]])
    start = rng.integers(0, YEAR_SECONDS, customers)
    gaps = np.floor(rng.exponential(MEAN_GAP_SECONDS, events)).astype(np.int64)
    gaps[first_of] = 0  # a customer's first event is at their start
    # seconds since the customer's start: cumulative gaps within each customer
    since = np.cumsum(gaps)
    since -= np.repeat(since[first_of], counts)
    seconds = start[owner] + since
    codes = rng.choice(len(TOUCHPOINTS), size=events, p=zipf_weights())
    order = np.argsort(seconds, kind="stable")  # an export comes in time order
    names = pa.array([t[0] for t in TOUCHPOINTS], pa.string())
    user_ids = np.char.add("u", np.char.zfill(np.arange(customers).astype(str), 7))
    return pa.table({
        "user_id": pa.array(user_ids[owner[order]], pa.string()),
        "event_name": pa.DictionaryArray.from_arrays(pa.array(codes[order].astype(np.int32)), names).cast(pa.string()),
        "event_time": pa.array((YEAR_START + seconds[order]).astype("datetime64[us]")),
    })


def study_yaml(events: int, seed: int) -> str:
    import yaml

    config = {
        "title": f"Foreign Zipf log, {events:,} events (benchmarks/foreign_log.py --events {events} --seed {seed})",
        "tables": {"events": {"file": "events.parquet",
                              "columns": {"customer_id": "user_id", "touchpoint": "event_name",
                                          "timestamp": "event_time"}}},
        "stages": STAGES,
        "touchpoints": {name: {"stage": stage, "channel": channel} for name, stage, channel in TOUCHPOINTS},
        "goal_touchpoints": GOALS,
    }
    return yaml.safe_dump(config, sort_keys=False, width=1000)  # the title on one line: foreign_bench reads it


def write(out: Path, events: int, seed: int = 1) -> Path:
    """Write events.parquet and study.yaml into ``out`` (made if missing); returns ``out``."""
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_log(events, seed), out / "events.parquet", compression="zstd", row_group_size=1 << 20)
    (out / "study.yaml").write_text(study_yaml(events, seed), encoding="utf-8")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    write(args.out, args.events, args.seed)
    print(f"wrote {args.out / 'events.parquet'} ({args.events:,} events, {args.events // EVENTS_PER_CUSTOMER:,} customers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
