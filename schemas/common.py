"""Field types shared by the event and alert models.

Identifiers are restricted to printable ASCII so that look-alike unicode, control characters and
zero-width tricks are rejected at the edge instead of splitting one account into several keys.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from datetime import datetime, timezone

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

#: Account, customer, device, phone and event ids: opaque, printable ASCII, bounded length.
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@+=/#-]+$")]

#: ISO 4217 alphabetic currency code.
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

#: ISO 3166-1 alpha-2 country code.
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]

#: A money amount: exact decimal, strictly positive, finite, at most 4 decimals and 10**15.
Amount = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1e15"), max_digits=20, decimal_places=4, allow_inf_nan=False),
]

EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_EVENT_TIME = datetime(2100, 1, 1, tzinfo=timezone.utc)


def _within_plausible_range(value: datetime) -> datetime:
    """Reject far-past and far-future times: one such event would age out every real entry."""
    if not EARLIEST_EVENT_TIME <= value < LATEST_EVENT_TIME:
        raise ValueError(f"event time {value.isoformat()} is outside 1970-01-01..2100-01-01")
    return value


#: Event time: must carry a timezone, naive timestamps are ambiguous across a bank's regions.
EventTime = Annotated[AwareDatetime, AfterValidator(_within_plausible_range)]


class Contract(BaseModel):
    """Base of every contract model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
