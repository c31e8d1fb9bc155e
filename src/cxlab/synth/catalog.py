"""What the synthetic study is made of: the touchpoint catalog, the four behavioural segments,
and every planted parameter. Nothing here draws random numbers; ``simulate`` reads these tables.

All times are in seconds from the study start; rates and gaps are written in days.
"""
from __future__ import annotations

import numpy as np

DAY = 86400.0
HOUR = 3600.0
MINUTE = 60.0

STAGES = ["awareness", "consideration", "purchase", "service", "loyalty"]
CHANNELS = ["web", "app", "email", "store", "call_centre"]
WEB, APP, EMAIL, STORE, CALL = range(5)

# touchpoint, stage, catalog channel, label
TOUCHPOINTS = [
    ("social_ad", "awareness", "web", "Social media ad"),
    ("search_ad", "awareness", "web", "Search ad"),
    ("newsletter_open", "awareness", "email", "Newsletter opened"),
    ("store_window", "awareness", "store", "Store window"),
    ("app_push_open", "awareness", "app", "App push notification opened"),
    ("web_product_view", "consideration", "web", "Product page (web)"),
    ("app_product_view", "consideration", "app", "Product page (app)"),
    ("web_compare", "consideration", "web", "Product comparison (web)"),
    ("store_consult", "consideration", "store", "In-store consultation"),
    ("email_offer_click", "consideration", "email", "Email offer clicked"),
    ("web_checkout", "purchase", "web", "Checkout (web)"),
    ("app_checkout", "purchase", "app", "Checkout (app)"),
    ("payment_error", "purchase", "web", "Payment error (web or app)"),
    ("web_purchase", "purchase", "web", "Purchase (web)"),
    ("app_purchase", "purchase", "app", "Purchase (app)"),
    ("store_purchase", "purchase", "store", "Purchase (store)"),
    ("order_tracking", "service", "web", "Order tracking (web or app)"),
    ("chat_support", "service", "web", "Chat support (web or app)"),
    ("call_centre_call", "service", "call_centre", "Call to the call centre"),
    ("returns_portal", "service", "web", "Returns portal"),
    ("review_written", "loyalty", "web", "Review written"),
    ("loyalty_app_open", "loyalty", "app", "Loyalty app opened"),
    ("referral_sent", "loyalty", "email", "Referral sent"),
]
TP_NAMES = [t[0] for t in TOUCHPOINTS]
TP = {name: i for i, name in enumerate(TP_NAMES)}
TP_STAGE = np.array([STAGES.index(t[1]) for t in TOUCHPOINTS])
TP_CHANNEL = np.array([CHANNELS.index(t[2]) for t in TOUCHPOINTS])
GOALS = ["web_purchase", "app_purchase", "store_purchase"]
GOAL_IDX = np.array([TP[g] for g in GOALS])
SUPPORT_TPS = ["chat_support", "call_centre_call"]
PAIN_TOUCHPOINT = "payment_error"

# purchase channels: 0 web, 1 app, 2 store
PURCHASE_CHANNELS = ["web", "app", "store"]
CHECKOUT_TP = np.array([TP["web_checkout"], TP["app_checkout"], -1])
PURCHASE_TP = np.array([TP["web_purchase"], TP["app_purchase"], TP["store_purchase"]])
PURCHASE_CH_TO_CHANNEL = np.array([WEB, APP, STORE])

# ----------------------------------------------------------------------------- segments
SEGMENTS = ["app_natives", "store_loyalists", "bargain_browsers", "omnichannel_premium"]
SEGMENT_SHARES = np.array([0.30, 0.22, 0.30, 0.18])
SEGMENT_DESCRIPTIONS = {
    "app_natives": "app-heavy, fast pace (many events per active day), mid order value",
    "store_loyalists": "store-heavy, slow pace, high order value, frequent repeat purchases",
    "bargain_browsers": "web-heavy, many product views, low conversion, low order value",
    "omnichannel_premium": "all channels, high order value",
}
# preference for each channel (web, app, email, store, call_centre) when a touchpoint is chosen
CHANNEL_PREF = np.array([
    [0.12, 0.80, 0.05, 0.02, 0.01],
    [0.07, 0.05, 0.06, 0.78, 0.04],
    [0.84, 0.04, 0.09, 0.02, 0.01],
    [0.22, 0.20, 0.30, 0.25, 0.03],
])
# channel of each purchase (web, app, store)
PURCHASE_CHANNEL_P = np.array([
    [0.12, 0.86, 0.02],
    [0.08, 0.02, 0.90],
    [0.93, 0.05, 0.02],
    [0.36, 0.34, 0.30],
])
BASE_CONVERSION = np.array([0.50, 0.56, 0.22, 0.62])   # P(goal within 30 days of first touch)
AWARE_EXTRA = np.array([0.8, 0.5, 0.7, 0.8])            # acquisition: 1 + Poisson(this * f) awareness events
CONSIDER_MEAN = np.array([5.0, 2.6, 9.0, 5.0])          # acquisition: 1 + Poisson((this - 1) * f) views
REPEAT_AWARE = np.array([0.5, 0.3, 0.6, 0.5])           # repeat journey: Poisson(this * f) awareness
REPEAT_CONSIDER = np.array([2.5, 1.2, 5.5, 2.5])        # repeat journey: Poisson(this * f) views
P_NEW_SESSION = np.array([0.12, 0.90, 0.45, 0.60])      # a browsing event starts a new session
SESSION_GAP_DAYS = np.array([0.8, 5.0, 1.5, 1.5])       # mean gap between sessions of one journey
WITHIN_GAP_MIN = np.array([1.0, 8.0, 3.0, 4.0])         # mean gap inside a session (minutes)
ORDER_VALUE_MEDIAN = np.array([55.0, 140.0, 28.0, 240.0])  # lognormal median, sigma 0.35
ORDER_VALUE_SIGMA = 0.35
REPEAT_CONTINUE = np.array([0.72, 0.86, 0.45, 0.78])    # P(another purchase) after one without a ticket
REPEAT_GAP_DAYS = np.array([32.0, 20.0, 55.0, 28.0])    # mean gap to the next purchase, gamma shape 2
REPEAT_GAP_SHAPE = 2.0
WINBACK = np.array([0.20, 0.25, 0.30, 0.20])            # non-converter comes back and buys later
WINBACK_AFTER_ERROR = 0.35                              # ... times this after a payment-error drop-off
WINBACK_MIN_DAYS = 45.0                                  # > 28 + 5 + 7: after any drop-off ticket and its follow-up
WINBACK_GAP_DAYS = 50.0                                 # mean extra days, gamma shape 2
BOUNCE = np.array([0.10, 0.12, 0.12, 0.08])             # non-converter who sees only awareness
# post-purchase touchpoints: Poisson(mean * f) per purchase; order tracking only for web/app orders
POST_ROLES = ["track", "returns", "chat", "call", "review", "loyalty_app", "referral"]
POST_MEAN = np.array([
    [1.8, 0.05, 0.10, 0.02, 0.05, 1.4, 0.04],
    [0.6, 0.03, 0.05, 0.08, 0.06, 0.5, 0.03],
    [1.2, 0.09, 0.10, 0.02, 0.08, 0.10, 0.02],
    [1.0, 0.06, 0.10, 0.05, 0.12, 0.30, 0.25],
])
POST_GAP_DAYS = {"track": 1.2, "default": 6.0}
SUPPORT_CALL_SHARE = np.array([0.25, 0.70, 0.30, 0.40])  # support contact by phone (else chat)
AGE = np.array([[29, 7], [58, 11], [38, 11], [46, 10]])
INCOME_MEDIAN = np.array([38_000, 52_000, 29_000, 92_000])
ACQ_HOUR_WEIGHTS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 8, 7, 5, 2.5])

# ----------------------------------------------------------------------------- regions, trends
REGIONS = ["North", "South", "East", "West"]
REGION_SHARES = np.array([0.26, 0.25, 0.23, 0.26])
TREATED_REGION = 0
CONVERSION_REGION_OFFSET = np.array([-0.04, 0.02, 0.0, 0.03])
CONVERSION_MONTH_TREND = np.array([0.0, 0.01, 0.02, 0.01, 0.0, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.03])
CONVERSION_EFFECT = 0.06                                # absolute, North, first touch on/after the date
CSAT_REGION_OFFSET = np.array([-0.15, 0.05, 0.0, 0.10])
CSAT_MONTH_TREND = np.array([0.0, 0.02, 0.03, 0.0, -0.02, -0.03, 0.0, 0.02, 0.04, 0.02, -0.02, -0.04])
CSAT_EFFECT = 0.40                                      # on the 1-5 mean, North, responses on/after the date

# ----------------------------------------------------------------------------- purchase funnel
PAYMENT_ERROR_CONVERTER = 0.04      # P(payment error, then a retry that succeeds) per web/app purchase
NONCONV_ENDING = np.array([0.50, 0.23, 0.27])   # web/app non-converter ends: browsing, checkout, payment error
SUPPORT_AFTER_ERROR = 0.25          # payment-error drop-off contacts chat or call centre within 7 days
TICKET_AFTER_ERROR_DROPOFF = 0.30   # ... and opens a payment ticket within 5 days

# ----------------------------------------------------------------------------- tickets
CATEGORIES = ["payment", "delivery", "returns", "account", "product"]
TICKET_P = 0.08                     # per purchase without a payment error
TICKET_P_ERROR = 0.35               # per purchase after a payment error (category payment)
TICKET_CATEGORY_P = np.array([0.06, 0.42, 0.20, 0.10, 0.22])
TICKET_DELAY_DAYS = (0.5, 20.0)     # uniform, after the purchase
TICKET_DELAY_ERROR_DAYS = (0.1, 6.0)
UNRESOLVED_P = np.array([0.45, 0.35, 0.30, 0.25, 0.30])   # by category
FOLLOWUP_P = 0.35                   # unresolved ticket gets a follow-up ticket within 7 days
TICKET_CHANNELS = ["call_centre", "web", "app", "email", "store"]
RESOLVE_HOURS = 30.0                # mean hours to close a resolved ticket (gamma shape 2)
# planted proportional hazard of the next purchase after a customer's first post-purchase ticket
HAZARD_BASELINE_PER_DAY = 1 / 75.0
HAZARD_RATIO_UNRESOLVED = 0.45
HAZARD_COEF_PRIOR = 0.10            # log-hazard per purchase before the ticket

# ----------------------------------------------------------------------------- surveys
# survey probability after each touchpoint (catalog order)
SURVEY_P = np.array([
    0.004, 0.004, 0.02, 0.0, 0.004,
    0.006, 0.006, 0.01, 0.08, 0.01,
    0.03, 0.03, 0.55, 0.20, 0.20, 0.20,
    0.06, 0.35, 0.40, 0.25,
    0.30, 0.06, 0.30,
])
# CSAT 1-5 distribution per touchpoint, before region/month/intervention shifts
CSAT_BASE_MEAN = np.array([
    4.1, 4.1, 4.2, 4.2, 4.1,
    4.1, 4.1, 4.0, 4.2, 4.0,
    3.8, 3.9, 1.6, 4.2, 4.2, 4.3,
    4.1, 4.0, 3.9, 4.0,
    4.3, 4.3, 4.5,
])


def csat_probs(mean: np.ndarray) -> np.ndarray:
    """A discretised bell over 1..5 around ``mean`` (the exact mean is computed from it)."""
    k = np.arange(1, 6)
    w = np.exp(-((k[None, :] - np.asarray(mean)[:, None]) ** 2) / (2 * 1.05**2))
    return w / w.sum(1, keepdims=True)


CSAT_P = csat_probs(CSAT_BASE_MEAN)
# NPS 0-10 and CES 1-7 (7 = very easy) given the latent satisfaction 1..5
NPS_GIVEN_Y = np.array([
    [10, 14, 16, 16, 14, 12, 8, 5, 3, 1, 1],
    [3, 6, 10, 14, 18, 18, 14, 9, 5, 2, 1],
    [1, 1, 2, 4, 8, 15, 22, 24, 15, 5, 3],
    [0.2, 0.3, 0.5, 1, 2, 4, 8, 22, 30, 20, 12],
    [0.1, 0.1, 0.2, 0.3, 0.5, 1, 2, 6, 15, 30, 44.8],
], dtype=float)
NPS_GIVEN_Y /= NPS_GIVEN_Y.sum(1, keepdims=True)
CES_GIVEN_Y = np.array([
    [30, 30, 20, 12, 5, 2, 1],
    [10, 22, 30, 20, 10, 5, 3],
    [2, 6, 15, 34, 25, 12, 6],
    [1, 2, 5, 12, 30, 32, 18],
    [0.5, 0.5, 1, 5, 15, 33, 45],
], dtype=float)
CES_GIVEN_Y /= CES_GIVEN_Y.sum(1, keepdims=True)
NPS_PROMOTER_MINUS_DETRACTOR = NPS_GIVEN_Y[:, 9:].sum(1) - NPS_GIVEN_Y[:, :7].sum(1)
CES_MEAN_GIVEN_Y = CES_GIVEN_Y @ np.arange(1, 8)
# which scores a response carries: transactional (not loyalty stage) vs relationship (loyalty)
SCORE_PRESENT = {"transactional": (0.96, 0.65, 0.30), "relationship": (0.25, 0.0, 1.0)}  # csat, ces, nps
DRIVERS = ["driver_ease", "driver_speed", "driver_staff", "driver_price", "driver_delivery"]
DRIVER_NOISE_SD = np.array([0.55, 0.90, 1.10, 1.50, 0.75])   # driver = round(y + N(0, sd)), clipped 1..5
DRIVER_ANSWER_P = 0.85
_S = {s: [TP[t[0]] for t in TOUCHPOINTS if t[1] == s] for s in STAGES}
# applicability: touchpoint x driver
DRIVER_APPLIES = np.zeros((len(TP_NAMES), len(DRIVERS)), dtype=bool)
DRIVER_APPLIES[:, 0] = TP_STAGE != STAGES.index("loyalty")
for _t in _S["consideration"] + _S["purchase"] + _S["service"]:
    DRIVER_APPLIES[_t, 1] = True
for _t in ["store_window", "store_consult", "store_purchase", "chat_support", "call_centre_call"]:
    DRIVER_APPLIES[TP[_t], 2] = True
for _t in _S["consideration"] + [TP[t] for t in ["web_checkout", "app_checkout", "web_purchase", "app_purchase",
                                                  "store_purchase"]]:
    DRIVER_APPLIES[_t, 3] = True
for _t in ["web_purchase", "app_purchase", "order_tracking", "returns_portal"]:
    DRIVER_APPLIES[TP[_t], 4] = True
COMMENT_P = 0.38
COMMENT_P_LOW = 0.60                # when satisfaction is 1 or 2
TOPICS = ["payment", "delivery", "returns", "staff", "app", "price", "product", "account", "general"]
_TOPIC_OF = {  # touchpoint -> (topic, weight) pairs
    "awareness": {"price": 3, "general": 2, "app": 1},
    "consideration": {"price": 3, "product": 3, "general": 1},
    "web_checkout": {"payment": 3, "price": 1, "general": 1},
    "app_checkout": {"payment": 3, "app": 2, "general": 1},
    "payment_error": {"payment": 9, "app": 1},
    "web_purchase": {"delivery": 3, "price": 2, "product": 2, "payment": 1, "general": 1},
    "app_purchase": {"delivery": 3, "app": 2, "product": 2, "payment": 1, "general": 1},
    "store_purchase": {"staff": 3, "price": 2, "product": 3, "general": 1},
    "store_consult": {"staff": 5, "product": 2},
    "store_window": {"product": 1, "general": 1},
    "order_tracking": {"delivery": 5, "app": 1},
    "chat_support": {"staff": 4, "delivery": 1, "returns": 1, "account": 1},
    "call_centre_call": {"staff": 5, "delivery": 1, "account": 1},
    "returns_portal": {"returns": 6, "general": 1},
    "loyalty": {"general": 3, "app": 2, "price": 1, "product": 1},
}
TOPIC_P = np.zeros((len(TP_NAMES), len(TOPICS)))
for _i, (_name, _stage, _ch, _lab) in enumerate(TOUCHPOINTS):
    spec = _TOPIC_OF.get(_name) or _TOPIC_OF.get(_stage) or {"general": 1}
    for _topic, _w in spec.items():
        TOPIC_P[_i, TOPICS.index(_topic)] = _w
TOPIC_P /= TOPIC_P.sum(1, keepdims=True)

PAIN_TOPIC_KEYWORDS = {
    "payment": ["payment", "card", "declined", "charged", "checkout", "paypal"],
    "delivery": ["delivery", "delivered", "parcel", "courier", "tracking", "late"],
    "returns": ["return", "returns", "refund", "exchange"],
    "staff": ["staff", "assistant", "agent", "rude", "helpful"],
    "app": ["app", "crash", "crashes", "freezes", "update", "log in"],
    "price": ["price", "expensive", "overpriced", "discount", "offer", "cheaper"],
    "product": ["quality", "broken", "size", "damaged", "fits"],
    "account": ["account", "password", "locked"],
}


def choice_cum(p: np.ndarray) -> np.ndarray:
    """Cumulative probabilities along the last axis, for ``pick``."""
    c = np.cumsum(p, axis=-1)
    c[..., -1] = 1.0 + 1e-12
    return c


def pick(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One category per row of ``cum`` (rows of cumulative probabilities)."""
    u = rng.random(cum.shape[0])
    return (u[:, None] >= cum).sum(1)


# touchpoint choice among the awareness / consideration options, by segment (and purchase channel)
AWARE_TPS = np.array([TP[t] for t in ["social_ad", "search_ad", "newsletter_open", "store_window", "app_push_open"]])
AWARE_BASE = np.array([0.6, 0.6, 1.0, 1.0, 1.0])
CONSIDER_TPS = np.array(
    [TP[t] for t in ["web_product_view", "app_product_view", "web_compare", "store_consult", "email_offer_click"]]
)
CONSIDER_BASE = np.array([1.0, 1.0, 0.45, 1.0, 0.8])


def _aware_p() -> np.ndarray:
    w = AWARE_BASE[None, :] * CHANNEL_PREF[:, TP_CHANNEL[AWARE_TPS]]
    return w / w.sum(1, keepdims=True)


def _consider_p() -> np.ndarray:
    out = np.zeros((len(SEGMENTS), 3, len(CONSIDER_TPS)))
    for ch in range(3):  # views lean to the channel of the coming purchase (omnichannel customers: no lean)
        tilt = np.where(TP_CHANNEL[CONSIDER_TPS] == PURCHASE_CH_TO_CHANNEL[ch], 2.0, 1.0)
        tilt = np.where(np.arange(len(SEGMENTS))[:, None] == SEGMENTS.index("omnichannel_premium"), 1.0, tilt[None, :])
        w = CONSIDER_BASE[None, :] * tilt * CHANNEL_PREF[:, TP_CHANNEL[CONSIDER_TPS]]
        out[:, ch, :] = w / w.sum(1, keepdims=True)
    return out


AWARE_P = _aware_p()
CONSIDER_P = _consider_p()


def segment_parameters() -> dict:
    """The per-segment parameters, as plain values for truth.json."""
    out = {}
    for g, name in enumerate(SEGMENTS):
        out[name] = {
            "description": SEGMENT_DESCRIPTIONS[name],
            "expected_share": float(SEGMENT_SHARES[g]),
            "channel_preference": dict(zip(CHANNELS, map(float, CHANNEL_PREF[g]))),
            "purchase_channel": dict(zip(PURCHASE_CHANNELS, map(float, PURCHASE_CHANNEL_P[g]))),
            "base_conversion": float(BASE_CONVERSION[g]),
            "acquisition_views_mean": float(CONSIDER_MEAN[g]),
            "p_new_session": float(P_NEW_SESSION[g]),
            "session_gap_days": float(SESSION_GAP_DAYS[g]),
            "order_value_median": float(ORDER_VALUE_MEDIAN[g]),
            "repeat_continue_p": float(REPEAT_CONTINUE[g]),
            "repeat_gap_days_mean": float(REPEAT_GAP_DAYS[g]),
            "age_mean": float(AGE[g, 0]),
            "income_median": float(INCOME_MEDIAN[g]),
        }
    return out
