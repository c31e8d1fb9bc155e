"""Free text that reads like customers wrote it: survey comments and support-ticket texts.

Comments are put together from sentence pools by topic and polarity (negative, neutral,
positive), with openers and closers, varied length, typos, lower-case text without punctuation,
and a few personal details (email addresses, phone numbers) and HTML / script tags that
downstream code must redact or escape. Every such injection is counted for truth.json.
"""
from __future__ import annotations

import re

import numpy as np

from .catalog import CATEGORIES, TOPICS

NEG, NEU, POS = 0, 1, 2
POLARITIES = ["negative", "neutral", "positive"]

_SENTENCES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "payment": (
        [
            "My card was declined three times at checkout even though it works everywhere else.",
            "Payment failed and I was still charged.",
            "The checkout kept throwing a payment error, I gave up in the end.",
            "Got charged twice for the same order!!",
            "Tried to pay with PayPal and it just kept spinning.",
            "Card declined again. Third time this month.",
            "Why does the payment page crash every time I enter my card details?",
            "Payment error after entering the security code, very frustrating.",
            "The money left my account but the order never went through.",
            "I couldn't complete the payment, the page just reloaded.",
            "Terrible checkout. Payment declined with no explanation.",
            "It said my card was declined but my bank says everything is fine.",
            "Lost my whole basket because the payment step timed out.",
            "The checkout is broken, payment error every single time.",
        ],
        [
            "Payment went through on the second try.",
            "Checkout was ok, would be nice to have more payment options.",
            "Had to re-enter my card details but it worked in the end.",
            "Paid by card, nothing special.",
            "The checkout asked for my address twice.",
        ],
        [
            "Checkout was quick and the payment went through instantly.",
            "Love that I can pay with Apple Pay now.",
            "Smooth payment, no issues at all.",
            "Super easy checkout, card saved and done in seconds.",
            "The new checkout is so much faster.",
        ],
    ),
    "delivery": (
        [
            "My parcel arrived {n} days late and nobody told me why.",
            "The courier left the parcel in the rain.",
            "Delivery was delayed twice, really annoying.",
            "Tracking said delivered but nothing arrived.",
            "Package came damaged and the box was soaked.",
            "Still waiting for my delivery after two weeks.",
            "The delivery slot was missed and I took a day off for it.",
            "Courier never showed up and the tracking hasn't moved in {n} days.",
            "Late delivery again, this is the third time.",
        ],
        [
            "Delivery took about a week, as expected.",
            "Parcel arrived, the box was a bit big for the item.",
            "Delivery ok. Tracking could be more precise.",
            "The parcel came in {n} days.",
        ],
        [
            "Fast delivery, arrived the next day!",
            "The courier was friendly and on time.",
            "Parcel arrived earlier than expected, great packaging.",
            "Delivery was spot on, the tracking updates were really useful.",
            "Delivered in {n} days, well done.",
        ],
    ),
    "returns": (
        [
            "The return process is a nightmare.",
            "Still waiting for my refund after {n} weeks.",
            "Returned the item a month ago and no refund yet.",
            "Had to pay for the return shipping, not happy.",
            "The returns portal would not accept my order number.",
            "Refund was less than what I paid.",
        ],
        [
            "Return was processed, took a while though.",
            "Exchanged a size, it worked.",
            "The refund arrived after {n} days.",
        ],
        [
            "Returns were easy, the refund came in {n} days.",
            "Hassle-free exchange, thank you.",
            "Printed the return label in a minute, refund was fast.",
        ],
    ),
    "staff": (
        [
            "The staff member was rude and didn't listen.",
            "Waited {m} minutes on the phone to speak to an agent.",
            "The agent hung up on me.",
            "Nobody in the store could answer a simple question.",
            "The chat agent kept sending copy-paste answers.",
            "Was transferred four times and still no answer.",
            "Staff were more interested in their phones than in customers.",
        ],
        [
            "The assistant was fine, a bit rushed.",
            "The agent answered my question eventually.",
            "Staff were ok, the store was busy.",
        ],
        [
            "The assistant in store was really helpful and knew the products.",
            "Great service from Sarah at the call centre!",
            "The chat agent solved my problem in {m} minutes.",
            "Staff were friendly and patient.",
            "Really helpful agent, sorted everything on the first call.",
        ],
    ),
    "app": (
        [
            "The app crashes every time I open my basket.",
            "Can't log in to the app since the last update.",
            "App is slow and freezes on the product page.",
            "The app logged me out in the middle of my order.",
            "The app spams me with notifications every day.",
            "App keeps crashing on my phone.",
        ],
        [
            "The app works, the search could be better.",
            "The new app update moved everything around.",
            "App is fine but a dark mode would be nice.",
        ],
        [
            "Love the app, really easy to use.",
            "The app is fast and the wishlist is handy.",
            "Best shopping app I've used, very smooth.",
            "The app update made everything quicker.",
        ],
    ),
    "price": (
        [
            "Way too expensive for what you get.",
            "The price went up by {n}% since last month.",
            "The discount code didn't work.",
            "Overpriced compared to other shops.",
            "The offer in the email wasn't valid in store.",
            "Shipping costs more than the item, ridiculous.",
        ],
        [
            "Prices are ok, not the cheapest.",
            "I waited for the sale to buy.",
            "Price is about the same as elsewhere.",
        ],
        [
            "Great value for money.",
            "Good price and the discount was applied automatically.",
            "Cheaper than anywhere else I looked.",
            "The offer was genuinely good.",
        ],
    ),
    "product": (
        [
            "The quality is poor, it broke after a week.",
            "The size is completely off.",
            "The item looked nothing like the photos.",
            "Arrived damaged and with a part missing.",
        ],
        [
            "The product is as described.",
            "Quality is what you'd expect for the price.",
        ],
        [
            "Great quality, exactly what I wanted.",
            "Fits perfectly.",
            "Really happy with the product, it feels solid.",
        ],
    ),
    "account": (
        [
            "I can't reset my password, the email never arrives.",
            "My account was locked for no reason.",
            "Lost all my loyalty points when my account was merged.",
        ],
        [
            "Had to update my email address in the account settings.",
            "Account set-up took a few steps.",
        ],
        [
            "Setting up the account was easy.",
            "Love that my account remembers my sizes.",
        ],
    ),
    "general": (
        [
            "Not impressed.",
            "Very disappointing experience.",
            "This used to be my favourite shop, not any more.",
            "Everything took far too long.",
        ],
        [
            "It was fine.",
            "Nothing to add really.",
            "An average experience.",
        ],
        [
            "Great experience overall!",
            "Always a pleasure shopping here.",
            "Everything worked the way it should.",
            "I recommend you to all my friends.",
        ],
    ),
}
_SHORT = (
    ["terrible", "awful!!", "never again", "so frustrating", "not good", "worst experience ever", "useless"],
    ["ok", "fine", "average", "nothing special", "meh", "it's alright"],
    ["great!", "love it", "perfect", "excellent service", "very happy", "5 stars", "brilliant :)"],
)
_OPENERS = (
    ["Really disappointed.", "Not happy at all.", "Where do I start.", "Ugh.", "Honestly?", "Seriously."],
    ["Hi.", "Feedback:", "Quick note.", "Well,"],
    ["Really pleased!", "Happy customer here.", "Wow.", "Just wanted to say thanks."],
)
_CLOSERS = (
    ["Sort it out.", "I will shop elsewhere.", "Expected better.", "Fix this please!", "Cancelling my loyalty card.",
     "Very poor."],
    ["Thanks.", "That's all.", "Regards."],
    ["Thanks!", "Will shop again.", "Keep it up :)", "Recommended to my friends.", "10/10"],
)
_FIRST = ["jane", "john", "maria", "ahmed", "li", "sophie", "tom", "emma", "raj", "olga", "lucas", "fatima"]
_LAST = ["doe", "smith", "garcia", "khan", "chen", "martin", "brown", "novak", "silva", "okafor", "jones"]
_DOMAINS = ["example.com", "example.org", "mail.example.net", "example.co.uk"]
_PHONES = ["+44 20 7946 0958", "(555) 123-4567", "+1 202 555 0143", "020 7946 0321", "(555) 987-6543",
           "+44 161 496 0753", "555-013-2233", "+353 1 555 0198"]
_EMAIL_SENT = ["You can reach me at {e}.", "My email is {e}", "please reply to {e}", "Contact: {e}"]
_PHONE_SENT = ["Call me on {p}.", "My number is {p}", "ring me back on {p} please", "Phone: {p}"]
_HTML = ["<b>Not happy</b>", "<i>really</i> slow", "<a href=\"http://example.com\">see here</a>", "<br>thanks<br>",
         "&lt;3 &amp; thanks", "<p>Please help</p>"]
SCRIPT = "<script>alert('x')</script>"

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE_RE = re.compile(r"(?:\+\d{1,3}[ -]?)?(?:\(\d{3}\)|\d{1,4})(?:[ -]?\d{3,4}){2}")
SCRIPT_RE = re.compile(r"<script\b", re.IGNORECASE)

_TICKETS: dict[str, list[str]] = {
    "payment": [
        "I was charged twice for order {o}. Please refund the duplicate payment of {a}.",
        "My card keeps getting declined at checkout although my bank confirms it's fine.",
        "Payment failed but {a} left my account. Order {o} doesn't show in my account.",
        "Checkout gives a payment error every time I try to pay with PayPal.",
        "I was charged {a} for an order I cancelled.",
        "payment declined again, what is going on with your checkout",
        "The payment page crashed and now I see two pending charges on my card.",
    ],
    "delivery": [
        "Order {o} has not arrived, tracking hasn't updated for {n} days.",
        "The courier says delivered but I have no parcel. Order {o}.",
        "My delivery is {n} days late, I need it for a birthday this weekend.",
        "Parcel arrived damaged, the box was crushed.",
        "where is my order?? {o}",
        "Delivery address was wrong on the label although it's right in my account.",
    ],
    "returns": [
        "I returned order {o} {n} weeks ago and haven't received my refund.",
        "The returns portal won't generate a label for {o}.",
        "Refund for my return is {a} short.",
        "How do I exchange a size? The portal only offers a refund.",
    ],
    "account": [
        "I cannot log in, the password reset email never arrives.",
        "My account is locked after the update.",
        "Please delete my account and my data.",
        "My loyalty points disappeared from my account.",
        "can't change my email address in the account settings",
    ],
    "product": [
        "The item from order {o} arrived broken.",
        "The size chart is wrong, the jacket is two sizes too small.",
        "Product stopped working after {n} days.",
        "Missing parts in order {o}, the manual mentions screws that aren't there.",
    ],
}
_FOLLOWUP = [
    "Second time contacting you about this.",
    "Following up on my previous ticket, nothing has happened.",
    "This is my third email, please escalate.",
    "Still no answer!!",
]
_TICKET_CLOSERS = ["", "", "", "Thanks.", "Regards, a frustrated customer", "Please call me back.", "Thank you in advance."]


def _fill(text: str, rng: np.random.Generator) -> str:
    if "{" not in text:
        return text
    return text.format(
        n=int(rng.integers(2, 15)), m=int(rng.integers(5, 55)),
        o=f"A-{int(rng.integers(10000, 99999))}", a=f"£{rng.integers(8, 400)}.{rng.integers(0, 100):02d}",
    )


def _typo(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    for _ in range(int(rng.integers(1, 3))):
        i = int(rng.integers(0, len(words)))
        w = words[i]
        if len(w) < 4 or not w.isalpha():
            continue
        j = int(rng.integers(1, len(w) - 1))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        elif kind == 1:
            w = w[:j] + w[j + 1:]
        else:
            w = w[:j] + w[j] + w[j:]
        words[i] = w
    return " ".join(words)


def _email(rng: np.random.Generator) -> str:
    first, last = _FIRST[rng.integers(len(_FIRST))], _LAST[rng.integers(len(_LAST))]
    sep = [".", "_", ""][rng.integers(3)]
    num = "" if rng.random() < 0.6 else str(int(rng.integers(1, 99)))
    return f"{first}{sep}{last}{num}@{_DOMAINS[rng.integers(len(_DOMAINS))]}"


def _decorate(text: str, rng: np.random.Generator, flags: dict, p_email: float, p_phone: float,
              p_script: float, p_html: float) -> str:
    """Inject personal data and markup into a few texts; count what was injected."""
    u = rng.random(4)
    if u[0] < p_email:
        text = f"{text} {_EMAIL_SENT[rng.integers(len(_EMAIL_SENT))].format(e=_email(rng))}"
        flags["with_email"] += 1
    if u[1] < p_phone:
        text = f"{text} {_PHONE_SENT[rng.integers(len(_PHONE_SENT))].format(p=_PHONES[rng.integers(len(_PHONES))])}"
        flags["with_phone"] += 1
    if u[2] < p_script:
        text = f"{text} {SCRIPT}" if rng.random() < 0.5 else f"{SCRIPT}{text}"
        flags["with_script"] += 1
    elif u[3] < p_html:
        text = f"{text} {_HTML[rng.integers(len(_HTML))]}"
        flags["with_html"] += 1
    return text


def new_flags() -> dict:
    return {"n": 0, "with_email": 0, "with_phone": 0, "with_script": 0, "with_html": 0, "with_typo": 0,
            "lowercase_no_punctuation": 0, "short": 0}


def comments(rng: np.random.Generator, topic: np.ndarray, polarity: np.ndarray, flags: dict) -> list[str]:
    """One comment per (topic index into TOPICS, polarity 0/1/2); counts injections into ``flags``."""
    n = len(topic)
    u = rng.random((n, 8))
    n_core = np.where(u[:, 0] < 0.55, 1, np.where(u[:, 0] < 0.9, 2, 3))
    out = []
    for i in range(n):
        pol = int(polarity[i])
        ui = u[i]
        if ui[1] < 0.14:
            text = _SHORT[pol][int(ui[2] * len(_SHORT[pol]))]
            flags["short"] += 1
        else:
            pool = _SENTENCES[TOPICS[int(topic[i])]][pol]
            first = int(ui[2] * len(pool))
            parts = []
            if ui[3] < 0.25:
                parts.append(_OPENERS[pol][int(ui[4] * len(_OPENERS[pol]))])
            for k in range(int(n_core[i])):
                if k == 0:
                    parts.append(_fill(pool[first], rng))
                else:  # a second or third sentence, on the same or the general topic
                    other = pool if rng.random() < 0.6 else _SENTENCES["general"][pol]
                    sentence = other[int(rng.integers(len(other)))]
                    if sentence not in parts:
                        parts.append(_fill(sentence, rng))
            if ui[5] < 0.3:
                parts.append(_CLOSERS[pol][int(ui[6] * len(_CLOSERS[pol]))])
            text = " ".join(parts)
        if ui[7] < 0.12:
            text = _typo(text, rng)
            flags["with_typo"] += 1
        elif ui[7] > 0.90:
            text = re.sub(r"[.!?,;:]", "", text.lower())
            flags["lowercase_no_punctuation"] += 1
        text = _decorate(text, rng, flags, 0.015, 0.012, 0.006, 0.006)
        out.append(text)
    flags["n"] += n
    return out


def ticket_texts(rng: np.random.Generator, category: np.ndarray, followup: np.ndarray, flags: dict) -> list[str]:
    """One ticket text per category index (into CATEGORIES); follow-ups say so."""
    out = []
    for c, fu in zip(category.tolist(), followup.tolist()):
        pool = _TICKETS[CATEGORIES[c]]
        text = _fill(pool[int(rng.integers(len(pool)))], rng)
        if fu:
            text = f"{_FOLLOWUP[int(rng.integers(len(_FOLLOWUP)))]} {text}"
        closer = _TICKET_CLOSERS[int(rng.integers(len(_TICKET_CLOSERS)))]
        if closer:
            text = f"{text} {closer}"
        if rng.random() < 0.08:
            text = _typo(text, rng)
            flags["with_typo"] += 1
        text = _decorate(text, rng, flags, 0.05, 0.06, 0.003, 0.005)
        out.append(text)
    flags["n"] += len(out)
    return out


def polarity_of(satisfaction: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Comment polarity from the latent satisfaction 1..5 (a little noise at 3 and 4)."""
    y = np.asarray(satisfaction)
    pol = np.where(y <= 2, NEG, np.where(y == 3, np.where(u < 0.5, NEG, NEU), POS))
    pol = np.where((y == 4) & (u < 0.12), NEU, pol)
    return pol
