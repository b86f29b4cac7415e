"""How the console shows SMS money: a price in roubles as the staff member's language writes it,
and a school's month against its budget (stats.SmsSpend) as a figure and a bar with its 80% and
100% marks. The bar is an SVG drawn by templates/_console/_sms_bar.html.j2 and coloured by
console.css (the CSP allows no inline style); the figure beside it says the same in words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from notifier.delivery.budget import ALERT_SHARE, SpendLevel
from notifier.stats import SmsSpend

# The bar, in SVG user units: its track holds 0 to 125% of the budget, so that a school a little
# over it still shows how far over, and the 80% and 100% marks stand at fixed places.
BAR_WIDTH = 300
BAR_TOP = 125  # per cent of the budget at the track's right end


def roubles(value: Decimal, locale: str) -> str:
    """'210,50 ₽' (Russian) or '210.50 ₽' (English): kopecks shown, whatever the provider's
    precision."""
    if locale.startswith("en"):  # Babel's English writes "RUB3.00"
        return f"{format_decimal(value, '#,##0.00', locale='en')}\N{NO-BREAK SPACE}₽"
    return format_currency(value, "RUB", locale="ru")


def month_name(month: str, locale: str) -> str:
    """'2026-12' → 'декабрь 2026' / 'December 2026'."""
    year, number = (int(part) for part in month.split("-"))
    lang = "en" if locale.startswith("en") else "ru"
    return format_date(date(year, number, 1), "LLLL y", locale=lang)


def _x(percent: float) -> float:
    return round(BAR_WIDTH * min(percent, BAR_TOP) / BAR_TOP, 1)


@dataclass(frozen=True)
class SpendView:
    """One school's month as a page shows it."""

    spend: SmsSpend
    month: str  # "декабрь 2026"
    cost: str | None  # "210,50 ₽"; None: no provider said a price
    percent: int | None  # of the budget, rounded down (79.9% is not yet 80%); None: no cap
    level: SpendLevel
    fill: float  # the bar's filled width (0 with no cap)
    width: int = BAR_WIDTH
    alert_x: float = _x(100 * ALERT_SHARE)
    full_x: float = _x(100)
    alert_percent: int = round(100 * ALERT_SHARE)

    @property
    def cost_partial(self) -> bool:
        """Some SMS came with no price: the cost is what the priced ones cost."""
        return self.cost is not None and self.spend.priced < self.spend.messages


def spend_view(spend: SmsSpend, locale: str) -> SpendView:
    share = spend.share
    percent = None if share is None else math.floor(100 * share)
    return SpendView(
        spend=spend,
        month=month_name(spend.month, locale),
        cost=None if spend.cost is None else roubles(spend.cost, locale),
        percent=percent,
        level=spend.level,
        fill=0.0 if share is None else _x(100 * share),
    )
