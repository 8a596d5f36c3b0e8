"""The answers of the demo data set, form by form: what a plausible district, sub-county,
health facility, school, community, priority workshop and planning process look like
(server/demo/dataset.py writes them out as instances), from the places, people and
visits of server/demo/common.py. Pure and seeded: a random generator in, answers out.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from server.demo.common import (
    DEMO_SUFFIX,
    PLACE_NAMES,
    Place,
    clamp,
    gps_point,
    noisy_share,
    person_name,
    respondent,
)

# --- the seven forms --------------------------------------------------------------------------


def district_profile(rng: random.Random, place: Place, cycle: str) -> dict[str, Any]:
    d, perf = place.district, place.perf
    n_sc = len(d.subcounties)
    n_parish = sum(len(s.parishes) for s in d.subcounties)
    population = rng.randrange(25_000, 60_000) * max(n_sc, 1)
    departments = [
        ("administration", 40), ("finance", 18), ("planning", 6), ("audit", 5),
        ("health", 35 * max(n_sc, 1)), ("education", 60 * max(n_sc, 1)), ("works", 25),
        ("natural_resources", 14), ("community", 12), ("production", 30), ("trade", 6),
        ("statutory", 10),
    ]  # fmt: skip
    staffing = []
    for dept, approved in departments:
        approved = min(5000, int(approved * rng.uniform(0.85, 1.15)))
        staffing.append(
            {
                "department": dept,
                "approved_posts": approved,
                "filled_posts": noisy_share(rng, approved, 0.45 + 0.45 * perf),
            }
        )
    central = rng.randrange(18, 60) * 1_000_000_000
    local = int(central * clamp(rng.gauss(0.015 + 0.06 * perf, 0.005), 0.005, 0.2))
    return {
        "population_total": population,
        "population_year": int(cycle[:4]) - 1,
        "households": int(population / rng.uniform(4.4, 5.1)),
        "subcounties_count": max(n_sc, 1),
        "parishes_count": n_parish,
        "villages_count": n_parish * rng.randrange(6, 11),
        "hospitals": rng.randrange(0, 2),
        "hc_iv": rng.randrange(1, 3),
        "hc_iii": n_sc + rng.randrange(0, 3),
        "hc_ii": n_sc * rng.randrange(2, 4),
        "primary_gov": n_sc * rng.randrange(6, 10),
        "primary_private": n_sc * rng.randrange(2, 6),
        "secondary_gov": rng.randrange(3, 12),
        "staffing": staffing,
        "budget_central_ugx": float(central),
        "budget_local_revenue_ugx": float(local),
        "budget_donor_ugx": float(rng.randrange(5, 40) * 100_000_000),
        "budget_other_ugx": float(rng.randrange(0, 10) * 50_000_000),
        **respondent(rng, "District Planner"),
    }


# Management functions (prefix, criteria) as in forms/src/build_forms.py, with how much weaker
# than its overall level a typical LG is in each: revenue and M&E lag, governance leads.
FUNCTIONS = [
    ("pb", ("plan", "budget", "conference"), 0.10),
    ("fm", ("reports", "audit", "findings"), 0.0),
    ("hr", ("posts", "appraisal", "payroll"), -0.10),
    ("pr", ("plan", "committee", "contracts"), 0.05),
    ("me", ("plan", "reports", "use"), -0.20),
    ("pc", ("mapping", "meetings", "integration"), -0.10),
    ("gv", ("council", "oversight", "citizens"), 0.15),
    ("lr", ("register", "collection", "sharing"), -0.25),
    ("sv", ("plan", "visits", "followup"), -0.05),
]
_DOCUMENTS = ["council minute", "quarterly report", "file register", "work plan", "audit report"]


def management_capacity(rng: random.Random, place: Place, day: dt.date) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "level_assessed": "subcounty" if place.subcounty else "district_hq",
        "assessment_date": day.isoformat(),
        "assessors": f"{person_name(rng)} (district planner); {person_name(rng)} (CAO office)",
    }
    if place.subcounty:
        answers["subcounty"] = place.subcounty.code
    for prefix, criteria, offset in FUNCTIONS:
        for short in criteria:
            name = f"{prefix}_{short}"
            score = int(clamp(round(rng.gauss(3 * (place.perf + offset), 0.7)), 0, 3))
            answers[name] = str(score)
            if score >= 1:
                seen = day - dt.timedelta(days=rng.randrange(20, 200))
                answers[f"{name}_evidence"] = (
                    f"{rng.choice(_DOCUMENTS)} seen, dated {seen.isoformat()}, "
                    f"page {rng.randrange(1, 40)}"
                )
    return answers


_LEVEL_NAMES = {
    "hc_ii": "Health Centre II",
    "hc_iii": "Health Centre III",
    "hc_iv": "Health Centre IV",
    "hospital": "Hospital",
}
_LEVELS = {
    # level: (approved posts, catchment population range)
    "hc_ii": (9, (4_000, 12_000)),
    "hc_iii": (19, (18_000, 35_000)),
    "hc_iv": (48, (70_000, 130_000)),
    "hospital": (185, (250_000, 500_000)),
}


def health_facility(
    rng: random.Random, place: Place, level: str, parish: str | None
) -> dict[str, Any]:
    perf = place.perf
    approved, (low, high) = _LEVELS[level]
    approved = max(1, int(approved * rng.uniform(0.9, 1.1)))
    filled = noisy_share(rng, approved, 0.35 + 0.7 * perf)
    catchment = rng.randrange(low, high)
    services = ["anc", "immunisation", "hiv_testing"]
    if level != "hc_ii":
        services[1:1] = ["deliveries"]
        services += ["art", "pmtct"]
    elif rng.random() < 0.4:
        services.append("pmtct")
    quarter_births = max(1, round(catchment * 0.05 / 4))
    anc1 = max(1, round(quarter_births * rng.uniform(0.75, 1.05)))
    hiv_tests = round(catchment * 0.02 * (0.5 + perf) * rng.uniform(0.8, 1.2))
    positive = round(hiv_tests * rng.uniform(0.015, 0.05))
    answers: dict[str, Any] = {
        "parish": parish,
        "facility_name": f"{rng.choice(PLACE_NAMES)} {_LEVEL_NAMES[level]}{DEMO_SUFFIX}",
        "facility_level": level,
        "ownership": rng.choices(["government", "pnfp", "pfp"], [8, 3, 1])[0],
        "gps": gps_point(rng, place.district.code),
        "approved_posts": approved,
        "filled_posts": filled,
        "staff_present": noisy_share(rng, filled, 0.55 + 0.35 * perf),
        "tracer_checked": 41,
        "tracer_in_stock": noisy_share(rng, 41, 0.45 + 0.5 * perf),
        "services": services,
        "catchment_population": catchment,
        "anc1_visits": anc1,
        "anc4_visits": noisy_share(rng, anc1, 0.3 + 0.35 * perf),
        "penta3_target": max(1, round(catchment * 0.043 / 4)),
        "hiv_tests": hiv_tests,
        "hiv_positive": positive,
        "art_active": round(catchment * rng.uniform(0.005, 0.015)),
        "hmis_reports_due": 3,
        "hmis_reports_on_time": sum(rng.random() < 0.45 + 0.5 * perf for _ in range(3)),
    }
    answers["penta3_doses"] = round(
        answers["penta3_target"] * clamp(rng.gauss(0.6 + 0.4 * perf, 0.06), 0.2, 1.15)
    )
    if "deliveries" in services:
        answers["expected_deliveries"] = quarter_births
        answers["deliveries"] = noisy_share(rng, quarter_births, 0.25 + 0.6 * perf)
    if "art" in services:
        answers["art_initiated"] = noisy_share(rng, positive, 0.68 + 0.34 * perf)
    if "pmtct" in services:
        answers["anc_hiv_tested"] = noisy_share(rng, anc1, 0.75 + 0.24 * perf)
    if "art" not in services:
        answers.pop("art_active")
    water = (
        "none"
        if rng.random() < 0.35 * (1 - perf)
        else rng.choice(["piped", "borehole", "rainwater", "protected_spring"])
    )
    answers["water_source"] = water
    if water != "none":
        answers["water_functional"] = "yes" if rng.random() < 0.5 + 0.45 * perf else "no"
    power = (
        "none" if rng.random() < 0.4 * (1 - perf) else rng.choice(["grid", "solar", "generator"])
    )
    answers["power_source"] = power
    if power != "none":
        answers["power_functional"] = "yes" if rng.random() < 0.45 + 0.5 * perf else "no"
    answers.update(respondent(rng, rng.choice(["In-charge", "Clinical Officer", "Senior Nurse"])))
    return answers


_CLASS_SHARE = [0.2, 0.17, 0.15, 0.14, 0.13, 0.11, 0.10]  # P1 to P7: pupils drop out as they go


def school(rng: random.Random, place: Place, parish: str | None) -> dict[str, Any]:
    perf = place.perf
    pupils_target = rng.randrange(350, 1300)
    answers: dict[str, Any] = {
        "parish": parish,
        "school_name": f"{rng.choice(PLACE_NAMES)} Primary School{DEMO_SUFFIX}",
        "emis_number": f"{rng.randrange(10**6, 10**7)}",
        "school_ownership": rng.choices(
            ["government", "government_aided", "private", "community"], [10, 3, 2, 1]
        )[0],
        "gps": gps_point(rng, place.district.code),
    }
    pupils = 0
    for n, share in enumerate(_CLASS_SHARE, start=1):
        boys = int(clamp(pupils_target * share / 2 * rng.uniform(0.9, 1.1), 0, 1000))
        girls = int(clamp(boys * rng.uniform(0.94, 1.1), 0, 1000))
        answers[f"p{n}_boys"], answers[f"p{n}_girls"] = boys, girls
        pupils += boys + girls
    # Pupils per teacher, per classroom, per stance, per desk: near the standard (53, 40 and 4)
    # in a strong district, far beyond it in a weak one.
    payroll = max(2, round(pupils / clamp(rng.gauss(95 - 55 * perf, 6), 30, 140)))
    classrooms = max(2, round(pupils / clamp(rng.gauss(115 - 65 * perf, 8), 35, 180)))
    stances = max(2, round(pupils / clamp(rng.gauss(95 - 62 * perf, 6), 25, 160)))
    temporary = noisy_share(rng, classrooms, 0.35 * (1 - perf))
    candidates = min(1000, round((answers["p7_boys"] + answers["p7_girls"]) * rng.uniform(0.85, 1)))
    answers.update(
        {
            "teachers_payroll": min(payroll, 200),
            "teachers_present": noisy_share(rng, min(payroll, 200), 0.6 + 0.35 * perf),
            "classrooms_permanent": min(100, classrooms - temporary),
            "classrooms_temporary": temporary,
            "stances_boys": min(200, stances // 2),
            "stances_girls": min(200, stances - stances // 2),
            "desks": min(2000, round(pupils / clamp(rng.gauss(7 - 3.5 * perf, 0.4), 2.5, 10))),
            "water_at_school": "yes" if rng.random() < 0.3 + 0.6 * perf else "no",
            "ple_candidates": candidates,
        }
    )
    if candidates > 0:
        absent = noisy_share(rng, candidates, 0.02)
        passed = noisy_share(rng, candidates - absent, 0.6 + 0.35 * perf)
        div1 = noisy_share(rng, passed, 0.08 + 0.15 * perf)
        div2 = noisy_share(rng, passed - div1, 0.45)
        div3 = noisy_share(rng, passed - div1 - div2, 0.55)
        answers.update(
            ple_div1=div1,
            ple_div2=div2,
            ple_div3=div3,
            ple_div4=passed - div1 - div2 - div3,
            ple_div_u=candidates - absent - passed,
            ple_absent=absent,
        )
    smc = rng.random() < 0.6 + 0.45 * perf
    answers["smc_exists"] = "yes" if smc else "no"
    if smc:
        answers.update(
            smc_meetings=rng.randrange(1, 7), smc_women=rng.randrange(2, 7), smc_minutes_photo=None
        )
    answers.update(respondent(rng, rng.choice(["Head teacher", "Deputy head teacher"])))
    return answers


_OVC_SERVICES = ["education", "health", "food", "psychosocial", "protection", "economic"]


def ovc_community(rng: random.Random, place: Place) -> dict[str, Any]:
    perf = place.perf
    estimated = rng.randrange(2_500, 7_500)
    identified = noisy_share(rng, estimated, 0.35 + 0.55 * perf)
    served = noisy_share(rng, identified, 0.35 + 0.6 * perf)
    approved = rng.randrange(2, 5)
    reported = rng.randrange(15, 130)
    parishes = len(place.subcounty.parishes) if place.subcounty else 0
    answers: dict[str, Any] = {
        "ovc_estimated": estimated,
        "ovc_identified": identified,
        "ovc_served": served,
        "cdo_posts_approved": approved,
        "cdo_posts_filled": noisy_share(rng, approved, 0.3 + 0.65 * perf),
        "cp_cases_reported": reported,
        "cp_cases_resolved": noisy_share(rng, reported, 0.35 + 0.55 * perf),
        "cp_cases_referred": noisy_share(rng, reported, 0.15),
        "ovc_committee": "yes" if rng.random() < 0.4 + 0.55 * perf else "no",
        "parish_cp_committees": noisy_share(rng, parishes, 0.3 + 0.6 * perf),
        "para_social_workers": rng.randrange(4, 45),
        "community_groups": rng.randrange(20, 160),
        **respondent(rng, "Community Development Officer"),
    }
    if served > 0:
        answers["ovc_services"] = sorted(
            rng.sample(_OVC_SERVICES, rng.randrange(2, 6)), key=_OVC_SERVICES.index
        )
    return answers


_PRIORITIES = {
    "health": [
        ("HC IIIs short of midwives; deliveries below target", "Recruit and house midwives"),
        ("Tracer medicines out of stock in the last quarter", "Quarterly stock reviews"),
    ],
    "hiv": [("Newly diagnosed clients not linked to ART", "Peer linkage facilitators")],
    "education": [
        ("Pupil-classroom ratio far above the norm", "Build 2-classroom blocks"),
        ("Teachers absent at unannounced visits", "Monthly head teacher attendance checks"),
    ],
    "ovc": [("Identified OVC not reached with services", "Parish para-social worker network")],
    "wash": [("Schools with too few latrine stances", "Build 5-stance latrine blocks")],
    "management": [
        ("Local revenue far below budget", "Update the taxpayer register"),
        ("Internal audit reports late", "Quarterly audit calendar"),
    ],
}
_PARTNERS = [
    ("UgIFT (Ministry of Finance)", "government"),
    ("USAID SDS programme", "donor"),
    ("UNICEF Uganda", "donor"),
    ("World Vision Uganda", "ngo"),
    ("Community Health Initiative", "cbo"),
    ("MTN Foundation", "private"),
]


def priority_workshop(rng: random.Random, place: Place, day: dt.date, cycle: str) -> dict[str, Any]:
    total = rng.randrange(40, 130)
    priorities = []
    for sector, options in _PRIORITIES.items():
        for rank, (gap, intervention) in enumerate(
            rng.sample(options, rng.randrange(1, len(options) + 1)), start=1
        ):
            priorities.append(
                {
                    "priority_sector": sector,
                    "priority_rank": rank,
                    "priority_gap": gap,
                    "priority_intervention": intervention,
                    "priority_votes": rng.randrange(5, total) if rng.random() < 0.8 else None,
                }
            )
    start_year = int(cycle[:4])
    commitments = [
        {
            "partner_name": partner,
            "partner_type": kind,
            "commitment_sector": rng.choice(list(_PRIORITIES)),
            "commitment_ugx": float(rng.randrange(2, 80) * 10_000_000),
            "commitment_fy": f"{start_year + k}/{(start_year + k + 1) % 100:02d}",
        }
        for k, (partner, kind) in enumerate(rng.sample(_PARTNERS, rng.randrange(1, 5)))
        if start_year + k <= 2029
    ]
    return {
        "workshop_date": day.isoformat(),
        "participants_total": total,
        "participants_women": noisy_share(rng, total, 0.38),
        "priority": priorities,
        "commitment": commitments,
    }


_STAGES = ["inception", "data_collection", "analysis", "validation", "drafting", "council_approval"]
_DELAYS = [
    "Two sub-counties re-surveyed after incomplete school returns.",
    "Funds for the validation workshop released late.",
    "District planner on leave; acting officer appointed.",
    "Council sitting postponed.",
]


def process_milestones(
    rng: random.Random, place: Place, first: dt.date, day: dt.date
) -> dict[str, Any]:
    # A strong district is further through the six stages when the record is made.
    done = int(clamp(round(rng.gauss(1.5 + 4.5 * place.perf, 0.6)), 0, 6))
    answers: dict[str, Any] = {}
    planned = first + dt.timedelta(days=14)
    for index, stage in enumerate(_STAGES):
        planned += dt.timedelta(days=rng.randrange(25, 50))
        answers[f"{stage}_planned"] = planned.isoformat()
        if index < done:
            actual = min(day, planned + dt.timedelta(days=rng.randrange(-5, 30)))
            answers[f"{stage}_status"] = "done"
            answers[f"{stage}_actual"] = actual.isoformat()
        elif index == done and planned < day:
            answers[f"{stage}_status"] = "delayed"
            answers[f"{stage}_issues"] = rng.choice(_DELAYS)
        elif index == done:
            answers[f"{stage}_status"] = "in_progress"
        else:
            answers[f"{stage}_status"] = "not_started"
    if done == 6:
        answers["council_minute_photo"] = None
    return answers
