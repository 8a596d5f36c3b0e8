"""Builds the seven DMIP assessment XLSForms (forms/*.xlsx) from the definitions below.

The .xlsx files are what admins edit and what is published; this script is how they were laid
out consistently (same meta block, same location questions, same cycle question, same column
set). tests/domain/test_forms_build.py fails when a committed .xlsx no longer matches what this
script produces, so edit here and run `python forms/src/build_forms.py`, or edit the .xlsx and
port the change back.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook

FORMS_DIR = Path(__file__).resolve().parent.parent
LANG = "English (en)"
VERSION = "2026112801"

SURVEY_COLUMNS = [
    "type",
    "name",
    f"label::{LANG}",
    f"hint::{LANG}",
    "required",
    "relevant",
    "constraint",
    f"constraint_message::{LANG}",
    "choice_filter",
    "appearance",
    "calculation",
    "parameters",
    "default",
]
CHOICE_COLUMNS = ["list_name", "name", f"label::{LANG}"]
SETTINGS_COLUMNS = ["form_title", "form_id", "version", "instance_name", "default_language"]

# Evidence photos are downscaled on the phone: documents stay legible at 1024 px and uploads
# stay small on slow mobile data.
PHOTO = {"parameters": "max-pixels=1024"}

Row = dict[str, Any]


def q(type_: str, name: str, label: str = "", **extra: Any) -> Row:
    row: Row = {"type": type_, "name": name}
    if label:
        row[f"label::{LANG}"] = label
    for key, value in extra.items():
        column = {
            "hint": f"hint::{LANG}",
            "message": f"constraint_message::{LANG}",
        }.get(key, key)
        row[column] = value
    return row


def count(name: str, label: str, hint: str = "", maximum: int = 100000, **extra: Any) -> Row:
    """A required whole number between 0 and a plausible maximum."""
    extra.setdefault("required", "yes")
    return q(
        "integer",
        name,
        label,
        hint=hint,
        constraint=extra.pop("constraint", f". >= 0 and . <= {maximum}"),
        message=extra.pop("message", f"Enter a whole number from 0 to {maximum}."),
        **extra,
    )


def money(name: str, label: str, maximum: int, **extra: Any) -> Row:
    """An amount in UGX. Decimal, not integer: district budgets run into billions, beyond what
    an XForms int (and Collect's integer widget) holds."""
    extra.setdefault("required", "yes")
    return q(
        "decimal",
        name,
        label,
        constraint=extra.pop("constraint", f". >= 0 and . <= {maximum}"),
        message=extra.pop("message", "Enter an amount in UGX, 0 or more."),
        **extra,
    )


def group(name: str, label: str, rows: Iterable[Row], **extra: Any) -> list[Row]:
    return [
        q("begin_group", name, label, appearance="field-list", **extra),
        *rows,
        {"type": "end_group", "name": name},
    ]


def repeat(name: str, label: str, rows: Iterable[Row], **extra: Any) -> list[Row]:
    return [q("begin_repeat", name, label, **extra), *rows, {"type": "end_repeat", "name": name}]


def photo(name: str, label: str, **extra: Any) -> Row:
    return q("image", name, label, **PHOTO, **extra)


META = [
    q("start", "start"),
    q("end", "end"),
    q("today", "today"),
    q("deviceid", "deviceid"),
    q("username", "username"),
]

CYCLE = q(
    "select_one fy",
    "cycle",
    "Planning cycle (financial year the DMIP starts)",
    hint="Local government financial years run 1 July to 30 June.",
    required="yes",
)


def location(levels: str, subcounty_relevant: str = "", parish_required: bool = True) -> list[Row]:
    """The top-level location questions the server reads (forms/README.md)."""
    rows = [
        q("select_one_from_file regions.csv", "region", "Region", required="yes"),
        q(
            "select_one_from_file districts.csv",
            "district",
            "District",
            required="yes",
            choice_filter="region=${region}",
        ),
    ]
    if levels in {"subcounty", "parish"}:
        extra = {"relevant": subcounty_relevant} if subcounty_relevant else {}
        rows.append(
            q(
                "select_one_from_file subcounties.csv",
                "subcounty",
                "Sub-county / town council",
                required="yes",
                choice_filter="district=${district}",
                **extra,
            )
        )
    if levels == "parish":
        rows.append(
            q(
                "select_one_from_file parishes.csv",
                "parish",
                "Parish / ward",
                required="yes" if parish_required else "",
                choice_filter="subcounty=${subcounty}",
            )
        )
    return rows


def respondent() -> list[Row]:
    return group(
        "respondent",
        "Respondent",
        [
            q("text", "respondent_name", "Name of main respondent", required="yes"),
            q("text", "respondent_title", "Title / position", required="yes"),
            q(
                "text",
                "respondent_phone",
                "Phone number",
                hint="Optional. Example: 0772123456",
                constraint="regex(., '^0[0-9]{9}$')",
                message="Enter 10 digits starting with 0.",
            ),
        ],
    )


FY_CHOICES = [
    ("fy", f"{y}/{(y + 1) % 100:02d}", f"FY {y}/{(y + 1) % 100:02d}") for y in range(2024, 2030)
]
YES_NO = [("yes_no", "yes", "Yes"), ("yes_no", "no", "No")]
SECTORS = [
    ("sector", "health", "Health"),
    ("sector", "hiv", "HIV/AIDS"),
    ("sector", "education", "Education"),
    ("sector", "ovc", "OVC and community services"),
    ("sector", "wash", "Water and sanitation"),
    ("sector", "management", "Management and governance"),
]


# --- 1. District profile ----------------------------------------------------------------------

DEPARTMENTS = [
    ("administration", "Administration"),
    ("finance", "Finance"),
    ("planning", "Planning unit"),
    ("audit", "Internal audit"),
    ("health", "Health"),
    ("education", "Education"),
    ("works", "Works and technical services"),
    ("natural_resources", "Natural resources"),
    ("community", "Community based services"),
    ("production", "Production and marketing"),
    ("trade", "Trade, industry and local economic development"),
    ("statutory", "Statutory bodies"),
]


def district_profile() -> dict[str, Any]:
    money_hint = "Amount in Uganda shillings (UGX), approved budget for the financial year."
    survey = [
        *META,
        CYCLE,
        *location("district"),
        *group(
            "population",
            "Population",
            [
                count(
                    "population_total",
                    "Total population (projection for the cycle year)",
                    maximum=10000000,
                    constraint=". > 0 and . <= 10000000",
                    message="Enter the population, more than 0.",
                ),
                count(
                    "population_year",
                    "Year of that population figure",
                    maximum=2035,
                    constraint=". >= 2014 and . <= 2035",
                    message="Enter a year from 2014 (last census) to 2035.",
                ),
                count("households", "Number of households", maximum=3000000, required=""),
            ],
        ),
        *group(
            "administrative_units",
            "Administrative units",
            [
                count(
                    "subcounties_count",
                    "Sub-counties and town councils",
                    maximum=100,
                    constraint=". > 0 and . <= 100",
                    message="Enter 1 to 100.",
                ),
                count("parishes_count", "Parishes and wards", maximum=1000),
                count("villages_count", "Villages / cells", maximum=10000, required=""),
            ],
        ),
        *group(
            "health_facilities",
            "Health facilities (all owners)",
            [
                count("hospitals", "Hospitals", maximum=50),
                count("hc_iv", "Health centre IV", maximum=50),
                count("hc_iii", "Health centre III", maximum=300),
                count("hc_ii", "Health centre II", maximum=1000),
            ],
        ),
        *group(
            "schools",
            "Schools",
            [
                count("primary_gov", "Government primary schools", maximum=2000),
                count("primary_private", "Private primary schools", maximum=2000),
                count("secondary_gov", "Government secondary schools", maximum=500),
            ],
        ),
        *repeat(
            "staffing",
            "Staffing by department",
            [
                q(
                    "select_one department",
                    "department",
                    "Department",
                    required="yes",
                    # Each department once, so sums by department are not double counted.
                    constraint="count(../../staffing[department = current()]) = 1",
                    message="This department is already listed.",
                ),
                count("approved_posts", "Approved posts (establishment)", maximum=5000),
                count("filled_posts", "Filled posts", maximum=5000),
            ],
        ),
        *group(
            "budget",
            "Budget by source",
            [
                money(
                    "budget_central_ugx",
                    "Central government transfers",
                    hint=money_hint,
                    maximum=1000000000000,
                ),
                money(
                    "budget_local_revenue_ugx",
                    "Local revenue",
                    hint=money_hint,
                    maximum=1000000000000,
                ),
                money(
                    "budget_donor_ugx",
                    "Donor and partner funding (on budget)",
                    hint=money_hint,
                    maximum=1000000000000,
                ),
                money("budget_other_ugx", "Other sources", hint=money_hint, maximum=1000000000000),
                q(
                    "calculate",
                    "budget_total_ugx",
                    calculation=(
                        "${budget_central_ugx} + ${budget_local_revenue_ugx} + ${budget_donor_ugx}"
                        " + ${budget_other_ugx}"
                    ),
                ),
                q("note", "budget_total_note", "Total budget: ${budget_total_ugx} UGX"),
                photo("budget_photo", "Photo of the approved budget summary page"),
            ],
        ),
        *respondent(),
        q("text", "notes", "Other notes", appearance="multiline"),
    ]
    choices = [*FY_CHOICES, *(("department", n, label) for n, label in DEPARTMENTS)]
    return {
        "form_id": "dmip_district_profile",
        "title": "DMIP 1. District profile",
        "instance_name": "concat('Profile ', ${district}, ' ', ${cycle})",
        "survey": survey,
        "choices": choices,
    }


# --- 2. Management capacity -------------------------------------------------------------------

# Function key, label, LG performance assessment area, three criteria (short name, question).
FUNCTIONS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "pb",
        "Planning and budgeting",
        "LGPA crosscutting: planning, budgeting and execution",
        [
            ("plan", "A current development plan approved by council"),
            ("budget", "Annual budget and work plan approved by council before 30 June"),
            ("conference", "Budget conference held; lower-level priorities reflected in the plan"),
        ],
    ),
    (
        "fm",
        "Financial management and accountability",
        "LGPA crosscutting: financial management",
        [
            ("reports", "All four quarterly performance reports submitted on time"),
            ("audit", "Internal audit reports produced each quarter"),
            ("findings", "Status report on internal and external audit findings acted on"),
        ],
    ),
    (
        "hr",
        "Human resources",
        "LGPA crosscutting: human resource management",
        [
            ("posts", "Key posts filled or being recruited against the approved structure"),
            ("appraisal", "Staff appraised in the last financial year"),
            ("payroll", "Payroll verified and attendance monitored monthly"),
        ],
    ),
    (
        "pr",
        "Procurement",
        "LGPA crosscutting: procurement and contract management",
        [
            ("plan", "Procurement plan approved together with the budget"),
            ("committee", "Contracts committee and evaluation records complete"),
            ("contracts", "Contracts register up to date; works supervised and certified"),
        ],
    ),
    (
        "me",
        "Monitoring, evaluation and data use",
        "LGPA crosscutting: monitoring and evaluation",
        [
            ("plan", "M&E plan with indicators and responsibilities"),
            ("reports", "Annual performance report submitted by 31 July"),
            ("use", "Data reviewed in meetings and used to change plans"),
        ],
    ),
    (
        "pc",
        "Coordination of partners",
        "LGPA crosscutting: planning (partner coordination)",
        [
            ("mapping", "Up-to-date map of partners by sector and area"),
            ("meetings", "Partner coordination meetings held each quarter with minutes"),
            ("integration", "Partner work plans and budgets reflected in the LG plan"),
        ],
    ),
    (
        "gv",
        "Governance and leadership",
        "LGPA crosscutting: governance, oversight, transparency",
        [
            ("council", "Council and committees meet as scheduled, with minutes"),
            ("oversight", "Audit reports reviewed by the public accounts committee / executive"),
            ("citizens", "Budgets and results displayed; barazas or citizen feedback held"),
        ],
    ),
    (
        "lr",
        "Local revenue",
        "LGPA crosscutting: revenue mobilisation",
        [
            ("register", "Register of taxpayers and revenue sources up to date"),
            ("collection", "Local revenue collected at least 90% of the budget"),
            ("sharing", "Revenue shared with lower local governments as required by law"),
        ],
    ),
    (
        "sv",
        "Supervision of service delivery",
        "LGPA sector measures: health, education, water",
        [
            ("plan", "Supervision and inspection plan for schools and health facilities"),
            ("visits", "Planned supervision visits done, with reports"),
            ("followup", "Findings followed up and actions recorded"),
        ],
    ),
]

SCORE_SCALE = [
    ("score", "0", "0 - Not in place"),
    ("score", "1", "1 - Started, but major gaps"),
    ("score", "2", "2 - Mostly in place, minor gaps"),
    ("score", "3", "3 - Fully in place, with evidence seen"),
]


def management_capacity() -> dict[str, Any]:
    survey: list[Row] = [
        *META,
        CYCLE,
        q("select_one level", "level_assessed", "Which office is assessed?", required="yes"),
        *location("subcounty", subcounty_relevant="${level_assessed} = 'subcounty'"),
        q(
            "date",
            "assessment_date",
            "Date of the assessment",
            required="yes",
            constraint=". <= today()",
            message="The date cannot be in the future.",
        ),
        q("text", "assessors", "Names of the assessors", required="yes"),
    ]
    for key, label, lgpa, criteria in FUNCTIONS:
        rows: list[Row] = [q("note", f"{key}_intro", f"**{label}**", hint=lgpa)]
        for short, question in criteria:
            name = f"{key}_{short}"
            rows.append(
                q(
                    "select_one score",
                    name,
                    question,
                    required="yes",
                    hint="Score only what you saw evidence for.",
                )
            )
            rows.append(
                q(
                    "text",
                    f"{name}_evidence",
                    "Evidence seen (document, date, page)",
                    relevant=f"${{{name}}} >= 1",
                    required="yes",
                )
            )
        rows.append(
            q(
                "calculate",
                f"{key}_score",
                calculation=" + ".join(f"${{{key}_{s}}}" for s, _ in criteria),
            )
        )
        rows.append(photo(f"{key}_photo", "Photo of the main evidence document"))
        survey.extend(group(f"fn_{key}", label, rows))
    survey.append(q("text", "notes", "Other notes", appearance="multiline"))
    choices = [
        *FY_CHOICES,
        ("level", "district_hq", "District headquarters"),
        ("level", "subcounty", "Sub-county / town council"),
        *SCORE_SCALE,
    ]
    return {
        "form_id": "dmip_management_capacity",
        "title": "DMIP 2. Management capacity assessment",
        "instance_name": (
            "concat('Capacity ', ${district}, if(${level_assessed} = 'subcounty', "
            "concat(' ', ${subcounty}), ' HQ'), ' ', ${cycle})"
        ),
        "survey": survey,
        "choices": choices,
    }


# --- 3. Health facility -----------------------------------------------------------------------

SERVICES = [
    ("anc", "Antenatal care (ANC)"),
    ("deliveries", "Deliveries"),
    ("immunisation", "Immunisation"),
    ("hiv_testing", "HIV testing"),
    ("art", "ART (HIV treatment)"),
    ("pmtct", "PMTCT"),
]


def offers(service: str) -> str:
    return f"selected(${{services}}, '{service}')"


def health_facility() -> dict[str, Any]:
    quarter = "Last complete quarter, from the facility registers / HMIS 105."
    survey = [
        *META,
        CYCLE,
        *location("parish", parish_required=False),
        q("text", "facility_name", "Facility name", required="yes"),
        q("select_one facility_level", "facility_level", "Level", required="yes"),
        q("select_one ownership", "ownership", "Ownership", required="yes"),
        q("geopoint", "gps", "GPS location (stand at the main entrance)", required="yes"),
        *group(
            "staffing",
            "Staffing",
            [
                count(
                    "approved_posts",
                    "Approved posts (establishment)",
                    maximum=500,
                    hint="HC IV establishment is 48; general hospital 185.",
                ),
                count("filled_posts", "Posts filled", maximum=500),
                count(
                    "staff_present",
                    "Staff present today",
                    maximum=500,
                    constraint=". >= 0 and . <= ${filled_posts}",
                    message="Cannot be more than the posts filled.",
                ),
            ],
        ),
        *group(
            "medicines",
            "Tracer medicines (MoH basket)",
            [
                count(
                    "tracer_checked",
                    "Tracer items checked",
                    maximum=41,
                    default="41",
                    constraint=". > 0 and . <= 41",
                    message="Enter 1 to 41.",
                ),
                count(
                    "tracer_in_stock",
                    "Items in stock today",
                    maximum=41,
                    constraint=". >= 0 and . <= ${tracer_checked}",
                    message="Cannot be more than the items checked.",
                ),
                photo("stock_photo", "Photo of the stock card or stock status report"),
            ],
        ),
        q("select_multiple service", "services", "Services offered", required="yes"),
        *group(
            "service_volumes",
            "Service volumes (last quarter)",
            [
                count(
                    "catchment_population",
                    "Catchment population",
                    maximum=2000000,
                    constraint=". > 0 and . <= 2000000",
                    message="Enter more than 0.",
                ),
                count("anc1_visits", "ANC 1st visits", hint=quarter, relevant=offers("anc")),
                count(
                    "anc4_visits",
                    "ANC 4th visits",
                    hint=quarter,
                    relevant=offers("anc"),
                    constraint=". >= 0 and . <= ${anc1_visits} * 2",
                    message="Far more 4th than 1st visits: check the register.",
                ),
                count(
                    "deliveries",
                    "Deliveries at the facility",
                    hint=quarter,
                    relevant=offers("deliveries"),
                ),
                count(
                    "expected_deliveries",
                    "Expected deliveries in the catchment",
                    hint="Quarterly target from the district (about 5% of the population a "
                    "year, divided by 4).",
                    relevant=offers("deliveries"),
                    constraint=". > 0",
                    message="Enter more than 0.",
                ),
                count(
                    "penta3_doses",
                    "Penta 3 doses given",
                    hint=quarter,
                    relevant=offers("immunisation"),
                ),
                count(
                    "penta3_target",
                    "Penta 3 target (infants under 1)",
                    relevant=offers("immunisation"),
                    constraint=". > 0",
                    message="Enter more than 0.",
                ),
                count(
                    "hiv_tests",
                    "People tested for HIV",
                    hint=quarter,
                    relevant=offers("hiv_testing"),
                ),
                count(
                    "hiv_positive",
                    "Tested HIV positive",
                    relevant=offers("hiv_testing"),
                    constraint=". >= 0 and . <= ${hiv_tests}",
                    message="Cannot be more than the people tested.",
                ),
                count(
                    "art_initiated",
                    "Newly started on ART",
                    relevant=(f"{offers('art')} and {offers('hiv_testing')}"),
                ),
                count(
                    "art_active",
                    "Clients active on ART at the end of the quarter",
                    relevant=offers("art"),
                ),
                count(
                    "anc_hiv_tested",
                    "ANC mothers tested for HIV",
                    relevant=(f"{offers('pmtct')} and {offers('anc')}"),
                    constraint=". >= 0 and . <= ${anc1_visits}",
                    message="Cannot be more than the ANC 1st visits.",
                ),
            ],
        ),
        *group(
            "hmis",
            "HMIS reporting",
            [
                count(
                    "hmis_reports_due",
                    "Monthly HMIS 105 reports due in the last quarter",
                    maximum=3,
                    default="3",
                    constraint=". >= 1 and . <= 3",
                    message="Enter 1 to 3.",
                ),
                count(
                    "hmis_reports_on_time",
                    "Reports submitted by the 15th of the next month",
                    maximum=3,
                    constraint=". >= 0 and . <= ${hmis_reports_due}",
                    message="Cannot be more than the reports due.",
                ),
            ],
        ),
        *group(
            "utilities",
            "Water and power",
            [
                q("select_one water_source", "water_source", "Main water source", required="yes"),
                q(
                    "select_one yes_no",
                    "water_functional",
                    "Water available today?",
                    required="yes",
                    relevant="${water_source} != 'none'",
                ),
                q("select_one power_source", "power_source", "Main power source", required="yes"),
                q(
                    "select_one yes_no",
                    "power_functional",
                    "Power available today?",
                    required="yes",
                    relevant="${power_source} != 'none'",
                ),
            ],
        ),
        *respondent(),
        q("text", "notes", "Other notes", appearance="multiline"),
    ]
    choices = [
        *FY_CHOICES,
        *YES_NO,
        ("facility_level", "hc_ii", "Health centre II"),
        ("facility_level", "hc_iii", "Health centre III"),
        ("facility_level", "hc_iv", "Health centre IV"),
        ("facility_level", "hospital", "Hospital"),
        ("ownership", "government", "Government"),
        ("ownership", "pnfp", "Private not-for-profit"),
        ("ownership", "pfp", "Private for-profit"),
        *(("service", n, label) for n, label in SERVICES),
        ("water_source", "piped", "Piped water"),
        ("water_source", "borehole", "Borehole"),
        ("water_source", "rainwater", "Rainwater tank"),
        ("water_source", "protected_spring", "Protected spring"),
        ("water_source", "none", "No water source"),
        ("power_source", "grid", "National grid"),
        ("power_source", "solar", "Solar"),
        ("power_source", "generator", "Generator"),
        ("power_source", "none", "No power"),
    ]
    return {
        "form_id": "dmip_health_facility",
        "title": "DMIP 3. Health facility assessment",
        "instance_name": "concat(${facility_name}, ' (', ${facility_level}, ') ', ${cycle})",
        "survey": survey,
        "choices": choices,
    }


# --- 4. School --------------------------------------------------------------------------------

CLASSES = [f"p{n}" for n in range(1, 8)]


def school() -> dict[str, Any]:
    enrolment: list[Row] = []
    for cls in CLASSES:
        enrolment.append(count(f"{cls}_boys", f"{cls.upper()} boys", maximum=1000))
        enrolment.append(count(f"{cls}_girls", f"{cls.upper()} girls", maximum=1000))
    enrolment.append(
        q(
            "calculate",
            "pupils_total",
            calculation=" + ".join(
                f"${{{cls}_{sex}}}" for cls in CLASSES for sex in ("boys", "girls")
            ),
        )
    )
    enrolment.append(q("note", "pupils_note", "Total enrolment: ${pupils_total}"))
    divisions = ["ple_div1", "ple_div2", "ple_div3", "ple_div4", "ple_div_u"]
    ple_sum = " + ".join(f"${{{d}}}" for d in divisions)
    survey = [
        *META,
        CYCLE,
        *location("parish", parish_required=False),
        q("text", "school_name", "School name", required="yes"),
        q(
            "text",
            "emis_number",
            "EMIS number",
            hint="Optional.",
            constraint="regex(., '^[0-9]{3,12}$')",
            message="Digits only.",
        ),
        q("select_one school_ownership", "school_ownership", "Ownership", required="yes"),
        q("geopoint", "gps", "GPS location (stand at the head teacher's office)", required="yes"),
        *group("enrolment", "Enrolment (from the class registers)", enrolment),
        *group(
            "teachers",
            "Teachers",
            [
                count("teachers_payroll", "Teachers on the payroll", maximum=200),
                count(
                    "teachers_present",
                    "Teachers present at this (unannounced) visit",
                    maximum=200,
                    constraint=". >= 0 and . <= ${teachers_payroll}",
                    message="Cannot be more than the teachers on the payroll.",
                ),
                photo("attendance_photo", "Photo of today's teacher attendance register"),
            ],
        ),
        *group(
            "facilities",
            "Classrooms, latrines and desks",
            [
                count("classrooms_permanent", "Permanent classrooms in use", maximum=100),
                count("classrooms_temporary", "Temporary classrooms in use", maximum=100),
                count("stances_boys", "Latrine stances for boys", maximum=200),
                count("stances_girls", "Latrine stances for girls", maximum=200),
                count("desks", "Usable desks (3-seater)", maximum=2000),
                q(
                    "select_one yes_no",
                    "water_at_school",
                    "Safe water source at the school?",
                    required="yes",
                ),
            ],
        ),
        *group(
            "ple",
            "PLE results (last examination year)",
            [
                count("ple_candidates", "Candidates registered", maximum=1000),
                count("ple_div1", "Division 1", maximum=1000, relevant="${ple_candidates} > 0"),
                count("ple_div2", "Division 2", maximum=1000, relevant="${ple_candidates} > 0"),
                count("ple_div3", "Division 3", maximum=1000, relevant="${ple_candidates} > 0"),
                count("ple_div4", "Division 4", maximum=1000, relevant="${ple_candidates} > 0"),
                count("ple_div_u", "Ungraded (U)", maximum=1000, relevant="${ple_candidates} > 0"),
                count(
                    "ple_absent",
                    "Absent (X)",
                    maximum=1000,
                    relevant="${ple_candidates} > 0",
                    constraint=f". >= 0 and . + {ple_sum} = ${{ple_candidates}}",
                    message="Divisions 1-4, U and X must add up to the candidates.",
                ),
            ],
        ),
        *group(
            "smc",
            "School management committee",
            [
                q(
                    "select_one yes_no",
                    "smc_exists",
                    "Is there a school management committee?",
                    required="yes",
                ),
                count(
                    "smc_meetings",
                    "SMC meetings in the last 12 months",
                    maximum=24,
                    relevant="${smc_exists} = 'yes'",
                ),
                count(
                    "smc_women", "Women on the SMC", maximum=20, relevant="${smc_exists} = 'yes'"
                ),
                photo(
                    "smc_minutes_photo",
                    "Photo of the last SMC minutes",
                    relevant="${smc_exists} = 'yes'",
                ),
            ],
        ),
        *respondent(),
        q("text", "notes", "Other notes", appearance="multiline"),
    ]
    choices = [
        *FY_CHOICES,
        *YES_NO,
        ("school_ownership", "government", "Government"),
        ("school_ownership", "government_aided", "Government-aided"),
        ("school_ownership", "private", "Private"),
        ("school_ownership", "community", "Community"),
    ]
    return {
        "form_id": "dmip_school",
        "title": "DMIP 4. School assessment",
        "instance_name": "concat(${school_name}, ' ', ${cycle})",
        "survey": survey,
        "choices": choices,
    }


# --- 5. OVC and community services ------------------------------------------------------------


def ovc_community() -> dict[str, Any]:
    year = "Last financial year, from the OVC MIS / sub-county registers."
    survey = [
        *META,
        CYCLE,
        *location("subcounty"),
        *group(
            "ovc",
            "Orphans and other vulnerable children",
            [
                count("ovc_estimated", "Estimated OVC in the sub-county", maximum=200000),
                count("ovc_identified", "OVC identified and registered", hint=year, maximum=200000),
                count(
                    "ovc_served",
                    "OVC who received at least one service",
                    hint=year,
                    maximum=200000,
                    constraint=". >= 0 and . <= ${ovc_identified}",
                    message="Cannot be more than the OVC identified.",
                ),
                q(
                    "select_multiple ovc_service",
                    "ovc_services",
                    "Services provided",
                    relevant="${ovc_served} > 0",
                    required="yes",
                ),
                photo("ovc_register_photo", "Photo of the OVC register summary page"),
            ],
        ),
        *group(
            "cd_staff",
            "Community development staff",
            [
                count("cdo_posts_approved", "Community development posts approved", maximum=20),
                count("cdo_posts_filled", "Posts filled", maximum=20),
            ],
        ),
        *group(
            "child_protection",
            "Child protection",
            [
                count(
                    "cp_cases_reported", "Child protection cases reported", hint=year, maximum=10000
                ),
                count(
                    "cp_cases_resolved",
                    "Cases resolved or closed",
                    maximum=10000,
                    constraint=". >= 0 and . <= ${cp_cases_reported}",
                    message="Cannot be more than the cases reported.",
                    relevant="${cp_cases_reported} > 0",
                ),
                count(
                    "cp_cases_referred",
                    "Cases referred (police, health, court)",
                    maximum=10000,
                    relevant="${cp_cases_reported} > 0",
                ),
            ],
        ),
        *group(
            "structures",
            "Community structures",
            [
                q(
                    "select_one yes_no",
                    "ovc_committee",
                    "Sub-county OVC committee meets?",
                    required="yes",
                ),
                count(
                    "parish_cp_committees",
                    "Parishes with a child protection committee",
                    maximum=100,
                ),
                count("para_social_workers", "Active para-social workers", maximum=1000),
                count("community_groups", "Registered women, youth and PWD groups", maximum=5000),
            ],
        ),
        *respondent(),
        q("text", "notes", "Other notes", appearance="multiline"),
    ]
    choices = [
        *FY_CHOICES,
        *YES_NO,
        ("ovc_service", "education", "Education support"),
        ("ovc_service", "health", "Health care"),
        ("ovc_service", "food", "Food and nutrition"),
        ("ovc_service", "psychosocial", "Psychosocial support"),
        ("ovc_service", "protection", "Child protection and legal"),
        ("ovc_service", "economic", "Household economic strengthening"),
    ]
    return {
        "form_id": "dmip_ovc_community",
        "title": "DMIP 5. OVC and community services",
        "instance_name": "concat('OVC ', ${subcounty}, ' ', ${cycle})",
        "survey": survey,
        "choices": choices,
    }


# --- 6. Stakeholder priority-setting workshop -------------------------------------------------


def priority_workshop() -> dict[str, Any]:
    survey = [
        *META,
        CYCLE,
        *location("district"),
        q(
            "date",
            "workshop_date",
            "Workshop date",
            required="yes",
            constraint=". <= today()",
            message="The date cannot be in the future.",
        ),
        count(
            "participants_total",
            "Participants",
            maximum=500,
            constraint=". > 0 and . <= 500",
            message="Enter 1 to 500.",
        ),
        count(
            "participants_women",
            "Women participants",
            maximum=500,
            constraint=". >= 0 and . <= ${participants_total}",
            message="Cannot be more than the participants.",
        ),
        photo("attendance_photo", "Photo of the attendance list"),
        *repeat(
            "priority",
            "Priority",
            [
                q("select_one sector", "priority_sector", "Sector", required="yes"),
                count(
                    "priority_rank",
                    "Rank within the sector (1 = most important)",
                    maximum=20,
                    constraint=". >= 1 and . <= 20",
                    message="Enter 1 to 20.",
                ),
                q("text", "priority_gap", "Gap or problem", required="yes"),
                q("text", "priority_intervention", "Proposed intervention", required="yes"),
                count("priority_votes", "Votes (if voted)", maximum=500, required=""),
            ],
        ),
        *repeat(
            "commitment",
            "Partner commitment",
            [
                q("text", "partner_name", "Partner", required="yes"),
                q("select_one partner_type", "partner_type", "Type of partner", required="yes"),
                q("select_one sector", "commitment_sector", "Sector", required="yes"),
                money(
                    "commitment_ugx",
                    "Amount committed (UGX)",
                    maximum=100000000000,
                    constraint=". > 0 and . <= 100000000000",
                    message="Enter an amount in UGX, more than 0.",
                ),
                q("select_one fy", "commitment_fy", "Financial year", required="yes"),
            ],
        ),
        q("text", "notes", "Other notes", appearance="multiline"),
    ]
    choices = [
        *FY_CHOICES,
        *SECTORS,
        ("partner_type", "government", "Central government / MDA"),
        ("partner_type", "donor", "Donor / development partner"),
        ("partner_type", "ngo", "NGO"),
        ("partner_type", "cbo", "Community-based organisation"),
        ("partner_type", "private", "Private sector"),
    ]
    return {
        "form_id": "dmip_priority_workshop",
        "title": "DMIP 6. Stakeholder priority-setting workshop",
        "instance_name": "concat('Workshop ', ${district}, ' ', ${cycle})",
        "survey": survey,
        "choices": choices,
    }


# --- 7. DMIP process milestones ---------------------------------------------------------------

STAGES = [
    ("inception", "Inception"),
    ("data_collection", "Data collection"),
    ("analysis", "Analysis"),
    ("validation", "Validation workshop"),
    ("drafting", "Drafting"),
    ("council_approval", "Council approval"),
]


def process_milestones() -> dict[str, Any]:
    survey: list[Row] = [*META, CYCLE, *location("district")]
    for key, label in STAGES:
        survey.extend(
            group(
                f"stage_{key}",
                label,
                [
                    q("select_one status", f"{key}_status", "Status", required="yes"),
                    q("date", f"{key}_planned", "Planned date", required="yes"),
                    q(
                        "date",
                        f"{key}_actual",
                        "Actual date (completed)",
                        required="yes",
                        relevant=f"${{{key}_status}} = 'done'",
                        constraint=". <= today()",
                        message="The date cannot be in the future.",
                    ),
                    q(
                        "text",
                        f"{key}_issues",
                        "Issues or reasons for delay",
                        relevant=f"${{{key}_status}} = 'delayed'",
                        required="yes",
                    ),
                ],
            )
        )
    survey.append(
        photo(
            "council_minute_photo",
            "Photo of the council minute approving the DMIP",
            relevant="${council_approval_status} = 'done'",
        )
    )
    survey.append(q("text", "notes", "Other notes", appearance="multiline"))
    choices = [
        *FY_CHOICES,
        ("status", "not_started", "Not started"),
        ("status", "in_progress", "In progress"),
        ("status", "delayed", "Delayed"),
        ("status", "done", "Done"),
    ]
    return {
        "form_id": "dmip_process_milestones",
        "title": "DMIP 7. DMIP process milestones",
        "instance_name": "concat('Milestones ', ${district}, ' ', ${cycle})",
        "survey": survey,
        "choices": choices,
    }


FORMS = {
    "dmip_district_profile.xlsx": district_profile,
    "dmip_management_capacity.xlsx": management_capacity,
    "dmip_health_facility.xlsx": health_facility,
    "dmip_school.xlsx": school,
    "dmip_ovc_community.xlsx": ovc_community,
    "dmip_priority_workshop.xlsx": priority_workshop,
    "dmip_process_milestones.xlsx": process_milestones,
}


def sheets(spec: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """The three sheets of one form as rows of cell values (header first)."""
    survey = [SURVEY_COLUMNS] + [
        [row.get(column) or None for column in SURVEY_COLUMNS] for row in spec["survey"]
    ]
    choices = [CHOICE_COLUMNS] + [list(choice) for choice in spec["choices"]]
    settings = [
        SETTINGS_COLUMNS,
        [spec["title"], spec["form_id"], VERSION, spec["instance_name"], LANG],
    ]
    return {"survey": survey, "choices": choices, "settings": settings}


def workbook(spec: dict[str, Any]) -> Workbook:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets(spec).items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    return book


def main(out_dir: Path = FORMS_DIR) -> None:
    for filename, build in FORMS.items():
        workbook(build()).save(out_dir / filename)
        print(out_dir / filename)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FORMS_DIR)
