"""The world around the simulated bank: other banks, merchants, payees, countries, IP addresses.

Counterparties outside the bank carry a ``bank_id``; the bank's own accounts never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from stream.backtest.simulation.emit import party

#: Countries people travel to on holiday or business.
TRAVEL_COUNTRIES = ("FR", "ES", "IT", "GB", "US", "TR", "TH", "GR", "PT", "AT", "NL", "JP", "HR", "CH")
#: Countries scam compounds and remote account operators are often reported in.
OPERATOR_COUNTRIES = ("KH", "MM", "LA", "PH", "AE", "VN", "TH", "NG")

_IP_FIRST_OCTET = {
    "FR": 90, "ES": 83, "IT": 79, "GB": 86, "US": 73, "TR": 88, "TH": 110, "GR": 94, "PT": 95, "AT": 62,
    "NL": 145, "JP": 126, "HR": 93, "CH": 178, "KH": 103, "MM": 116, "LA": 115, "PH": 112, "AE": 94,
    "VN": 113, "NG": 105,
}


@dataclass
class World:
    country: str
    currency: str
    domestic_banks: tuple[str, ...] = tuple(f"BK{n:02d}" for n in range(1, 16))
    merchants: list[dict] = field(default_factory=list)
    foreign_merchants: dict[str, list[dict]] = field(default_factory=dict)
    utilities: list[dict] = field(default_factory=list)
    atms: list[dict] = field(default_factory=list)
    own_merchants: list[dict] = field(default_factory=list)
    #: (service, monthly price): streaming, phone plans, gyms, insurance; everyone on a plan pays its price
    subscriptions: list[tuple[dict, float]] = field(default_factory=list)
    brokers: tuple[str, ...] = ("BRK1", "BRK2", "BRK3")

    @classmethod
    def build(cls, rng: Random, country: str, currency: str) -> "World":
        world = cls(country=country, currency=currency)
        acquirers = ("ACQ1", "ACQ2", "ACQ3")
        world.merchants = [party(f"M{n:05d}", acquirers[n % 3], None, country) for n in range(3000)]
        for c in TRAVEL_COUNTRIES:
            world.foreign_merchants[c] = [party(f"FM{c}{n:03d}", f"FACQ{c}", None, c) for n in range(120)]
        world.utilities = [party(f"U{n:03d}", rng.choice(world.domestic_banks), None, country) for n in range(40)]
        world.atms = [party(f"ATM{n:04d}", "CASH", None, country) for n in range(400)]
        prices = (4.99, 7.99, 9.99, 12.99, 13.99, 17.99, 19.99, 24.90, 29.90, 39.90, 49.00)
        world.subscriptions = [(party(f"S{n:03d}", acquirers[n % 3], None, country), rng.choice(prices)) for n in range(60)]
        return world

    def bank(self, rng: Random) -> str:
        return self.domestic_banks[int(rng.random() * len(self.domestic_banks))]

    def external(self, rng: Random, prefix: str = "X", country: str | None = None) -> dict:
        """A fresh account at another domestic bank (practically never seen before).

        ``prefix`` only documents the role at the call site: every external person's id looks alike,
        so an id never gives away whether it is a victim, a parent or a landlord.
        """
        return party(f"X{rng.getrandbits(44):011x}", self.bank(rng), None, country)

    def handle(self, rng: Random) -> int:
        """A compact stand-in for an external account a customer keeps (an int, not a dict)."""
        return rng.getrandbits(44)

    def cp(self, who: int | dict) -> dict:
        """The party of a counterparty kept as a handle (int) or as an own account's party (dict)."""
        if type(who) is int:
            return {"account_id": f"X{who:011x}", "bank_id": self.domestic_banks[who % len(self.domestic_banks)]}
        return who

    def home_ip(self, rng: Random) -> str:
        return f"{rng.choice((84, 87, 91, 217))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def ip_in(self, rng: Random, country: str) -> str:
        if country == self.country:
            return self.home_ip(rng)
        first = _IP_FIRST_OCTET.get(country, 41)
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
