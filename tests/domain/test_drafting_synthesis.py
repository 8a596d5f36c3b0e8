"""The cross-district synthesis on two fixture districts with hand-computed totals."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from server.domain.drafting import analyse
from server.domain.drafting.facts import DistrictFacts, Milestone
from server.domain.drafting.sections import Section
from server.domain.drafting.synthesis import synthesis
from tests.domain.test_drafting_district import fixture_facts, fixture_library


def two_districts() -> list[Section]:
    library = fixture_library()
    a = replace(
        fixture_facts(),
        milestones=(
            Milestone("inception", "done", dt.date(2026, 7, 15), dt.date(2026, 7, 22)),
            Milestone("data_collection", "done", dt.date(2026, 8, 31), dt.date(2026, 9, 18)),
            Milestone("analysis", "delayed", dt.date(2026, 9, 30)),
        ),
    )
    # District B: the same data without the health facility returns or a headquarters score.
    b_values = tuple(
        replace(v, org_unit=v.org_unit.replace("UG-901", "UG-902"))
        for v in a.values
        if not v.indicator_id.startswith(("health_", "penta3"))
    )
    b: DistrictFacts = replace(
        a,
        district_code="UG-902",
        district_name="Rukungiri Hills",
        sub_counties=tuple(
            replace(sc, code=sc.code.replace("UG-901", "UG-902")) for sc in a.sub_counties
        ),
        values=b_values,
        hq_values=(),
        milestones=(
            Milestone("inception", "done", dt.date(2026, 7, 15), dt.date(2026, 7, 16)),
            Milestone("data_collection", "done", dt.date(2026, 8, 31), dt.date(2026, 8, 30)),
            Milestone("analysis", "delayed", dt.date(2026, 9, 30)),
        ),
    )
    return synthesis([(a, analyse(a, library)), (b, analyse(b, library))], library)


def rows(section: Section, index: int = 0) -> list[list[str]]:
    return [[c.text for c in row] for row in section.tables[index].rows]


def test_synthesis_across_two_districts() -> None:
    overview, gaps, priorities, costs, process = two_districts()
    assert overview.paragraphs[0].text == (
        "This synthesis covers 2 districts (Nyakabale and Rukungiri Hills) for the planning "
        "cycle 2026/27."
    )
    # Both districts: pupils per teacher (relative 0.1304) and financial management (B's
    # district score is the same 48.1%: its roll-up is kept, only the HQ value is dropped).
    assert rows(gaps) == [
        [
            "Financial management and accountability",
            "2",
            "Nyakabale and Rukungiri Hills",
            "27.8%",
            "medium",
        ],
        ["Pupils per teacher on the payroll", "2", "Nyakabale and Rukungiri Hills", "13.0%", "low"],
        ["Approved health posts filled", "1", "Nyakabale", "18.8%", "low"],
        ["Penta 3 (DPT3) coverage", "1", "Nyakabale", "11.5%", "low"],
    ]
    assert rows(priorities) == [
        [
            "Nyakabale",
            "Pupils per teacher on the payroll",
            "Approved health posts filled",
            "Penta 3 (DPT3) coverage",
        ],
        [
            "Rukungiri Hills",
            "Pupils per teacher on the payroll",
            "Financial management and accountability",
            "none",
        ],
    ]
    # A: 536,260,336 (the fixture's plan: 107,943,688 / 180,760,428 / 247,556,220).
    # B: teachers 33,989,688 / 62,314,428 / 84,974,220 plus mentoring of Bukiro only (no HQ
    # value) 3,500,000 in year 1 = 184,778,336. Years: 107,943,688 + 37,489,688 =
    # 145,433,376; 180,760,428 + 62,314,428 = 243,074,856; 247,556,220 + 84,974,220 =
    # 332,530,440; together 721,038,672.
    assert rows(costs)[-1] == ["Total", "145,433,376", "243,074,856", "332,530,440", "721,038,672"]
    assert rows(costs)[1] == [
        "Rukungiri Hills",
        "37,489,688",
        "62,314,428",
        "84,974,220",
        "184,778,336",
    ]
    assert costs.paragraphs[0].text == (
        "Together the plans cost UGX 721,038,672 over three years (UGX 721.0 million)."
    )
    assert rows(costs, 1)[-1] == ["Total", "721,038,672"]
    # Delays: inception 7 and 1 days -> median 4; data collection 18 and -1 -> 8.5 -> "9"
    # (half up); analysis delayed in both districts.
    assert rows(process) == [
        ["Inception", "2", "0", "4"],
        ["Data collection", "2", "0", "9"],
        ["Analysis", "0", "2", "not enough data"],
        ["Validation workshop", "0", "0", "not enough data"],
        ["Drafting", "0", "0", "not enough data"],
        ["Council approval", "0", "0", "not enough data"],
    ]
    assert process.paragraphs[0].text == (
        "The process stalls most at analysis: 2 districts are delayed there."
    )


def test_synthesis_of_nothing_says_so() -> None:
    (only,) = synthesis([], fixture_library())
    assert only.paragraphs[0].text == "Not enough data: no district has a draft DMIP yet."
