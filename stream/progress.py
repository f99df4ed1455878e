"""A progress bar for long commands: events, events/s and alerts on a terminal, silent otherwise.

The bar goes to stderr and appears only when both stdout and stderr are terminals, so piped or
redirected output (and CI logs) never fill with carriage returns.
"""

from __future__ import annotations

import sys


def interactive() -> bool:
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a stream replaced by None, or closed
        return False


class Progress:
    """Counts events and alerts; shows a tqdm bar only on a terminal. Use as a context manager."""

    def __init__(self, desc: str, enabled: bool | None = None) -> None:
        self.events = 0
        self.alerts = 0
        self._bar = None
        if interactive() if enabled is None else enabled:
            from tqdm import tqdm

            self._bar = tqdm(desc=desc, unit="ev", unit_scale=True, file=sys.stderr, mininterval=0.5)
        self._shown_alerts = 0

    def update(self, events: int, alerts: int = 0) -> None:
        self.events += events
        self.alerts += alerts
        if self._bar is not None:
            if self.alerts != self._shown_alerts:
                self._shown_alerts = self.alerts
                self._bar.set_postfix(alerts=self.alerts, refresh=False)
            self._bar.update(events)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
