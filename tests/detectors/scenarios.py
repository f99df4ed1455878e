"""Whole stories, mule and legitimate, as event lists (shared by the rule, typology and property tests)."""

from __future__ import annotations

from detector_events import OTHER_BANK, at, change, login, opened, pay, pay_in, pay_out


def ordinary_history(account: str, customer: str, *, days: int = 120, salary: int = 9000, prefix: str = "") -> list:
    """An established account: opened long ago, monthly salary, regular small spending."""
    p = prefix or account
    events = [opened(f"{p}-open", at(days=-days - 200), account, customer)]
    for month in range(days // 30):
        day = -days + month * 30
        events.append(pay_in(f"{p}-sal{month}", at(days=day), account, "EMPLOYER-CO", salary))
        for k in range(6):
            events.append(pay_out(f"{p}-spend{month}-{k}", at(days=day + 2 + 4 * k), account, f"SHOP{k}", 300 + 40 * k))
    return events


def collection_mule(account: str = "M1", customer: str = "CM1", *, victims: int = 7, amount: int = 6900,
                    start_day: float = 0, prefix: str = "") -> list:
    """Fan-in from new senders, then almost everything leaves within the hour."""
    p = prefix or account
    events = ordinary_history(account, customer, prefix=p)
    for i in range(victims):
        events.append(pay_in(f"{p}-v{i}", at(days=start_day, minutes=20 * i), account, f"{p}-VICTIM{i}", amount))
    total = victims * amount
    t_end = 20 * victims
    events.append(pay_out(f"{p}-x1", at(days=start_day, minutes=t_end + 10), account, "GANG-A", round(total * 0.5)))
    events.append(pay_out(f"{p}-x2", at(days=start_day, minutes=t_end + 25), account, "GANG-B", round(total * 0.42)))
    return events


__all__ = ["OTHER_BANK", "at", "change", "collection_mule", "login", "opened", "ordinary_history", "pay", "pay_in", "pay_out"]
