"""Write uganda.csv (country, regions and districts) from ISO 3166-2:UG as pycountry ships it.

Run once when pycountry's data changes: `python forms/orgunits/generate_uganda.py`. The CSV is
committed so the hierarchy a server loads does not move when a dependency is upgraded.

Districts lose their " District" suffix (the level says so already); Kampala, a city in ISO
3166-2, is a district here, which is how the Ugandan local-government structure treats it.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pycountry

HERE = Path(__file__).resolve().parent


def uganda_rows() -> list[dict[str, str]]:
    subdivisions = list(pycountry.subdivisions.get(country_code="UG"))
    rows = [{"code": "UG", "name": "Uganda", "level": "country", "parent_code": ""}]
    regions = sorted(
        (s for s in subdivisions if s.type == "Geographical region"), key=lambda s: s.code
    )
    rows += [
        {"code": s.code, "name": s.name, "level": "region", "parent_code": "UG"} for s in regions
    ]
    districts = sorted(
        (s for s in subdivisions if s.type in {"District", "City"}), key=lambda s: s.code
    )
    for s in districts:
        name = s.name.removesuffix(" District")
        rows.append(
            {"code": s.code, "name": name, "level": "district", "parent_code": s.parent_code}
        )
    return rows


def main() -> None:
    target = HERE / "uganda.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=["code", "name", "level", "parent_code"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(uganda_rows())
    sys.stdout.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
