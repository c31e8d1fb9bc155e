"""Customer text on its way out: personal data redacted, markup escaped.

Every path that shows customer text to a person (report pages, a failed stage's page, the run
index, run.json, CLI messages, the journey map, topic names) goes through ``redact``; for HTML,
``safe_text`` (redacted, then escaped, so a ``<script>`` in a comment shows as text); for
Markdown, ``markdown_text`` (redacted, every Markdown and HTML sign escaped, so ``[x](javascript:…)``
and ``![](https://…)`` show as text and never become a link or a remote image).

**What ``redact`` replaces** (a documented rule set, checked by the corpus in tests/test_privacy.py):

==================  ===========================================================================
``[email]``         ``jane.doe@example.com``, ``bob@localhost``, ``jane(at)gmail.com``,
                    ``jane [at] gmail [dot] com``, ``jane at gmail dot com``
``[card]``          13–19 digits, run together or in groups (``4111111111111111``,
                    ``4111 1111 1111 1111``, Amex ``3782 822463 10005``) that pass the Luhn check;
                    a long number that fails it (an order id) stays
``[iban]``          ``GB82 WEST 1234 5698 7654 32``, ``DE89370400440532013000`` (whole)
``[bank account]``  a sort code with its account number (``12-34-56 12345678``), a number after
                    "sort code", "account number", "acct", "a/c"
``[phone]``         9 to 15 digits in the shapes phones are written in: ``+44 20 7946 0958``,
                    ``07700 900123``, ``0044 7700 900123``, ``030 1234567``, ``(555) 123-4567``,
                    ``555.123.4567``, ``07700900123``; 7 or 8 digits after a word like "call",
                    "phone", "mobile", "number"
``[ip address]``    ``81.2.69.142``
``[address]``       a street address: a house number, capitalised words and a street word
                    (``12 Baker Street``, ``221B Baker St``, ``1600 Pennsylvania Avenue``), any case
                    after "live at", "deliver to", "address is" …; ``Hauptstraße 5``,
                    ``12 rue de la Paix``
``[postcode]``      UK postcodes (``NW1 6XE``), US ZIP codes after a state (``CA 94105``)
``[name]``          a capitalised name after "my name is", "I am", "I'm", "Dear", a title
                    (``Mr [name]``), an agent word ("the agent Sarah", "spoke to Sarah"), "named",
                    or as a sign-off ("Regards, Jane", "Thanks,\\nJane Doe", "- Jane" at the end)
==================  ===========================================================================

What stays: dates (``2025-01-03``, ``03/01/2025``, ``12.05.2025``), times (``10:00``), money
(``£1,234.56``, ``€1.234,56``, ``$49.99``), percentages, version numbers, years, and numbers
after an identifier word (order, ref, invoice, ticket, case, booking, tracking, customer …)
unless they are Luhn-valid card numbers.

**Why rules and not a PII detector** (measured on this machine, Python 3.11, fresh venv):
presidio-analyzer 2.2.366 installs in 18.5 s and adds 367 MB (262 MB of it packages cxlab does not
already have: spaCy, thinc, pydantic …) and still needs a spaCy language model for names and
addresses, which its engine downloads at run time (it failed here, offline, with a
ConnectionError); scrubadub 2.0.1 installs in 17.8 s and adds 387 MB (106 MB new: nltk, faker,
dateparser, phonenumbers, textblob …), and with its default detectors caught 1 of 7 test lines
(the unseparated Visa number): no UK or German phones (US locale), no IBAN with spaces, no
obfuscated emails, no names (its name detectors need nltk or spaCy models). phonenumbers 9.0.43 alone
(10.2 s, 48 MB) needs the country of every national number. The rules here catch what the
corpus holds and cost nothing to install; a name with no cue ("Sarah was lovely") is not
found: the limit of a rule set, to be said where the reports are described.

**A failed stage's output** is redacted too: ``redact_notebook`` (or ``redact_notebook_file``)
redacts its stdout, stderr, tracebacks and error values before the page is rendered, and
``redact_error`` an exception's message before it goes to run.json or the terminal.
"""
from __future__ import annotations

import copy
import html
import math
import re
from pathlib import Path
from typing import Any

__all__ = [
    "redact",
    "safe_text",
    "markdown_text",
    "luhn_valid",
    "PLACEHOLDER",
    "PLACEHOLDERS",
    "redact_error",
    "redact_notebook",
    "redact_notebook_file",
]

PLACEHOLDERS = ("[email]", "[card]", "[iban]", "[bank account]", "[phone]", "[ip address]", "[address]",
                "[postcode]", "[name]")
# what redaction leaves in a text (topic modelling removes these before counting words)
PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))

# --------------------------------------------------------------------------- emails
_DOMAIN_PART = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+@{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*")
_OPEN, _CLOSE = r"[\(\[\{<]", r"[\)\]\}>]"
_OBFUSCATED_EMAIL = re.compile(
    rf"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+\s*{_OPEN}\s*(?i:at)\s*{_CLOSE}\s*{_DOMAIN_PART}"
    rf"(?:\s*(?:\.|{_OPEN}\s*(?i:dot)\s*{_CLOSE}|\s(?i:dot)\s)\s*{_DOMAIN_PART})*"
)
_TLDS = "com|net|org|edu|gov|info|biz|io|co|uk|de|fr|ie|nl|es|it|eu|us|ca|au|ch|at|be|se|no|dk|pl|me"
_WORDY_EMAIL = re.compile(
    rf"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+\s+(?i:at)\s+{_DOMAIN_PART}(?:\s+(?i:dot)\s+{_DOMAIN_PART})*"
    rf"\s+(?i:dot)\s+(?i:{_TLDS})\b"
)


def _email(match: re.Match) -> str:
    found = match.group(0)
    local, _, domain = found.partition("@")
    # "3@4.99" is a price, not an address: an address has a letter on each side
    if domain and not (re.search(r"[A-Za-z]", local) and re.search(r"[A-Za-z]", domain)):
        return found
    return "[email]"


# --------------------------------------------------------------------------- banks
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]{4}){2,7}(?:[ \-]?[A-Za-z0-9]{1,3})?\b")


def _iban(match: re.Match) -> str:
    found = match.group(0)
    compact = re.sub(r"[ \-]", "", found)
    if 15 <= len(compact) <= 34 and sum(ch.isdigit() for ch in compact) >= 10:
        return "[iban]"
    return found


_SORT_CODE = r"\d{2}[- ]\d{2}[- ]\d{2}"
_ACCOUNT_CUE = r"(?i:account|acct|a/c|acc)(?:\s+(?i:number|no\.?|num|nr|#))?(?:\s+(?i:is))?[\s:#.]*"
_SORT_AND_ACCOUNT = re.compile(
    rf"(?<![\d\-])\d{{2}}-\d{{2}}-\d{{2}}[\s,/;]+(?:{_ACCOUNT_CUE})?\d{{6,10}}(?!\d)"
)
_SORT_CUE = re.compile(rf"(\b(?i:sort\s*code)(?:\s+(?i:is))?[\s:#.]*){_SORT_CODE}(?!\d)")
_ACCOUNT = re.compile(rf"(\b{_ACCOUNT_CUE})(\d(?:[ \-]?\d){{5,13}})(?![\d])")

# --------------------------------------------------------------------------- kept as they are
_PROTECT = re.compile(
    "|".join([
        # dates: 2025-01-03, 2025/1/3, 03/01/2025, 3.1.2025, 03-01-25 (not a run of more groups)
        r"(?<![\d.\-/])(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2}))(?![\d]|[-/.]\d)",
        # times: 10:00, 9:30:15, 10:00 pm
        r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?![\d:])",
        # money with a currency before or after the amount
        r"(?:[£$€¥₹]|\b(?:EUR|USD|GBP|CHF|AUD|CAD|JPY|INR|SEK|NOK|DKK)[ \u00a0]?)[ \u00a0]?"
        r"(?:\d{1,3}(?:[,.\u00a0' ]\d{3}(?!\d))+|\d+)(?:[.,]\d{1,2}(?!\d))?",
        r"(?<![\d.,])(?:\d{1,3}(?:[,.\u00a0' ]\d{3}(?!\d))+|\d+)(?:[.,]\d{1,2})?[ \u00a0]?"
        r"(?:€|£|\$|(?:EUR|USD|GBP|CHF|euros?|dollars?|pounds?|quid)\b)",
        # percentages
        r"(?<![\d.,])\d+(?:[.,]\d+)?[ \u00a0]?%",
    ])
)
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_MARK = re.compile("[\ue000-\uf8ff]")

# --------------------------------------------------------------------------- numbers
# a run of digit groups joined by single spaces, dashes or dots, perhaps with a leading + or an
# area code in brackets; judged as a whole by _number
_CHAIN = re.compile(
    r"(?<![\w.,:/#@=£$€¥+\-])(?:\+[ ]?)?(?:\(\d{1,5}\)[ ]?)?\d+"
    r"(?:(?:[ .\-]|[ ]?\(\d{1,5}\)[ ]?)\d+)*(?![\w@])"
)
_PHONE_CUE = re.compile(
    r"\b(?i:phone|tel|telephone|mobile|mob|cell|call|calling|ring|text|sms|whatsapp|fax|number|contact)\b"
    r"[^.\n\d]{0,25}$"
)
_ID_CUE = re.compile(
    r"(?:\b(?i:order|ref|reference|invoice|ticket|case|booking|tracking|transaction|confirmation|parcel"
    r"|shipment|consignment|receipt|sku|item|product|model|serial|membership|policy|claim|customer|member"
    r"|voucher|coupon|id|account|loyalty)\b(?:\s*(?i:no\.?|number|num|nr|id|code|ref|reference))?"
    r"(?:\s*(?i:is|was|:|=))?|#)\s*[#:]?\s*$"
)
_YEAR = re.compile(r"(?:19|20)\d\d")


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes (and 9 in 10 other numbers fail)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _number(match: re.Match) -> str:
    found = match.group(0)
    before = match.string[max(0, match.start() - 40):match.start()]
    groups = re.findall(r"\d+", found)
    digits = "".join(groups)
    n = len(digits)
    seps = set(re.findall(r"(?<=\d)[ .\-](?=\d)", found))
    plus = found.startswith("+")
    # a card: the whole run, or its first groups, 13-19 digits passing the Luhn check
    if not plus and "(" not in found and seps <= {" ", "-"} and digits[0] != "0":
        heads, length = [], 0
        for k, g in enumerate(groups[:19], start=1):
            length += len(g)
            if length > 19:
                break
            if length >= 13:
                heads.append(k)
        for k in reversed(heads):
            if luhn_valid("".join(groups[:k])):
                if k == len(groups):
                    return "[card]"
                cut = 0
                for g in groups[:k]:
                    cut = found.index(g, cut) + len(g)
                return "[card]" + found[cut:]
    if seps == {"."} and len(groups) == 4 and all(len(g) <= 3 and int(g) <= 255 for g in groups) and n >= 7:
        return "[ip address]"
    if _ID_CUE.search(before):
        return found
    if len(groups) > 1 and all(len(g) == 4 and _YEAR.fullmatch(g) for g in groups):
        return found  # 2019 2020 2021: years
    if seps == {"."} and len(groups) < 3:
        return found  # a decimal number
    international = plus or digits.startswith("00")
    if len(groups) == 1 and not plus and "(" not in found:
        # digits run together: a phone when 9-12 long (or up to 15 after 00)
        low, high = 9, (15 if digits.startswith("00") else 12)
    else:
        low, high = 9, (17 if digits.startswith("00") else 15)
    if international:
        low = 8
    if _PHONE_CUE.search(before):
        low = 7
    if low <= n <= high:
        return "[phone]"
    return found


# --------------------------------------------------------------------------- addresses
_STREET = (r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Court|Ct|Way|Place|Pl|Boulevard|Blvd"
           r"|Crescent|Cres|Terrace|Tce|Gardens|Gdns|Square|Sq|Row|Parade|Grove|Mews|Walk|Hill|Highway|Hwy"
           r"|Parkway|Pkwy|Circle|Cir|Wharf|Quay|Yard|Embankment")
_HOUSE = r"\d{1,5}[A-Za-z]?(?:[ \t]*[-–/][ \t]*\d{1,5}[A-Za-z]?)?,?"
_ADDRESS = re.compile(
    "|".join([
        # 12 Baker Street, 221B Baker St., 1600 Pennsylvania Avenue
        rf"\b{_HOUSE}[ \t]+(?:[A-Z][\w'’\-]*[ \t]+){{1,4}}(?:{_STREET})\b\.?",
        # Hauptstraße 5, Musterstr. 12a, Berliner Straße 12
        r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|allee|platz|gasse)[ \t]*\d{1,4}[a-z]?\b",
        r"\b[A-ZÄÖÜ][a-zäöüß]+[ \t]+(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse)[ \t]*\d{1,4}[a-z]?\b",
        # 12 rue de la Paix
        r"\b\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:rue|avenue|boulevard|bd|chemin|impasse|allée|place|quai)"
        r"(?:[ \t]+(?:de|du|des|la|le|l['’]|d['’]|[A-ZÀ-Þ][\w'’\-]*)){1,5}",
    ])
)
# after a cue, any case: "I live at 12 baker street"
_ADDRESS_CUED = re.compile(
    r"(\b(?i:live|living|lives|lived|moved|move|deliver|delivered|delivery|sent|send|ship|shipped|posted|post"
    r"|address)(?:[ \t]+(?i:is|at|to|was|on))*[ \t]*[:\-]?[ \t]+)"
    rf"({_HOUSE}[ \t]+(?:[\w'’\-]+[ \t]+){{0,4}}?(?i:{_STREET})\b\.?)"
)
_US_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM"
              "|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC")
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[ABD-HJLNP-UW-Z]{2}\b"
    rf"|(?<=\b(?:{_US_STATES})[ \t])\d{{5}}(?:-\d{{4}})?\b"
)

# --------------------------------------------------------------------------- names
_NAME_WORD = r"(?:[A-ZÀ-Þ]['’])?[A-ZÀ-Þ][a-zß-ÿ]+(?:[-'’]?[A-ZÀ-Þ][a-zß-ÿ]+)*"
_NAME = rf"(?:[A-Z]\.[ \t]?)?{_NAME_WORD}(?:[ \t]+(?:[A-Z]\.[ \t]?)?{_NAME_WORD}){{0,2}}"
# capitalised words that follow "I am", "spoke to", "Dear" … and are not names
_NOT_NAMES = frozenset("""
A An The This That It Its We They He She You Your Our My Me Us I Im In On At From With For To Of By And Or But
Not Very So Really Extremely Absolutely Totally Completely Utterly Deeply Highly Truly Quite Rather Pretty
Still Now Just Also Always Never Ever Currently Actually Honestly Seriously Literally Definitely Certainly
Writing Calling Contacting Trying Going Waiting Looking Unable Asking Requesting Complaining Leaving
Cancelling Canceling Moving Giving Getting Having Being Sending Hoping Expecting Following Sitting Still
Happy Sorry Disappointed Angry Furious Upset Annoyed Frustrated Done Sure Afraid Glad Pleased Satisfied
Unhappy Livid Shocked Appalled Confused Concerned Worried Tired Sick Fine Ok Okay Gutted Impressed
Amazed Delighted Grateful Thankful Loyal Able Aware Unsure Old New Young Elderly Fed Here There Back Out
Over About Due Finished Beyond Bit Little Somewhat Unfortunately Today Tomorrow Yesterday Tonight
Customer Customers Client Member Members Service Services Support Team Teams Sales Billing Help Helpdesk
Care Department Store Shop Online Web App Staff Manager Management Agent Agents Someone Anyone Nobody
Everyone Somebody Everybody Sir Madam Madame Mister All Whom Concern Friend Friends Colleague Colleagues
Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July
August September October November December English British Irish Scottish Welsh American German French
Italian Spanish Polish Indian Chinese European Retired Disabled Vegan Blind Deaf Pregnant Diabetic
Please Thanks Thank Yes No Hello Hi Hey Good Great Bad Terrible Awful Best Worst Regards Cheers Love
Live Delivery Order Orders Parcel Package Refund Payment Checkout Website Phone Email Mail Post
""".split())
_CUED = re.compile(
    r"(?P<cue>\b(?i:my[ \t]+name[ \t]+is|my[ \t]+name's|my[ \t]+name’s|name[ \t]*:|i[ \t]+am|i'm|i’m|"
    r"dear|named|spoke[ \t]+(?:to|with)|speaking[ \t]+(?:to|with)|talked[ \t]+(?:to|with)|"
    r"chatted[ \t]+(?:to|with)|dealt[ \t]+with|"
    r"(?:agent|advisor|adviser|representative|rep|operator|colleague|assistant|driver|courier|engineer|"
    r"technician|manager|supervisor|consultant)[ \t]*,?)[ \t]+)"
    rf"(?P<name>{_NAME})"
)
_TITLED = re.compile(rf"(?P<cue>\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+)(?P<name>{_NAME})")
_SIGN_OFF = re.compile(
    r"(?P<cue>(?:^|(?<=[.!?])|(?<=[.!?][ \t]))[ \t]*"
    r"(?:(?i:kind(?:est)?[ \t]+regards|best[ \t]+regards|warm(?:est)?[ \t]+regards|regards|best[ \t]+wishes|"
    r"sincerely|yours[ \t]+(?:sincerely|faithfully|truly))(?:[ \t]*[,.!\-–—]?[ \t]*\n?[ \t]*)"
    r"|(?i:many[ \t]+thanks|thanks(?:[ \t]+again)?|thank[ \t]+you|cheers|best|love|ta|bw|kr)"
    r"(?:[ \t]*[,!\-–—][ \t]*\n?[ \t]*|[ \t]*\n[ \t]*)"
    r"|[-–—~]{1,2}[ \t]*))"
    rf"(?P<name>{_NAME})(?=[ \t]*[.!]?[ \t]*(?:\n|$))",
    re.M,
)


def _name(match: re.Match) -> str:
    name = match.group("name")
    first = re.sub(r"^[A-Z]\.[ \t]?", "", name).split()[0] if name.strip() else name
    if first in _NOT_NAMES:
        return match.group(0)
    return match.group("cue") + "[name]"


# --------------------------------------------------------------------------- redact
def redact(text: Any) -> str:
    """``text`` with personal data replaced by placeholders (see the module doc for every rule):
    ``[email]``, ``[card]``, ``[iban]``, ``[bank account]``, ``[phone]``, ``[ip address]``,
    ``[address]``, ``[postcode]``, ``[name]``. None or NaN becomes ''."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    text = str(text)
    if _PRIVATE_USE.search(text):
        text = _PRIVATE_USE.sub("\ufffd", text)
    text = _EMAIL.sub(_email, text)
    text = _OBFUSCATED_EMAIL.sub("[email]", text)
    text = _WORDY_EMAIL.sub("[email]", text)
    text = _IBAN.sub(_iban, text)
    text = _SORT_AND_ACCOUNT.sub("[bank account]", text)
    text = _SORT_CUE.sub(lambda m: m.group(1) + "[bank account]", text)
    text = _ACCOUNT.sub(lambda m: m.group(1) + "[bank account]", text)
    # dates, times, money and percentages are set aside while numbers are judged
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        if len(kept) >= 6400:
            return match.group(0)
        kept.append(match.group(0))
        return chr(0xE000 + len(kept) - 1)

    text = _PROTECT.sub(keep, text)
    text = _CHAIN.sub(_number, text)
    text = _ADDRESS.sub("[address]", text)
    text = _ADDRESS_CUED.sub(lambda m: m.group(1) + "[address]", text)
    text = _POSTCODE.sub("[postcode]", text)
    text = _SIGN_OFF.sub(_name, text)
    text = _TITLED.sub(lambda m: m.group("cue") + "[name]", text)
    text = _CUED.sub(_name, text)
    if kept:
        text = _MARK.sub(lambda m: kept[ord(m.group(0)) - 0xE000], text)
    return text


def safe_text(text: Any) -> str:
    """Customer text ready for HTML: redacted, then escaped (a <script> shows as text)."""
    return html.escape(redact(text), quote=True)


# every ASCII punctuation sign may be backslash-escaped in Markdown (CommonMark), and an escaped
# one is always shown as itself: no link, image, emphasis, HTML tag, entity or autolink can start
_MARKDOWN_SIGNS = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")


def markdown_text(text: Any) -> str:
    """Text (customer text, study.yaml values) ready to go into Markdown as text: redacted, every
    Markdown and HTML sign backslash-escaped, line breaks kept as spaces, so ``[x](javascript:…)``,
    ``![](https://…)``, ``<img src=x onerror=…>`` and ``https://…`` show as written and nothing
    becomes a link, an image or a tag."""
    value = re.sub(r"[\r\n]+", " ", redact(text))
    return _MARKDOWN_SIGNS.sub(r"\\\1", value)


# --------------------------------------------------------------------------- failed stages
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAX_ERROR_CHARS = 4000


def _redact_keeping_colour(text: str) -> str:
    """Redact text that may hold terminal colour codes: the codes are kept where nothing was
    redacted, and dropped from a line that held personal data (a code can split a number)."""
    out = []
    for line in text.splitlines(keepends=True):
        plain = _ANSI.sub("", line)
        cleaned = redact(plain)
        out.append(line if cleaned == plain else cleaned)
    return "".join(out)


def redact_error(error: Any, limit: int = MAX_ERROR_CHARS) -> str:
    """The message of an error, redacted and without terminal colour codes, for run.json, the
    run index and the terminal: ``ename: evalue`` of a notebook's error (papermill's
    PapermillExecutionError), ``Type: message`` of another exception, or a message as it is.
    Longer messages are cut at ``limit`` characters."""
    if isinstance(error, BaseException):
        ename = getattr(error, "ename", None) or type(error).__name__
        evalue = getattr(error, "evalue", None)
        text = f"{ename}: {evalue if evalue is not None else error}".strip()
    else:
        text = "" if error is None else str(error)
    text = redact(_ANSI.sub("", text))
    if len(text) > limit:
        text = text[:limit] + f" … ({len(text) - limit:,} more characters)"
    return text


def _source_text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def redact_notebook(nb: Any) -> Any:
    """A copy of an executed notebook whose printed output can be shown: stdout and stderr
    streams, error names, values and tracebacks, and plain-text results redacted. HTML outputs
    (made by the notebook helpers, already redacted and escaped) and images stay."""
    nb = copy.deepcopy(nb)
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            kind = output.get("output_type")
            if kind == "stream":
                output["text"] = _redact_keeping_colour(_source_text(output.get("text", "")))
            elif kind == "error":
                output["ename"] = redact(output.get("ename", ""))
                output["evalue"] = _redact_keeping_colour(str(output.get("evalue", "")))
                output["traceback"] = [_redact_keeping_colour(str(t)) for t in output.get("traceback", [])]
            elif kind in ("execute_result", "display_data"):
                bundle = output.get("data", {})
                for mime in ("text/plain", "text/markdown"):
                    if mime in bundle:
                        bundle[mime] = redact(_source_text(bundle[mime]))
    return nb


def redact_notebook_file(path: str | Path) -> Path:
    """Redact an executed notebook file in place (``redact_notebook``), so that neither the
    .ipynb left in the run folder nor the page rendered from it holds what a failed stage
    printed unredacted."""
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nbformat.write(redact_notebook(nb), path)
    return path
