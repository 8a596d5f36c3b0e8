"""GuessLimiter against the database directly: several processes sharing one count, the
embedded SQLite, and the policy's arithmetic."""

from __future__ import annotations

import datetime as dt

from server.auth.guessing import GuessLimiter
from server.db import Database
from server.domain.guessing import Attempt, Backoff, GuessingPolicy, address_key, wait_text
from tests.auth.guessing_helpers import START

POLICY = GuessingPolicy(
    pair=Backoff(3, 60, 900),
    account=Backoff(10, 60, 60),
    address=Backoff(6, 60, 300),
    window=dt.timedelta(hours=24),
)
ANN = Attempt.of("Ann", "10.0.0.1", "basic")


class Ticks:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


def test_backoff_doubles_from_the_base_to_the_cap() -> None:
    backoff = Backoff(free_failures=5, base_delay=1, max_delay=900)
    assert [backoff.delay_after(n) for n in (1, 5, 6, 7, 8, 15, 16, 10**9)] == [
        0, 0, 1, 2, 4, 512, 900, 900,
    ]  # fmt: skip
    assert backoff.starts_backoff(6) and not backoff.starts_backoff(7)
    assert Backoff(5, 1, 0).delay_after(100) == 0


def test_addresses_are_counted_by_their_network_for_ipv6() -> None:
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2:ffff::1")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("") == "unknown"
    assert wait_text(1) == "1 second" and wait_text(61) == "2 minutes"


def test_another_process_sees_a_backoff_within_its_refresh(database: Database) -> None:
    ticks_a, ticks_b = Ticks(), Ticks()
    a = GuessLimiter(database.engine, POLICY, refresh=1.0, monotonic=ticks_a)
    b = GuessLimiter(database.engine, POLICY, refresh=1.0, monotonic=ticks_b)
    assert b.check(ANN, START).wait == 0  # b reads the (empty) set of counted keys
    for _ in range(3):
        assert a.failed(ANN, START) == 0
    assert a.failed(ANN, START) == 60
    assert a.check(ANN, START).wait == 60
    # b's set was read before any count: for up to `refresh` it does not look.
    assert b.check(ANN, START).wait == 0
    ticks_b.value = 1.0
    assert b.check(ANN, START).wait == 60
    # From then on it reads the rows of a counted key, so it sees the wait end and restart.
    later = START + dt.timedelta(seconds=60)
    assert b.check(ANN, later).wait == 0
    assert a.failed(ANN, later) == 120
    assert b.check(ANN, later).wait == 120


def test_counts_start_afresh_after_the_window(database: Database) -> None:
    limiter = GuessLimiter(database.engine, POLICY)
    for _ in range(4):
        limiter.failed(ANN, START)
    next_day = START + dt.timedelta(hours=24, seconds=1)
    assert limiter.check(ANN, next_day).wait == 0
    assert limiter.failed(ANN, next_day) == 0  # the first failure of a new count is free


def test_a_success_forgets_only_its_pair(database: Database) -> None:
    limiter = GuessLimiter(database.engine, POLICY)
    elsewhere = Attempt.of("ann", "10.0.0.2", "digest")
    for _ in range(3):
        limiter.failed(ANN, START)
        limiter.failed(elsewhere, START)
    check = limiter.check(ANN, START)
    assert check.pair_counted
    limiter.succeeded(ANN, check)
    assert limiter.failed(ANN, START) == 0  # free again here
    assert limiter.failed(elsewhere, START) == 60  # not there


def test_refusals_during_a_wait_do_not_extend_it(database: Database) -> None:
    limiter = GuessLimiter(database.engine, POLICY)
    for _ in range(4):
        limiter.failed(ANN, START)
    for second in range(20):
        assert limiter.check(ANN, START + dt.timedelta(seconds=second)).wait == 60 - second
