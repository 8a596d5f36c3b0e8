"""A hand-computed fixture district: every number of its draft DMIP checked against arithmetic
written out here."""

from __future__ import annotations

from fractions import Fraction

import pytest

from server.domain.catalog import MANAGEMENT_FUNCTIONS
from server.domain.drafting import draft_dmip
from server.domain.drafting.facts import (
    Completeness,
    DataQualityFlag,
    DistrictFacts,
    DistrictProfile,
    IndicatorInfo,
    IndicatorValue,
    StaffingLine,
    SubCounty,
)
from server.domain.drafting.interventions import Library, load_library
from server.domain.drafting.sections import Ref, Section, Table
from tests.paths import ROOT

LIBRARY = ROOT / "forms" / "interventions.yaml"
D, S1, S2, S3 = "UG-901", "UG-901-S01", "UG-901-S02", "UG-901-S03"
CYCLE = "2026/27"

INFOS = {
    i.id: i
    for i in (
        IndicatorInfo(
            "pupil_teacher_ratio",
            "Pupils per teacher on the payroll",
            "education",
            "ratio",
            "dmip_school",
            "lower_is_better",
            53.0,
            "MoES",
        ),
        IndicatorInfo(
            "pupil_classroom_ratio",
            "Pupils per classroom in use",
            "education",
            "ratio",
            "dmip_school",
            "lower_is_better",
            None,
            "No national figure",
        ),
        IndicatorInfo(
            "teacher_presence",
            "Teachers present at an unannounced visit",
            "education",
            "percent",
            "dmip_school",
            "higher_is_better",
            None,
            "None",
        ),
        IndicatorInfo(
            "health_staffing_level",
            "Approved health posts filled",
            "health",
            "percent",
            "dmip_health_facility",
            "higher_is_better",
            80.0,
            "MoH",
        ),
        IndicatorInfo(
            "penta3_coverage",
            "Penta 3 (DPT3) coverage",
            "health",
            "percent",
            "dmip_health_facility",
            "higher_is_better",
            80.0,
            "UNEPI",
        ),
        IndicatorInfo(
            "capacity_financial_management",
            "Capacity score: financial management and accountability",
            "management",
            "percent",
            "dmip_management_capacity",
            "higher_is_better",
            None,
            "None",
            dmip_section="management_capacity",
            function="financial_management",
        ),
        IndicatorInfo(
            "capacity_planning_budgeting",
            "Capacity score: planning and budgeting",
            "management",
            "percent",
            "dmip_management_capacity",
            "higher_is_better",
            None,
            "None",
            dmip_section="management_capacity",
            function="planning_budgeting",
        ),
        IndicatorInfo(
            "capacity_procurement",
            "Capacity score: procurement",
            "management",
            "percent",
            "dmip_management_capacity",
            "higher_is_better",
            None,
            "None",
            dmip_section="management_capacity",
            function="procurement",
        ),
    )
}


def v(
    ind: str,
    unit: str,
    num: float,
    den: float,
    n: int,
    subs: int | None = None,
    value: float | None = None,
) -> IndicatorValue:
    ratio = num / den
    scale = 100 if INFOS[ind].unit == "percent" else 1
    return IndicatorValue(
        ind,
        unit,
        value if value is not None else ratio * scale,
        n,
        subs if subs is not None else n,
        num,
        den,
    )


def fixture_facts(**changes: object) -> DistrictFacts:
    values = (
        # Pupils per teacher: 3180/50 = 63.6, 2120/40 = 53.0, 1590/25 = 63.6; district
        # 6890/115 = 59.913...
        v("pupil_teacher_ratio", S1, 3180, 50, 6),
        v("pupil_teacher_ratio", S2, 2120, 40, 4),
        v("pupil_teacher_ratio", S3, 1590, 25, 3),
        v("pupil_teacher_ratio", D, 6890, 115, 13),
        v("teacher_presence", D, 85, 115, 13),
        # Health posts filled: 30/50 = 60%, 36/40 = 90%, 12/30 = 40%; district 78/120 = 65%.
        v("health_staffing_level", S1, 30, 50, 2),
        v("health_staffing_level", S2, 36, 40, 2),
        v("health_staffing_level", S3, 12, 30, 1),
        v("health_staffing_level", D, 78, 120, 5),
        # Penta 3: 900/1000 = 90%, 500/800 = 62.5%, 300/600 = 50%; district 1700/2400.
        v("penta3_coverage", S1, 900, 1000, 2),
        v("penta3_coverage", S2, 500, 800, 2, 3),
        v("penta3_coverage", S3, 300, 600, 1),
        v("penta3_coverage", D, 1700, 2400, 5, 6),
        # Capacity scores (mean of per-assessment scores): HQ 4/9, Bukiro 3/9, Kanyinya 6/9;
        # district (all three) (4 + 3 + 6) / 27.
        v("capacity_financial_management", S1, 3, 9, 1),
        v("capacity_financial_management", S2, 6, 9, 1),
        v("capacity_financial_management", D, 13, 27, 3),
        v("capacity_planning_budgeting", S1, 8, 9, 1),
        v("capacity_planning_budgeting", S2, 7, 9, 1),
        v("capacity_planning_budgeting", D, 22, 27, 3),
    )
    facts = DistrictFacts(
        district_code=D,
        district_name="Nyakabale",
        cycle=CYCLE,
        sub_counties=(
            SubCounty(S1, "Bukiro", 24_000),
            SubCounty(S2, "Kanyinya", 18_500),
            SubCounty(S3, "Rwemiyaga", 12_300),
        ),
        indicators=INFOS,
        values=values,
        population=54_800,
        profile=DistrictProfile(
            population_total=54_800,
            population_year=2024,
            facilities={"hospital": 0, "hc_iv": 1, "hc_iii": 3, "hc_ii": 7},
            schools={"primary_gov": 13, "primary_private": 4},
            staffing=(StaffingLine("health", 120, 78), StaffingLine("education", 130, 115)),
            budget_ugx={
                "central": 21_500_000_000,
                "local_revenue": 640_000_000,
                "donor": 1_860_000_000,
            },
        ),
        hq_values=(
            v("capacity_financial_management", D, 4, 9, 1),
            v("capacity_planning_budgeting", D, 7, 9, 1),
        ),
        workshop_ranking={"education": 1, "health": 2, "financial_management": 3},
        completeness=(
            Completeness("dmip_school", S1, received=6, expected=6),
            Completeness("dmip_school", S2, received=4, expected=5, failed=1),
            Completeness("dmip_school", S3, received=3, expected=None),
        ),
        data_quality_flags=(DataQualityFlag("edited", S2, "1 school return replaced by an edit"),),
        form_titles={
            "dmip_school": "Primary school assessment",
            "dmip_health_facility": "Health facility assessment",
            "dmip_management_capacity": "Management capacity assessment",
        },
    )
    if changes:
        from dataclasses import replace

        facts = replace(facts, **changes)  # type: ignore[arg-type]
    return facts


# The catalog's indicator ids that the shipped library refers to (the fixture district has
# values for only some of them).
LIBRARY_IDS = set(INFOS) | {
    "pupil_stance_ratio",
    "pupils_per_desk",
    "school_smc_functional",
    "hc_iv_staffing_vs_norm",
    "hmis_timeliness",
    "art_linkage",
}


def fixture_library() -> Library:
    return load_library(LIBRARY, LIBRARY_IDS, MANAGEMENT_FUNCTIONS)


def fixture_draft() -> list[Section]:
    return draft_dmip(fixture_facts(), fixture_library())[0]


def cells(table: Table) -> list[list[str]]:
    return [[c.text for c in row] for row in table.rows]


@pytest.fixture(scope="module")
def sections() -> dict[str, Section]:
    return {s.key: s for s in fixture_draft()}


def paragraphs(section: Section) -> list[str]:
    return [p.text for p in section.paragraphs]


def table(section: Section, title: str) -> list[list[str]]:
    return cells(next(t for t in section.tables if t.title == title))


# Hand arithmetic used below.
# Pupils per teacher: district 6890 / 115 = 59.913; gap 59.913 - 53 = 6.913; relative
#   6.913 / 53 = 0.1304 (low). Short: Bukiro 63.6 and Rwemiyaga 63.6 (Kanyinya 53.0 meets it).
# Health posts filled: 78 / 120 = 65%; gap 15 points; relative 15 / 80 = 0.1875 (low).
#   Short: Bukiro 60%, Rwemiyaga 40%.
# Penta 3: 1700 / 2400 = 70.83%; gap 9.17 points; relative 0.1146 (low). Short: Kanyinya
#   62.5%, Rwemiyaga 50%.
# Financial management: district (4 + 3 + 6) / 27 = 48.148%; benchmark 2/3 = 66.667%; gap
#   18.52 points; relative 0.2778 (medium). Short: Bukiro 33.3% (Kanyinya 6/9 meets 2/3).
# Reach: Bukiro + Rwemiyaga = 24,000 + 12,300 = 36,300; Kanyinya + Rwemiyaga = 30,800.


def test_profile_names_sub_counties_and_adds_up(sections: dict[str, Section]) -> None:
    s = sections["profile"]
    assert paragraphs(s) == [
        "Nyakabale District has a population of 54,800 (2024) living in 3 sub-counties: "
        "Bukiro, Kanyinya and Rwemiyaga.",
        "The district budget for 2026/27 is UGX 24,000,000,000.",
    ]
    assert table(s, "Sub-counties") == [
        ["Bukiro", S1, "24,000"],
        ["Kanyinya", S2, "18,500"],
        ["Rwemiyaga", S3, "12,300"],
    ]
    assert table(s, "Health facilities and schools") == [
        ["General hospitals", "0"],
        ["Health centres IV", "1"],
        ["Health centres III", "3"],
        ["Health centres II", "7"],
        ["Government primary schools", "13"],
        ["Private primary schools", "4"],
    ]
    # 78/120 = 65.0%; 115/130 = 88.46%; (78 + 115) / (120 + 130) = 193/250 = 77.2%.
    assert table(s, "Staffing by department") == [
        ["Health", "120", "78", "65.0%"],
        ["Education", "130", "115", "88.5%"],
        ["Total", "250", "193", "77.2%"],
    ]
    # 21.5 bn / 24 bn = 89.58%; 0.64 / 24 = 2.67%; 1.86 / 24 = 7.75% -> 7.8% (half up).
    assert table(s, "Budget by source") == [
        ["Central government transfers", "21,500,000,000", "89.6%"],
        ["Local revenue", "640,000,000", "2.7%"],
        ["Development partners", "1,860,000,000", "7.8%"],
        ["Total", "24,000,000,000", "100.0%"],
    ]


def test_management_capacity_names_the_weakest_function(sections: dict[str, Section]) -> None:
    s = sections["management_capacity"]
    assert paragraphs(s)[1:] == [
        "The weakest function is financial management and accountability (48.1%).",
        "Not enough data for procurement: no score was submitted.",
    ]
    assert "The benchmark is 66.7%" in paragraphs(s)[0]
    # HQ 4/9 = 44.4%, Bukiro 3/9 = 33.3%, Kanyinya 6/9 = 66.7%; district 13/27 = 48.1%.
    # Planning: HQ 7/9 = 77.8%, Bukiro 8/9 = 88.9%, Kanyinya 7/9 = 77.8%; 22/27 = 81.5%.
    nd = "not enough data"
    assert table(s, "Management capacity scores (% of maximum)") == [
        ["Financial management and accountability", "44.4%", "33.3%", "66.7%", nd, "48.1%"],
        ["Planning and budgeting", "77.8%", "88.9%", "77.8%", nd, "81.5%"],
        ["Procurement", nd, nd, nd, nd, nd],
    ]
    chart = s.charts[0]
    assert chart.categories == ("Financial management and accountability", "Planning and budgeting")
    assert chart.reference_line == pytest.approx(200 / 3, abs=1e-6)


def test_service_delivery_by_sector(sections: dict[str, Section]) -> None:
    s = sections["service_delivery"]
    assert paragraphs(s) == [
        "Health: 2 of 2 indicators have data. Approved health posts filled: 65.0% against a "
        "standard of 80.0%; Bukiro and Rwemiyaga fall short. Penta 3 (DPT3) coverage: 70.8% "
        "against a standard of 80.0%; Kanyinya and Rwemiyaga fall short.",
        "Education: 2 of 3 indicators have data. Pupils per teacher on the payroll: 59.9 "
        "against a standard of 53.0; Bukiro and Rwemiyaga fall short. Teachers present at an "
        "unannounced visit: 73.9% (no national standard is configured).",
    ]
    nd = "not enough data"
    assert table(s, "Health") == [
        ["Approved health posts filled", "80.0%", "65.0%", "60.0%", "90.0%", "40.0%", "5"],
        ["Penta 3 (DPT3) coverage", "80.0%", "70.8%", "90.0%", "62.5%", "50.0%", "5"],
    ]
    # 85/115 = 73.91% present.
    assert table(s, "Education") == [
        ["Pupils per teacher on the payroll", "53.0", "59.9", "63.6", "53.0", "63.6", "13"],
        ["Pupils per classroom in use", "none configured", nd, nd, nd, nd, "0"],
        ["Teachers present at an unannounced visit", "none configured", "73.9%", nd, nd, nd, "13"],
    ]


def test_gap_analysis_ranks_by_relative_gap(sections: dict[str, Section]) -> None:
    s = sections["gap_analysis"]
    assert table(s, "Service delivery gaps") == [
        [
            "1",
            "Approved health posts filled",
            "65.0%",
            "80.0%",
            "15.0 points",
            "18.8%",
            "low",
            "Bukiro and Rwemiyaga",
        ],
        [
            "2",
            "Pupils per teacher on the payroll",
            "59.9",
            "53.0",
            "6.9",
            "13.0%",
            "low",
            "Bukiro and Rwemiyaga",
        ],
        [
            "3",
            "Penta 3 (DPT3) coverage",
            "70.8%",
            "80.0%",
            "9.2 points",
            "11.5%",
            "low",
            "Kanyinya and Rwemiyaga",
        ],
    ]
    assert table(s, "Management capacity gaps (against the benchmark)") == [
        [
            "1",
            "Financial management and accountability",
            "48.1%",
            "66.7%",
            "18.5 points",
            "27.8%",
            "medium",
            "Bukiro",
        ],
        ["2", "Planning and budgeting", "81.5%", "66.7%", "0.0 points", "0.0%", "none", "none"],
    ]
    assert paragraphs(s)[1:] == [
        "No national standard is configured for teachers present at an unannounced visit, "
        "so no gap is measured for it.",
    ]
    relative = s.charts[0].series[0].values
    assert relative == pytest.approx((18.75, 6.913043478 / 53 * 100, 9.1666667 / 80 * 100))


def test_priorities_combine_severity_workshop_and_reach() -> None:
    _, analysis = draft_dmip(fixture_facts(), fixture_library())
    # score = severity points + workshop points + 2 x reach / 54,800
    expected = [
        ("pupil_teacher_ratio", 1 + 3 + Fraction(2 * 36_300, 54_800)),  # 5.32
        ("health_staffing_level", 1 + 2 + Fraction(2 * 36_300, 54_800)),  # 4.32
        ("penta3_coverage", 1 + 2 + Fraction(2 * 30_800, 54_800)),  # 4.12
        ("financial_management", 2 + 1 + Fraction(2 * 24_000, 54_800)),  # 3.88
    ]
    assert [(p.gap.key, p.score) for p in analysis.priorities] == expected


def test_priorities_section_sizes_each_intervention(sections: dict[str, Section]) -> None:
    s = sections["priorities"]
    rows = table(s, "Ranked priorities")
    assert [r[:6] for r in rows] == [
        ["1", "Pupils per teacher on the payroll", "low", "1", "36,300", "5.32"],
        ["2", "Approved health posts filled", "low", "2", "36,300", "4.32"],
        ["3", "Penta 3 (DPT3) coverage", "low", "2", "30,800", "4.12"],
        ["4", "Financial management and accountability", "medium", "3", "24,000", "3.88"],
    ]
    # Teachers: Bukiro 3180/53 - 50 = 10, Rwemiyaga 1590/53 - 25 = 5.
    # Health workers: Bukiro 50 x 0.8 - 30 = 10, Rwemiyaga 30 x 0.8 - 12 = 12.
    # Outreach: Kanyinya (800 x 0.8 - 500) / 40 = 3.5 -> 4; Rwemiyaga (480 - 300) / 40 = 4.5
    #   -> 5. Mentoring: the headquarters (44.4%) and Bukiro (33.3%) are below 66.7%.
    assert paragraphs(s)[1:] == [
        "1. Pupils per teacher on the payroll (low gap; short in Bukiro and Rwemiyaga). "
        "Recruit primary teachers to the standard pupil-teacher ratio: 15 teachers in Bukiro "
        "(10) and Rwemiyaga (5); responsible: District Education Officer.",
        "2. Approved health posts filled (low gap; short in Bukiro and Rwemiyaga). Recruit "
        "health workers to fill approved posts: 22 health workers in Bukiro (10) and "
        "Rwemiyaga (12); responsible: District Health Officer.",
        "3. Penta 3 (DPT3) coverage (low gap; short in Kanyinya and Rwemiyaga). Run "
        "immunisation outreach sessions for children missed: 9 outreach sessions in Kanyinya "
        "(4) and Rwemiyaga (5); responsible: District Health Officer.",
        "4. Financial management and accountability (medium gap; short in Bukiro). Train "
        "finance staff on reporting, audit follow-up and internal controls: 2 offices in the "
        "district headquarters (1) and Bukiro (1); responsible: Chief Finance Officer.",
    ]


def test_results_framework_targets(sections: dict[str, Section]) -> None:
    # Phasing 40/30/30 by largest remainder: teachers 15 -> 6, 5, 4 (6, 4.5, 4.5; the tie
    # goes to the earlier year); health workers 22 -> 9, 7, 6 (8.8, 6.6, 6.6); sessions
    # 9 -> 3, 3, 3 (3.6, 2.7, 2.7). Targets: baseline + (standard - baseline) x funded/needed.
    # Teachers: 59.913 - 6.913 x 6/15 = 57.148; x 11/15 -> 54.843; x 15/15 -> 53.
    # Health: 65 + 15 x 9/22 = 71.14; 16/22 -> 75.91; 80. Penta: 70.83 + 9.17 x 3/9 = 73.89;
    # 6/9 -> 76.94; 80. Financial management: both offices in year 1 -> 66.7 from year 1.
    assert table(sections["results_framework"], "Baseline and targets") == [
        ["Pupils per teacher on the payroll", "59.9", "57.1", "54.8", "53.0", "53.0"],
        ["Approved health posts filled", "65.0%", "71.1%", "75.9%", "80.0%", "80.0%"],
        ["Penta 3 (DPT3) coverage", "70.8%", "73.9%", "76.9%", "80.0%", "80.0%"],
        ["Financial management and accountability", "48.1%", "66.7%", "66.7%", "66.7%", "66.7%"],
    ]
    columns = sections["results_framework"].tables[0].columns
    assert columns[2:5] == ("FY2026/27", "FY2027/28", "FY2028/29")


def test_costed_action_plan_reconciles_to_the_shilling(sections: dict[str, Section]) -> None:
    s = sections["action_plan"]
    # Teachers (recurrent, UGX 5,664,948 a year): in post 6, 11, 15 -> 33,989,688;
    #   62,314,428; 84,974,220; total 181,278,336.
    # Health workers (recurrent, 7,356,000): 9, 16, 22 -> 66,204,000; 117,696,000;
    #   161,832,000; total 345,732,000.
    # Outreach (250,000): 3 a year -> 750,000 each year; 2,250,000.
    # Mentoring (3,500,000): 2 in year 1 -> 7,000,000.
    # Years: 107,943,688 + 180,760,428 + 247,556,220 = 536,260,336.
    assert table(s, "Action plan") == [
        [
            "Recruit primary teachers to the standard pupil-teacher ratio",
            "teacher",
            "6",
            "5",
            "4",
            "5,664,948",
            "33,989,688",
            "62,314,428",
            "84,974,220",
            "181,278,336",
            "District Education Officer",
        ],
        [
            "Recruit health workers to fill approved posts",
            "health worker",
            "9",
            "7",
            "6",
            "7,356,000",
            "66,204,000",
            "117,696,000",
            "161,832,000",
            "345,732,000",
            "District Health Officer",
        ],
        [
            "Run immunisation outreach sessions for children missed",
            "outreach session",
            "3",
            "3",
            "3",
            "250,000",
            "750,000",
            "750,000",
            "750,000",
            "2,250,000",
            "District Health Officer",
        ],
        [
            "Train finance staff on reporting, audit follow-up and internal controls",
            "office",
            "2",
            "0",
            "0",
            "3,500,000",
            "7,000,000",
            "0",
            "0",
            "7,000,000",
            "Chief Finance Officer",
        ],
        [
            "Total",
            "",
            "",
            "",
            "",
            "",
            "107,943,688",
            "180,760,428",
            "247,556,220",
            "536,260,336",
            "",
        ],
    ]
    # Sources: salaries 100% central; outreach 30/10/60 of 750,000 = 225,000 / 75,000 /
    # 450,000; mentoring 50/50 of 7,000,000. Central year 1: 33,989,688 + 66,204,000 +
    # 225,000 + 3,500,000 = 103,918,688.
    assert table(s, "Financing by source (UGX)") == [
        [
            "Central government transfers",
            "103,918,688",
            "180,235,428",
            "247,031,220",
            "531,185,336",
        ],
        ["Local revenue", "3,575,000", "75,000", "75,000", "3,725,000"],
        ["Development partners", "450,000", "450,000", "450,000", "1,350,000"],
        ["Total", "107,943,688", "180,760,428", "247,556,220", "536,260,336"],
    ]
    assert paragraphs(s)[0] == (
        "The plan costs UGX 536,260,336 over three years: UGX 107,943,688 in FY2026/27, "
        "UGX 180,760,428 in FY2027/28 and UGX 247,556,220 in FY2028/29."
    )
    chart = s.charts[0]
    assert chart.stacked and chart.categories == ("FY2026/27", "FY2027/28", "FY2028/29")
    assert chart.series[0].values == pytest.approx((103.918688, 180.235428, 247.031220))
    assert table(s, "Unit costs and their sources")[2][2].startswith("Assumed:")


def test_me_plan(sections: dict[str, Section]) -> None:
    assert table(sections["me_plan"], "Indicators, sources and responsibilities") == [
        [
            "Pupils per teacher on the payroll",
            "59.9",
            "53.0",
            "Primary school assessment",
            "Once a year, at the school visit of each cycle",
            "District Education Officer",
        ],
        [
            "Approved health posts filled",
            "65.0%",
            "80.0%",
            "Health facility assessment",
            "Once a year, at the facility visit; HMIS figures monthly",
            "District Health Officer",
        ],
        [
            "Penta 3 (DPT3) coverage",
            "70.8%",
            "80.0%",
            "Health facility assessment",
            "Once a year, at the facility visit; HMIS figures monthly",
            "District Health Officer",
        ],
        [
            "Capacity score: financial management and accountability",
            "48.1%",
            "66.7%",
            "Management capacity assessment",
            "Once a year, district headquarters and each sub-county",
            "Chief Finance Officer",
        ],
    ]


def test_data_quality_annex(sections: dict[str, Section]) -> None:
    s = sections["data_quality"]
    assert paragraphs(s) == [
        "1 return is below the expected number of submissions. 1 submission could not be "
        "processed and is left out of every figure.",
    ]
    assert table(s, "Completeness by form and sub-county") == [
        ["Primary school assessment", "Bukiro", "6", "6", "100.0%", "0"],
        ["Primary school assessment", "Kanyinya", "4", "5", "80.0%", "1"],
        ["Primary school assessment", "Rwemiyaga", "3", "not set", "not set", "0"],
    ]
    # Three sub-counties: the modified z-score needs a spread; 63.6, 53.0, 63.6 have a MAD of
    # 0, so no outlier; only the reported flag is listed.
    assert table(s, "Data-quality flags") == [
        ["edited", "Kanyinya", "1 school return replaced by an edit"],
    ]


def test_every_number_carries_a_reference(sections: dict[str, Section]) -> None:
    numbers = 0
    for s in sections.values():
        for t in s.tables:
            for row in t.rows:
                for c in row:
                    if c.kind in ("text", "missing"):
                        continue
                    numbers += 1
                    assert c.ref is not None, (s.key, t.title, c.text)
                    assert c.ref.cycle == CYCLE
                    assert c.ref.org_unit in {D, S1, S2, S3}
                    assert c.ref.indicator_id or c.ref.fact, (s.key, t.title, c.text)
    assert numbers > 150


def test_references_lead_to_the_aggregates_behind_a_number(
    sections: dict[str, Section],
) -> None:
    gaps = sections["gap_analysis"].tables[0]
    assert gaps.rows[1][2].ref == Ref(D, CYCLE, "pupil_teacher_ratio", submissions=13)
    plan = sections["action_plan"].tables[0]
    teachers_y1 = plan.rows[0][6].ref
    assert teachers_y1 is not None and teachers_y1.fact == "cost.recruit_primary_teachers.year1"
    quantity, unit_cost = teachers_y1.derived_from
    assert unit_cost.fact == "library.recruit_primary_teachers.unit_cost_ugx"
    # The quantity comes from the two sub-counties short of the standard, 6 + 3 submissions.
    assert [(r.org_unit, r.indicator_id) for r in quantity.derived_from] == [
        (S1, "pupil_teacher_ratio"),
        (S3, "pupil_teacher_ratio"),
    ]
    assert quantity.submissions == 9
    hq = sections["management_capacity"].tables[0].rows[0][1].ref
    assert hq is not None and hq.fact == "hq_assessment" and hq.org_unit == D
