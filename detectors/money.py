"""Money inside the detectors: integer minor units (1/100) of one reference currency.

Integers make sums exact and independent of the order events arrive in. Each payment is converted
once, at routing, with the configured rate; alerts convert back to the account's main currency and
round to cents, which is exact enough for an analyst (the rates themselves are approximations).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from detectors.config_types import StrictModel
from schemas import PaymentStatus
from schemas.events import Method

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
MINOR_PER_MAJOR = 100


class MoneyConfig(StrictModel):
    """Reference currency, conversion rates and which payment statuses count as money moved."""

    reference_currency: CurrencyCode
    #: Units of the reference currency for one unit of each currency. Payments in a currency missing
    #: here carry amount 0: money rules ignore them, counterparty and device rules still see them.
    rates: dict[CurrencyCode, Annotated[float, Field(gt=0, le=1e6)]]
    counted_statuses: Annotated[list[PaymentStatus], Field(min_length=1)]
    #: Methods that are trade with a merchant (a card purchase, a shop's card takings), not money
    #: passed between people: fan-in/out, pass-through and similar amounts leave them out, and their
    #: counterparties are not remembered as senders or beneficiaries. Volume and control rules see them.
    sale_methods: list[Method]

    @model_validator(mode="after")
    def _reference_has_rate_one(self) -> MoneyConfig:
        if self.rates.get(self.reference_currency) != 1.0:
            raise ValueError(f"rates.{self.reference_currency} must be 1.0 (it is the reference currency)")
        return self


class Money:
    """Conversions between payment amounts, comparable minor units and display text.

    A payment in a currency with a configured rate is valued in minor units of the reference
    currency, so such payments compare across currencies. One in a currency without a rate is never
    counted as zero: it keeps its own minor units and is marked unvalued, so that an account whose
    payments are all in that currency (a feed in a currency the config does not know) is judged on
    its own amounts, and one in another currency is left out of that account's sums, and counted.
    """

    __slots__ = ("reference", "rates")

    def __init__(self, config: MoneyConfig) -> None:
        self.reference = config.reference_currency
        self.rates = dict(config.rates)

    def to_minor(self, amount: Decimal, currency: str) -> tuple[int, bool]:
        """(minor units, valued): reference minor units with a rate, else the currency's own."""
        rate = self.rates.get(currency)
        if rate is None:
            return round(float(amount) * MINOR_PER_MAJOR), False
        return round(float(amount) * rate * MINOR_PER_MAJOR), True

    def valued(self, currency: str | None) -> bool:
        """Whether the config has a rate for ``currency`` (an account without payments counts as valued)."""
        return currency is None or currency in self.rates

    @staticmethod
    def threshold(major: float) -> int:
        """A configured reference-currency amount in minor units."""
        return round(major * MINOR_PER_MAJOR)

    def convert(self, minor: int, currency: str | None) -> float:
        """Comparable minor units as major units of ``currency``: converted from the reference with a
        rate, as they are without one (they are then that currency's own units)."""
        rate = self.rates.get(currency or self.reference, 1.0)
        return minor / MINOR_PER_MAJOR / rate

    def decimal(self, minor: int, currency: str | None) -> Decimal:
        return Decimal(f"{self.convert(minor, currency):.2f}")

    def describe(self, minor: int, currency: str | None) -> str:
        """'48,300 CNY': whole units with thousands separators, for alert reasons."""
        code = currency or self.reference
        return f"{self.convert(minor, code):,.0f} {code}"
