"""How failed sign-ins turn into waits: the policy against password guessing, with no I/O.

Every way in (HTTP Digest and Basic on the OpenRosa routes and /api/, the web sign-in form)
counts a failed attempt three times, under three keys:

- `pair`: the account typed, from one client address. After `free_failures` failures, each
  further failure doubles the wait before the next attempt from that address for that
  account (`base_delay`, then twice that, ...), up to `max_delay`. This is the limit an
  attacker at one address meets, and a correct password there during the wait is refused too
  (otherwise the wait would not limit guessing at all). A correct password outside a wait
  forgets the pair's failures.
- `account`: the account, from every address together. Much looser (more free failures, a
  cap of about a minute): it slows guessing one account from many addresses, while an attacker
  at address X never stops the account's owner at address Y for more than that mild cap.
- `address`: one client address, across every account. It slows trying many accounts from one
  address. A district office behind one NAT address shares it, so it allows many failures and
  has a cap of its own, and only failures within a pair's free allowance count towards it: a
  phone resending a forgotten password is already slowed by its pair and does not, with every
  retry, push the whole office further into back-off.

The wait before an attempt is the longest of the three. Counts start afresh once their first
failure is older than `window` and no wait is running, so a few typing mistakes a day never add
up. IPv6 addresses count by their /64 prefix: one subscriber is given a whole /64 and could
otherwise take a fresh address for every guess.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
from dataclasses import dataclass

# Long enough for any account name the database holds (users.username is 64 characters).
ACCOUNT_KEY_LENGTH = 64
ADDRESS_KEY_LENGTH = 64


class Kind(enum.StrEnum):
    pair = "pair"
    account = "account"
    address = "address"


@dataclass(frozen=True)
class Backoff:
    """How the wait grows with failures under one key."""

    free_failures: int
    base_delay: int  # seconds
    max_delay: int  # seconds

    def delay_after(self, failures: int) -> int:
        """Seconds to wait after the `failures`-th failure (0 while failures are free)."""
        extra = failures - self.free_failures
        if extra <= 0 or self.max_delay <= 0:
            return 0
        # The exponent is bounded first, so a huge count never builds a huge integer.
        return min(self.max_delay, max(1, self.base_delay) * 2 ** min(extra - 1, 40))

    def starts_backoff(self, failures: int) -> bool:
        """Whether the `failures`-th failure is the first one that costs a wait."""
        return failures == self.free_failures + 1 and self.delay_after(failures) > 0


@dataclass(frozen=True)
class GuessingPolicy:
    pair: Backoff
    account: Backoff
    address: Backoff
    window: dt.timedelta

    def backoff(self, kind: Kind) -> Backoff:
        return {Kind.pair: self.pair, Kind.account: self.account, Kind.address: self.address}[kind]

    def address_counts(self, pair_failures: int) -> bool:
        """Whether a failure that brought its pair to `pair_failures` counts for the address."""
        return pair_failures <= self.pair.free_failures


def account_key(username: str) -> str:
    """The account as counted: case and surrounding spaces do not make a new account."""
    return username.strip().lower()[:ACCOUNT_KEY_LENGTH]


def address_key(address: str) -> str:
    """The client address as counted: IPv6 by its /64 prefix, anything else as given."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text[:ADDRESS_KEY_LENGTH] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Attempt:
    """One attempt to sign in: the account typed, the client's address, and the way in."""

    account: str
    address: str
    way: str  # "digest", "basic" or "web"

    @classmethod
    def of(cls, username: str, address: str | None, way: str) -> Attempt:
        return cls(account_key(username), address_key(address or ""), way)

    def key(self, kind: Kind) -> str:
        if kind is Kind.pair:
            # A newline cannot be part of an account name or an address.
            return f"{self.account}\n{self.address}"
        return self.account if kind is Kind.account else self.address

    def keys(self) -> tuple[tuple[str, str], ...]:
        return tuple((kind.value, self.key(kind)) for kind in Kind)


def wait_text(seconds: int) -> str:
    """A wait in plain words: "30 seconds", "1 minute", "15 minutes"."""
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def limited_message(seconds: int) -> str:
    return f"Too many failed sign-ins; try again in {wait_text(seconds)}."
