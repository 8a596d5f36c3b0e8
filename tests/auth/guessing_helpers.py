"""A clock tests move by hand, and an app whose limit on guessing reads it."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from server.auth.guessing import GuessLimiter, install_limiter, policy_from

START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def limit_with_clock(app: Flask, clock: Clock) -> GuessLimiter:
    """Give `app` a limiter on `clock`, whose set of counted keys is never read again after
    its first read (one process: its own failures keep the set right)."""
    dmip = app.extensions["dmip"]
    limiter = GuessLimiter(
        dmip.db.engine, policy_from(dmip.settings), clock=clock, monotonic=lambda: 0.0
    )
    install_limiter(app.extensions, limiter)
    return limiter


# Small numbers keep the tests short: 3 free failures per pair, a minute's wait doubling to
# 15 minutes; 10 for an account (cap a minute); 6 for an address (cap 5 minutes).
SMALL_LIMITS = {
    "guess_free_failures": 3,
    "guess_base_delay": 60,
    "guess_max_delay": 900,
    "guess_account_free_failures": 10,
    "guess_account_max_delay": 60,
    "guess_address_free_failures": 6,
    "guess_address_max_delay": 300,
}
