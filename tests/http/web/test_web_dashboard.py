"""The dashboard on a processed demo district (PostgreSQL), scoped to each user's areas, and the
server-drawn SVG charts it and the other pages use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.aggregation import catalog_state, reading
from server.domain.quality import checks
from server.domain.quality.expectations import load_expectations
from server.models import AggregationState, OrgUnit, Submission
from server.models.submissions import ProcessingStatus
from server.quality.report import quality_report
from server.web import svg
from server.web.dashboard import FLAG_WORDS, Coverage, _coverage
from tests.web_demo import CYCLE, Demo, demo_world


@pytest.fixture(scope="module")
def demo(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from demo_world(pg_url, tmp_path_factory)


def _weekly_total(page: str) -> int:
    found = re.search(r"(\d+) submissions? in the last 12 weeks", page)
    assert found is not None
    return int(found.group(1))


def _cells(page: str) -> dict[str, str]:
    """{place name: printed coverage} from the coverage grids."""
    return dict(
        re.findall(r'<span class="cell-name">([^<]+)</span> <strong>([^<]+)</strong>', page)
    )


def test_coordinator_sees_their_district_only(demo: Demo) -> None:
    page = demo.client("coordinator").get("/").get_data(True)
    with demo.db.session() as s:
        district = s.scalars(select(OrgUnit).where(OrgUnit.code == demo.district)).one()
        subcounties = list(s.scalars(select(OrgUnit.name).where(OrgUnit.parent_id == district.id)))
        count = s.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.current.is_(True), Submission.deleted_at.is_(None))
        )
        name = district.name
    assert _weekly_total(page) == count > 0
    cells = _cells(page)
    assert set(cells) == {name, *subcounties}
    assert all(re.fullmatch(r"\d+%", v) for v in cells.values())  # the number, not only a colour
    for kind in FLAG_WORDS.values():
        assert kind in page
    other = demo.client("other_coordinator").get("/").get_data(True)
    assert _weekly_total(other) == 0
    assert name not in other and not set(subcounties) & set(_cells(other))


def test_a_due_rebuild_is_announced_until_it_has_run(demo: Demo) -> None:
    client = demo.client("coordinator")
    assert catalog_state.REBUILDING not in client.get("/").get_data(True)
    with demo.db.session() as s:
        catalog_state.request_rebuild(s, "a test moved a unit")
    try:
        assert catalog_state.REBUILDING in client.get("/").get_data(True)
    finally:
        with demo.db.session() as s:  # as the sweep's rebuild leaves it
            state = s.get(AggregationState, catalog_state.ROW)
            assert state is not None
            state.rebuild_requested_at = None
    assert catalog_state.REBUILDING not in client.get("/").get_data(True)


def test_flag_counts_are_the_quality_reports(demo: Demo) -> None:
    page = demo.client("coordinator").get(f"/?cycle={CYCLE}").get_data(True)
    expectations = load_expectations(demo.settings.forms_dir / "expectations.yaml")
    with demo.db.session() as s:
        district = s.scalars(select(OrgUnit).where(OrgUnit.code == demo.district)).one()
        flags = quality_report(s, reading.unit_of(district), CYCLE, expectations).flags
    assert flags, "the demo data carries some flags"
    for kind in checks.KINDS:
        n = sum(f.kind == kind for f in flags)
        shown = re.search(
            rf"<th scope=\"row\">{FLAG_WORDS[kind]}</th>\s*<td class=\"num\">(?:<a [^>]+>)?(\d+)",
            page,
        )
        assert shown is not None and int(shown.group(1)) == n, kind


def test_a_failed_submission_shows_with_its_reason(demo: Demo) -> None:
    with demo.db.session() as s:
        sub = s.scalars(select(Submission).order_by(Submission.id.desc())).first()
        assert sub is not None
        sub.processing_status = ProcessingStatus.failed
        sub.failure_reason = "The form version 9 is not published."
        sid, instance = sub.id, sub.instance_id
    try:
        for role in ("coordinator", "admin"):
            page = demo.client(role).get("/").get_data(True)
            assert "The form version 9 is not published." in page, role
            assert f'<a href="/submissions/{sid}">{instance}</a>' in page, role
            assert re.search(r"Could not be processed</th>\s*<td class=\"num\"><a", page), role
        other = demo.client("other_coordinator").get("/").get_data(True)
        assert "The form version 9 is not published." not in other
    finally:
        with demo.db.session() as s:
            row = s.get(Submission, sid)
            assert row is not None
            row.processing_status = ProcessingStatus.processed
            row.failure_reason = None


def test_enumerators_get_no_dashboard(demo: Demo) -> None:
    page = demo.client("enumerator").get("/").get_data(True)
    assert "You send data from ODK Collect" in page and "Coverage" not in page


def test_a_bad_cycle_is_explained(demo: Demo) -> None:
    response = demo.client("coordinator").get("/?cycle=25/26")
    assert response.status_code == 400
    assert "is not a planning cycle" in response.get_data(True)


# --- Coverage arithmetic ----------------------------------------------------------------------


def _row(form: str, expected: int | None, received: int) -> checks.CompletenessRow:
    return checks.CompletenessRow(form, 1, "count", "under", expected, received, ())


UNIT = reading.Unit(1, "S1", "Sub", "subcounty", "/S1/")


def test_a_surplus_does_not_make_up_for_a_shortfall() -> None:
    got = _coverage(UNIT, [_row("a", 2, 5), _row("b", 2, 0), _row("c", None, 3)])
    assert (got.received, got.expected, got.unknown) == (2, 4, 1)
    assert got.percent == 50 and got.band == "mid"
    assert _coverage(UNIT, [_row("a", None, 1)]).band == "none"


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 80)), max_size=8))
def test_coverage_lies_between_none_and_all(rows: list[tuple[int, int]]) -> None:
    got: Coverage = _coverage(UNIT, [_row(str(i), e, r) for i, (e, r) in enumerate(rows)])
    assert got.received <= got.expected
    if got.expected:
        assert got.percent is not None and 0 <= got.percent <= 100
        assert (got.band == "full") == (got.received == got.expected)
    else:
        assert got.percent is None


# --- Charts -----------------------------------------------------------------------------------


@given(st.floats(min_value=0.001, max_value=1e9, allow_nan=False))
def test_ticks_are_round_and_reach_the_top(top: float) -> None:
    ticks = svg.nice_ticks(top)
    assert ticks[0] == 0 and ticks[-1] >= top
    steps = {round(b - a, 6) for a, b in pairwise(ticks)}
    assert len(steps) == 1 and 2 <= len(ticks) <= 10


def test_charts_print_their_numbers_and_escape_their_words() -> None:
    column = svg.column_chart(
        ["01 Sep", "08 Sep"], [3, 12], title="Per week", x_label="Week", y_label="Submissions"
    )
    assert ">12</text>" in column and ">3</text>" in column
    assert "Submissions by Week. 01 Sep: 3, 08 Sep: 12." in column  # the desc says it in words
    bars = svg.bar_chart(
        "Costs <by year>",
        ["Year 1", "Year 2"],
        [svg.Series("Local & central", [1.5, 2.0]), svg.Series("Partners", [None, 4.0])],
        unit="UGX million",
        stacked=True,
    )
    assert "Costs &lt;by year&gt;" in bars and "Local &amp; central" in bars
    # Stacked: each row's total at its end (1.5 + nothing, 2 + 4).
    assert ">1.5</text>" in bars and ">6</text>" in bars
    percent = svg.bar_chart(
        "Scores",
        ["Planning"],
        [svg.Series("Score", [91.7])],
        unit="percent of maximum",
        reference=66.7,
        reference_label="benchmark",
    )
    assert ">91.7%</text>" in percent and "benchmark: 66.7%" in percent
    # The Content-Security-Policy forbids inline styles: presentation attributes only.
    for markup in (column, bars, percent, svg.value_bar(40, 53, "lower_is_better")):
        assert "style=" not in markup and "<script" not in markup


def test_value_bar_colours_by_direction() -> None:
    assert "#2e7d4f" in svg.value_bar(40, 53, "lower_is_better")
    assert svg.REFERENCE in svg.value_bar(40, 53, "higher_is_better")
    assert svg.value_bar(40, None, "higher_is_better") == ""
