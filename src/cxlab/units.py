"""Numbers for people: what every page of a report prints a count, an amount of money, a share or
a duration with.

- a count is a whole number with thousands separators: 600.0 customers -> ``600``, 12345 ->
  ``12,345``;
- money carries the study's currency (study.yaml ``currency``, EUR unless the study says) and
  no cents from 100 on: ``€28.38``, ``€245``, ``€2,872,559``; an ISO code without a sign of its
  own follows the amount (``245 CHF``);
- a share given as a fraction is a percentage: 0.1234 -> ``12.3%``;
- a duration is shown in the unit its size calls for: 0.02 hours -> ``1.2 minutes``, 33.2 hours
  -> ``33 hours``, 130 hours -> ``5.4 days``;
- a missing value (None, NaN, NA, NaT) is ``–`` (the dash the whole report uses), never
  ``nan`` or ``None``; an infinite one is ``∞``.

Money needs the currency of the study being reported: ``use_currency`` sets it (a stage
notebook does when it opens its study, ``cxlab.notebook.open_stage``); ``fmt_money`` takes one
explicitly too.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from .study import DEFAULT_CURRENCY

__all__ = [
    "MISSING",
    "is_missing",
    "fmt_count",
    "fmt_number",
    "fmt_pct",
    "fmt_money",
    "fmt_duration",
    "currency_sign",
    "use_currency",
    "current_currency",
    "DURATION_UNITS",
]

#: what a missing value is printed as, everywhere in the report
MISSING = "–"
# an ISO code whose sign goes before the amount; any other currency is written after it as given
_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩", "ILS": "₪",
          "NGN": "₦", "TRY": "₺", "UAH": "₴", "VND": "₫", "PHP": "₱", "RUB": "₽", "BRL": "R$", "AUD": "A$",
          "CAD": "C$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "MXN": "MX$"}
_PREFIX_SIGNS = set(_SIGNS.values()) | {"$", "€", "£", "¥", "₹"}
#: seconds in each unit a duration may be given in
DURATION_UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0, "weeks": 604800.0}

_currency = DEFAULT_CURRENCY


def is_missing(value: Any) -> bool:
    """None, NaN, pandas' NA and NaT: a value the data does not have."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):  # pandas.NA refuses to be a bool
        return True


def _number(value: Any) -> float | None:
    """``value`` as a float, or None where it is missing."""
    return None if is_missing(value) else float(value)


def _trim(number: float, decimals: int) -> str:
    """``number`` with ``decimals`` decimals and thousands separators, '.0' dropped."""
    text = f"{number:,.{decimals}f}"
    return text[:-2] if decimals == 1 and text.endswith(".0") else text


def _fmt_real(value: Any, finite: Callable[[float], str]) -> str:
    """``value`` as ``finite`` writes a finite number; a missing one as ``MISSING``, an infinite
    one as '∞' or '−∞'."""
    x = _number(value)
    if x is None:
        return MISSING
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return finite(x)


def fmt_count(value: Any) -> str:
    """A count for people: 600.0 -> '600', 12345 -> '12,345' (rounded to a whole number)."""
    return _fmt_real(value, lambda x: f"{round(x):,}")


def fmt_number(value: Any, digits: int = 2) -> str:
    """A measured number with thousands separators and ``digits`` decimals: 1234.5 -> '1,234.50'."""
    return _fmt_real(value, lambda x: f"{x:,.{digits}f}")


def fmt_pct(value: Any, digits: int = 1, signed: bool = False) -> str:
    """A share given as a fraction, as a percentage: 0.1234 -> '12.3%' (``signed``: '+12.3%')."""
    x = _number(value)
    if x is None or math.isinf(x):
        return MISSING
    sign = "+" if signed else ""
    return f"{x * 100:{sign},.{digits}f}%"


def use_currency(currency: str | None) -> None:
    """Set the currency ``fmt_money`` writes when it is given none: the reported study's (None:
    the default, EUR)."""
    global _currency
    _currency = str(currency).strip() if currency else DEFAULT_CURRENCY


def current_currency() -> str:
    """The currency ``fmt_money`` writes when it is given none."""
    return _currency


def currency_sign(currency: str | None = None) -> str:
    """The sign of an ISO code ('EUR' -> '€'); a sign or an unknown code as given."""
    code = (currency or _currency).strip()
    return _SIGNS.get(code.upper(), code)


def fmt_money(value: Any, currency: str | None = None, signed: bool = False) -> str:
    """An amount of money for people, in ``currency`` (default: ``current_currency()``): cents
    below 100 only ('€28.38', '€245', '€2,872,559'); a currency without a sign of its own after
    the amount ('245 CHF'); a negative amount '−€12.50'."""
    x = _number(value)
    if x is None or math.isinf(x):
        return MISSING
    sign = currency_sign(currency)
    amount = f"{abs(x):,.2f}" if abs(round(x, 2)) < 100 else f"{round(abs(x)):,}"
    minus = "−" if x < 0 and amount.strip("0.,") else ("+" if signed else "")
    return f"{minus}{sign}{amount}" if sign in _PREFIX_SIGNS else f"{minus}{amount} {sign}"


def _plural(number: float, unit: str) -> str:
    text = _trim(number, 1 if abs(number) < 10 else 0)
    return f"{text} {unit}" if text == "1" else f"{text} {unit}s"


def fmt_duration(value: Any, unit: str = "hours") -> str:
    """A duration given in ``unit`` (seconds, minutes, hours, days or weeks), shown in the unit its
    size calls for: under a minute in seconds, under an hour in minutes, under two days in hours,
    else in days (two years and more in years). One decimal below 10: 0.02 hours -> '1.2 minutes',
    33.2 hours -> '33 hours', 130 hours -> '5.4 days', 0 -> '0 minutes'."""
    x = _number(value)
    if unit not in DURATION_UNITS:
        raise ValueError(f"unit must be one of {', '.join(DURATION_UNITS)} (got {unit!r})")
    if x is None:
        return MISSING
    if math.isinf(x):
        return "∞"
    seconds = abs(x) * DURATION_UNITS[unit]
    minus = "−" if x < 0 else ""
    if seconds == 0:
        return "0 minutes"
    if seconds < 60:
        return minus + _plural(seconds, "second")
    if seconds < 3600:
        return minus + _plural(seconds / 60, "minute")
    if seconds < 2 * 86400:
        return minus + _plural(seconds / 3600, "hour")
    if seconds < 730 * 86400:
        return minus + _plural(seconds / 86400, "day")
    return minus + _plural(seconds / (365.25 * 86400), "year")
