"""The two documents of a synthetic study: study.yaml (what a researcher writes) and truth.json
(what the generator planted, with exact definitions, for tests and for the demo's answer key)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import yaml

from . import catalog as C
from .simulate import Frame

GENERATOR = "cxlab.synth"
TRUTH_VERSION = 1


def _d(ts: pd.Timestamp):
    return ts.date()


def study_yaml(files: dict, t_start: pd.Timestamp, frame: Frame, args: dict) -> str:
    iv = t_start + pd.Timedelta(seconds=frame.intervention)
    end = t_start + pd.Timedelta(seconds=frame.end)
    q1_end = t_start + pd.DateOffset(months=3) - pd.Timedelta(days=1)
    baseline = {"start": _d(t_start), "end": _d(q1_end)}
    # the targets are due half a year after the data ends, so "on track" is a projection to a date
    due_ts = end + pd.DateOffset(months=6) - pd.Timedelta(days=1)
    config = {
        "title": f"Synthetic retail journey study ({args['customers']:,} customers, seed {args['seed']})",
        "description": (
            "A synthetic omnichannel retailer made by cxlab.synth, with planted truths (truth.json): four "
            "behavioural segments, a pain point at payment_error, unresolved tickets that slow the next "
            f"purchase, and a new checkout launched in the North region on {_d(iv)} that raises conversion "
            f"and CSAT. Study period {_d(t_start)} to {_d(end)} (exclusive)."
        ),
        "tables": {k: v for k, v in files.items() if k != "truth_segments"},
        "stages": list(C.STAGES),
        "touchpoints": {name: {"stage": stage, "channel": channel, "label": label}
                        for name, stage, channel, label in C.TOUCHPOINTS},
        "goal_touchpoints": list(C.GOALS),
        "conversion_window_days": 30,
        "currency": "EUR",
        "customer_attributes": {
            "age": {"kind": "numeric", "bins": [18, 25, 35, 50, 65, 86]},
            "income": {"kind": "numeric", "bins": [0, 25_000, 50_000, 100_000, 10_000_000]},
            "region": {"kind": "category"},
            "gender": {"kind": "category"},
            "signup_date": {"kind": "date"},
        },
        "objectives": [
            {"id": "grow_conversion", "goal": "Turn more first-time visitors into buyers", "kpi": "conversion_rate",
             "baseline": dict(baseline), "target": {"relative": 0.10, "by": _d(due_ts)}, "intervention": "new_checkout"},
            {"id": "raise_csat", "goal": "Make buying easier and more pleasant", "kpi": "csat_mean",
             "baseline": dict(baseline), "target": {"absolute": 4.0, "by": _d(due_ts)}, "intervention": "new_checkout"},
            {"id": "raise_nps", "goal": "More customers recommend us", "kpi": "nps",
             "baseline": dict(baseline), "target": {"absolute": 30, "by": _d(due_ts)}},
            {"id": "reduce_churn", "goal": "Keep buyers buying", "kpi": "churn_rate", "direction": "decrease",
             "baseline": dict(baseline), "target": {"relative": -0.10, "by": _d(due_ts)}},
            {"id": "grow_repeat", "goal": "More buyers come back for a second purchase",
             "kpi": "repeat_purchase_rate", "baseline": dict(baseline), "target": {"relative": 0.10, "by": _d(due_ts)}},
        ],
        "interventions": [
            {"id": "new_checkout", "date": _d(iv), "design": "did",
             "treated": {"column": "region", "values": [C.REGIONS[C.TREATED_REGION]]},
             "kpis": ["conversion_rate", "csat_mean"], "alpha": 0.05,
             "min_effect": {"conversion_rate": 0.02, "csat_mean": 0.1},
             "description": "A one-page checkout, launched in the North region only."},
        ],
        "parameters": {
            "segmentation": {},
            "touchpoints": {"anchor_touchpoint": "payment_error"},
            "pain_points": {"repeat_contact_days": 7, "topics": C.PAIN_TOPIC_KEYWORDS},
        },
        "engine": {"backend": "duckdb"},
    }
    header = (
        "# Synthetic study written by cxlab.synth; the planted answers are in truth.json.\n"
        f"# Regenerate: cxlab synth --customers {args['customers']} --seed {args['seed']}"
        + (f" --events-per-customer {args['events_per_customer']}" if args["events_per_customer"] else "")
        + " --out <folder>\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)


def _clean(obj):
    """Plain JSON values (numpy scalars to Python, non-finite floats to None)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return round(v, 10) if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def truth_document(tally, files: dict, t_start: pd.Timestamp, frame: Frame, args: dict) -> dict:
    r = tally.result()
    iv = t_start + pd.Timedelta(seconds=frame.intervention)
    end = t_start + pd.Timedelta(seconds=frame.end)
    north = C.REGIONS[C.TREATED_REGION]
    hr = C.HAZARD_RATIO_UNRESOLVED
    month_names = [(t_start + pd.DateOffset(months=i)).strftime("%Y-%m") for i in range(len(frame.month_of_year))]
    doc = {
        "generator": GENERATOR,
        "version": TRUTH_VERSION,
        "arguments": args,
        "intensity": frame.intensity,
        "period": {"start": str(t_start.date()), "end_exclusive": str(end.date()), "intervention_date": str(iv.date()),
                   "note": "timestamps are naive UTC; every customer's first event is >= 30 days before the end"},
        "files": {**files, "study": "study.yaml", "truth": "truth.json"},
        "sizes": r["counts"],
        "segments": {
            "names": list(C.SEGMENTS),
            "file": files["truth_segments"],
            "definition": "each customer belongs to one latent segment (truth_segments.parquet) that sets channel "
                          "preferences, pace, conversion, order value and repeat behaviour",
            "expected_shares": dict(zip(C.SEGMENTS, map(float, C.SEGMENT_SHARES))),
            "counts": r["segments_counts"],
            "parameters": C.segment_parameters(),
            "recovery": "KMeans (k = 4) on standardised per-customer features (share of events on web, app, "
                        "store, email; log events per active day; log(1 + mean days between events); log mean "
                        "order value, the median for customers without a purchase) reaches an adjusted Rand "
                        "index >= 0.8 against truth_segments (about 0.9 on the demo)",
        },
        "kpis": r["kpis"],
        "pain_point": {
            "touchpoint": C.PAIN_TOUCHPOINT, "stage": "purchase",
            "planted": {
                "payment_error_per_web_app_purchase": C.PAYMENT_ERROR_CONVERTER,
                "non_converter_endings_web_app": dict(zip(["browsing", "checkout", "payment_error"],
                                                          map(float, C.NONCONV_ENDING))),
                "support_contact_after_error_dropoff": C.SUPPORT_AFTER_ERROR,
                "payment_ticket_after_error_dropoff": C.TICKET_AFTER_ERROR_DROPOFF,
                "ticket_after_purchase_with_error": C.TICKET_P_ERROR, "ticket_after_purchase": C.TICKET_P,
                "csat_base_mean_payment_error": float(C.CSAT_P[C.TP["payment_error"]] @ np.arange(1, 6)),
            },
            "dropoff": {
                "definition": "dropoff_rate(t) = (customers whose last event is t and who have no goal event in "
                              "the study) / (customers with at least one event t)",
                "rates": r["pain_point_sample"]["dropoff_rate"],
                "largest": r["pain_point_sample"]["largest_dropoff"],
            },
            "repeat_contact": {
                "definition": "support_contact_rate(t) = share of events t followed within 7 days (0 < gap <= 7 "
                              "days) by the same customer's chat_support or call_centre_call event or the "
                              "opening of any ticket; support touchpoints themselves are left out",
                "rates": r["pain_point_sample"]["support_contact_within_7d"],
                "highest": r["pain_point_sample"]["highest_support_contact"],
            },
            "emotion": {
                "definition": "mean csat of survey responses by the stage of the touchpoint they followed; "
                              "expected from the planted distributions",
                "csat_by_stage": r["pain_point_sample"]["csat_by_stage"],
                "nps_by_stage_expected": r["pain_point_sample"]["nps_by_stage_expected"],
                "comments": "comments take their polarity from the satisfaction behind the scores; after "
                            "payment_error nearly all are negative and about payment",
            },
        },
        "ticket_hazard": {
            "model": "proportional hazards with an exponential baseline",
            "unit": "customer; their first ticket opened after their first goal event (earlier tickets, e.g. "
                    "after a payment-error drop-off, and later tickets are not units)",
            "time_origin": "ticket opened_at",
            "event": "the customer's first goal touchpoint event (web_purchase, app_purchase, store_purchase) "
                     "after opened_at",
            "censoring": f"study end ({end.date()}, exclusive) when no such event",
            "covariates": {
                "unresolved": "1 when the ticket's resolved is false (includes tickets still open at the end)",
                "prior_purchases": "number of goal events of the customer before opened_at (>= 1)",
            },
            "hazard": "h(t) = baseline * hazard_ratio_unresolved ** unresolved * exp(coef_prior_purchases * "
                      "prior_purchases)",
            "hazard_ratio_unresolved": hr,
            "log_hazard_ratio_unresolved": math.log(hr),
            "coef_prior_purchases": C.HAZARD_COEF_PRIOR,
            "hazard_ratio_per_prior_purchase": math.exp(C.HAZARD_COEF_PRIOR),
            "baseline_hazard_per_day": C.HAZARD_BASELINE_PER_DAY,
            "unresolved_probability_by_category": dict(zip(C.CATEGORIES, map(float, C.UNRESOLVED_P))),
            "sample": r["hazard_sample"],
        },
        "intervention": {
            "id": "new_checkout", "date": str(iv.date()), "treated": {"column": "region", "values": [north]},
            "design": "difference in differences, treated region vs the other three, before vs after the date",
            "conversion_rate": {
                "planted_effect": C.CONVERSION_EFFECT,
                "definition": "unit = customer; group = region North vs others; period = post when the "
                              "customer's first event is on/after the date; outcome = converted (goal within 30 "
                              "days of the first event); the planted probability rises by planted_effect "
                              "(absolute) for North customers first seen on/after the date",
                **r["conversion_did"],
            },
            "csat_mean": {
                "planted_effect": C.CSAT_EFFECT,
                "definition": "unit = survey response with a csat; group = the customer's region North vs "
                              "others; period = post when the response timestamp is on/after the date; outcome "
                              "= csat; every North response on/after the date has its expected csat raised by "
                              "planted_effect; expected_did is larger because the new checkout also converts "
                              "more North customers, which shifts the mix of surveyed touchpoints (fewer "
                              "payment-error drop-offs)",
                **r["csat_did"],
            },
            "parallel_trends": {
                "conversion_region_offset": dict(zip(C.REGIONS, map(float, C.CONVERSION_REGION_OFFSET))),
                "conversion_month_trend": dict(zip(month_names, map(float, C.CONVERSION_MONTH_TREND[frame.month_of_year]))),
                "csat_region_offset": dict(zip(C.REGIONS, map(float, C.CSAT_REGION_OFFSET))),
                "csat_month_trend": dict(zip(month_names, map(float, C.CSAT_MONTH_TREND[frame.month_of_year]))),
                "note": "additive: region levels differ, the monthly trend is common to all regions",
            },
            "note": "expected_did is the difference in differences of the planted expectations over this "
                    "sample's units (the estimand a DiD estimate should cover); planted_effect is the "
                    "structural change",
        },
        "drivers": {
            "definition": "driver = round(satisfaction + N(0, sd)) clipped to 1..5, where satisfaction is the "
                          "response's csat (latent when csat is missing); empty when not applicable",
            "noise_sd": dict(zip(C.DRIVERS, map(float, C.DRIVER_NOISE_SD))),
            "importance_order": [C.DRIVERS[i] for i in np.argsort(C.DRIVER_NOISE_SD)],
        },
        "text": {
            "comments": tally.text["comments"],
            "tickets": tally.text["tickets"],
            "comment_topics": r["comment_topics"],
            "definition": "with_email / with_phone / with_script / with_html count texts into which an email "
                          "address, a phone number, a <script> tag or other HTML was inserted",
        },
        "events_by_touchpoint": r["events_by_touchpoint"],
    }
    return _clean(doc)
