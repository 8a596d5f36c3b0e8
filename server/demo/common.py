"""What every form's demo answers draw on: the demo's districts and places, its people (names,
phone numbers) and GPS points, its visits (when an instance was filled, and the meta Collect
adds), and the seeded noise around a share. Pure: a random generator in, values out.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

DEMO_USERNAME = "demo-enumerator"
DEMO_DEVICE = "collect:dmip-demo"
DEMO_SUFFIX = " (demo)"
# Uganda (EAT) does not observe daylight saving: one offset all year.
_EAT = dt.timezone(dt.timedelta(hours=3))


@dataclass(frozen=True)
class DemoSubcounty:
    code: str
    parishes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoDistrict:
    code: str
    region: str
    subcounties: tuple[DemoSubcounty, ...]


_FIRST = [
    "Grace", "Peter", "Sarah", "Joseph", "Agnes", "Moses", "Florence", "Isaac", "Harriet",
    "Samuel", "Esther", "Denis", "Prossy", "Richard", "Christine", "Emmanuel", "Annet", "Robert",
]  # fmt: skip
_LAST = [
    "Namubiru", "Okello", "Akello", "Tumusiime", "Nakato", "Mugisha", "Atim", "Ssekandi",
    "Cheptoek", "Opio", "Kyomuhendo", "Wanyama", "Nabirye", "Ochieng", "Byaruhanga", "Adong",
]  # fmt: skip
PLACE_NAMES = [
    "Kisaga", "Bukoto", "Nakaseke", "Kabale", "Lwamata", "Mpigi", "Bweyale", "Nyimbwa",
    "Rwebisengo", "Atopi", "Oguti", "Lokopo", "Mabira", "Kigoma", "Bulenga", "Katete",
]  # fmt: skip


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def phone(rng: random.Random) -> str:
    return f"07{rng.choice('0578')}{rng.randrange(10**7):07d}"


def gps_point(rng: random.Random, district: str) -> str:
    """A point near the district's (made-up but fixed) centre, inside Uganda's bounding box."""
    centre = random.Random(f"gps:{district}")
    lat = centre.uniform(-1.2, 3.8) + rng.uniform(-0.15, 0.15)
    lon = centre.uniform(29.8, 34.8) + rng.uniform(-0.15, 0.15)
    return f"{lat:.5f} {lon:.5f} {rng.uniform(900, 1500):.1f} {rng.uniform(3, 9):.1f}"


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def noisy_share(rng: random.Random, total: int, fraction: float) -> int:
    """round(total * fraction) with a little noise, kept within 0..total."""
    return int(clamp(round(total * clamp(rng.gauss(fraction, 0.04), 0, 1)), 0, total))


def day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


@dataclass(frozen=True)
class Visit:
    """Where and when an instance was filled, and the meta values Collect adds."""

    day: dt.date
    start_minute: int
    minutes: int

    def meta(self) -> dict[str, Any]:
        start = dt.datetime.combine(self.day, dt.time(8), _EAT) + dt.timedelta(
            minutes=self.start_minute
        )
        end = start + dt.timedelta(minutes=self.minutes)
        return {
            "start": start.isoformat(timespec="milliseconds"),
            "end": end.isoformat(timespec="milliseconds"),
            "today": self.day.isoformat(),
            "deviceid": DEMO_DEVICE,
            "username": DEMO_USERNAME,
        }


def plan_visit(rng: random.Random, first: dt.date, last: dt.date, minutes: int) -> Visit:
    return Visit(day_between(rng, first, last), rng.randrange(0, 8 * 60), minutes)


def respondent(rng: random.Random, title: str) -> dict[str, Any]:
    return {
        "respondent_name": person_name(rng),
        "respondent_title": title,
        # About a third decline to give a number; the question is optional.
        "respondent_phone": phone(rng) if rng.random() < 0.7 else None,
    }


@dataclass(frozen=True)
class Place:
    district: DemoDistrict
    perf: float  # 0 (far from every standard) .. 1 (meets most)
    subcounty: DemoSubcounty | None = None
