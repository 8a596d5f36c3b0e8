"""Poison submissions among good ones, and an attachment store that cannot be written."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.faults import scenario
from tests.faults.checks import engine, failure_reasons, outcome, statuses, wait_settled
from tests.faults.collect import CollectClient
from tests.faults.stack import PASSWORD, USERNAME, Stack
from tests.faults.stream import Template, templates

pytestmark = [pytest.mark.faults, pytest.mark.integration]

TWENTY_NINE_NINES = "9" * 29
# (kind, form, field, value): what a tablet with a bug, or a paper form typed in, sends.
POISON = [
    ("overflow", "dmip_school", "p1_boys", TWENTY_NINE_NINES),
    ("not a number", "dmip_school", "teachers_payroll", "twelve"),
    ("impossible date", "dmip_management_capacity", "assessment_date", "2024-02-30"),
]


def _poison_templates(stack: Stack, pool: list[Template]) -> dict[str, Template]:
    capacity = templates(stack, forms=("dmip_management_capacity",))
    first = {"dmip_school": next(t for t in pool if t.form_id == "dmip_school"),
             "dmip_management_capacity": capacity[-1]}  # fmt: skip
    return {kind: first[form].spoilt(field, value) for kind, form, field, value in POISON}


@pytest.fixture
def set_aside(healthy: Stack) -> Iterator[list[str]]:
    """instanceIDs the scenario leaves; whichever of them is still waiting when it ends (a
    poison one stuck, the bug being tested) is set aside as failed, so the scenarios after
    this one start from an idle stack."""
    ids: list[str] = []
    yield ids
    if ids:
        db = engine(healthy)
        try:
            with db.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE submissions SET processing_status = 'failed', failure_reason = "
                        "'set aside by the poison scenario' WHERE processing_status = 'received' "
                        "AND instance_id = ANY(:ids)"
                    ),
                    {"ids": ids},
                )
        finally:
            db.dispose()


def test_poison_submissions_fail_alone_with_a_reason_and_the_rest_is_processed(
    healthy: Stack, pool: list[Template], set_aside: list[str]
) -> None:
    poison = _poison_templates(healthy, pool)

    def send_poison() -> None:
        for kind, template in poison.items():
            stream.send(template, kind)
            time.sleep(0.3)

    stream = scenario.new_stream(healthy, pool)
    try:
        with stream:
            result = scenario.run(healthy, stream, "poison", send_poison, after=6)
    finally:
        set_aside.extend(stream.accepted())
    # Each poison one was accepted (Collect cannot know better) and failed on its own.
    poisoned = {kind: stream.accepted(kind) for kind in poison}
    assert all(len(ids) == 1 for ids in poisoned.values()), poisoned
    reasons = failure_reasons(healthy, [ids[0] for ids in poisoned.values()])
    for kind, _form, field, value in POISON:
        status, reason = reasons[poisoned[kind][0]]
        assert status.endswith("failed"), (kind, status, reason)
        assert reason and field in reason and value in reason, (kind, reason)
    # The good ones, before and after the poison, all processed.
    good = stream.accepted("good")
    assert outcome(healthy, good).processed == len(good)
    scenario.assert_recovered(result, kinds_failed=len(POISON))


@pytest.fixture
def read_only_blobs(healthy: Stack) -> Iterator[Path]:
    """The attachment store made read-only (as a disk remounted read-only after an error),
    writable again afterwards however the test ends."""
    root = healthy.data_dir / "blobs"
    dirs = [root, *(Path(d) / n for d, names, _ in os.walk(root) for n in names)]
    for d in dirs:
        d.chmod(0o555)
    try:
        yield root
    finally:
        for d in dirs:
            d.chmod(0o755)


def test_an_attachment_that_cannot_be_stored_gets_a_clear_answer_and_nothing_half_stored(
    healthy: Stack, pool: list[Template], read_only_blobs: Path
) -> None:
    school = next(t for t in pool if t.form_id == "dmip_school")
    photo = os.urandom(20_000)  # content never seen before: it must be written
    sha = hashlib.sha256(photo).hexdigest()
    instance_id = f"uuid:{uuid.uuid4()}"
    xml = school.spoilt("attendance_photo", "register.jpg").with_id(instance_id)
    client = CollectClient(healthy.web_port, USERNAME, PASSWORD)
    try:
        status = client.post(xml, {"register.jpg": photo})
        assert status in (503, 507), status
        db = engine(healthy)
        try:
            assert statuses(db, [instance_id]) == {}
        finally:
            db.dispose()
        assert not (read_only_blobs / sha[:2] / sha[2:]).exists()
        for d in [read_only_blobs, *read_only_blobs.iterdir()]:
            if d.is_dir():
                d.chmod(0o755)
        # Collect sends it again once the disk is back: stored once, processed.
        assert client.post(xml, {"register.jpg": photo}) == 201
    finally:
        client.close()
    wait_settled(healthy, [instance_id], scenario.recovery_bound(healthy))
    assert (read_only_blobs / sha[:2] / sha[2:]).read_bytes() == photo
    assert outcome(healthy, [instance_id]).processed == 1
