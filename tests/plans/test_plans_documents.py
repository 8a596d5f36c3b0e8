"""A district's DMIP and the synthesis as documents: every section in the DOCX (read back with
python-docx) and the PDF (pdftotext), a coordinator's edit in place of the generated narrative,
the commands, and document jobs with their progress."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from server import migrate
from server.cli import main
from server.db import Database
from server.demo.load import load_demo_data
from server.models import DmipPlan, DocumentJob, OrgUnit, PlanSection, User
from server.plans import workflow
from server.settings import Settings
from tests.fixtures.openrosa import add_user
from tests.paths import FORMS_DIR
from workers import processing
from workers.document_jobs import run_job
from workers.regeneration import regenerate_due

TITLES = [
    "District profile",
    "Management capacity",
    "Service delivery situation by sector",
    "Gap analysis",
    "Priorities and interventions",
    "Results framework",
    "Costed action plan and financing",
    "Monitoring and evaluation plan",
    "Data-quality annex",
]


@pytest.fixture(scope="module")
def drafted_template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """An embedded data directory with two demo districts processed and drafted (built once;
    each test works on a copy)."""
    data_dir = tmp_path_factory.mktemp("drafted") / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'dmip.sqlite3'}"
    migrate.upgrade(url)
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        broker_url="filesystem://",
        secret_key="test-secret-key-0123456789",
        forms_dir=FORMS_DIR,
        embedded=True,
    )
    load_demo_data(settings, 2, seed=1, cycle="2025/26")
    db = Database(url)
    processing.process_waiting(db)
    regenerate_due(db, debounce=0)
    db.dispose()
    return settings


@pytest.fixture
def drafted(drafted_template: Settings, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    shutil.copytree(drafted_template.data_dir, data_dir)
    return drafted_template.with_overrides(
        data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'dmip.sqlite3'}"
    )


def _env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMIP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DMIP_DATABASE_URL", settings.database_url)


def _districts(settings: Settings) -> list[tuple[str, str]]:
    db = Database(settings.database_url)
    with db.session() as s:
        rows = s.execute(
            select(OrgUnit.code, OrgUnit.name)
            .join(DmipPlan, DmipPlan.district_id == OrgUnit.id)
            .order_by(OrgUnit.code)
        ).all()
    db.dispose()
    return [(code, name) for code, name in rows]


def test_plans_list_names_each_plan(drafted: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(drafted, monkeypatch)
    result = CliRunner().invoke(main, ["plans", "list"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.strip().splitlines()]
    assert [(code, name) for code, name, *_ in lines] == _districts(drafted)
    assert all(rest == ["2025/26", "draft", "fresh"] for _, _, *rest in lines)


def test_docx_holds_every_section_and_the_edit(
    drafted: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(drafted, monkeypatch)
    code, name = _districts(drafted)[0]
    db = Database(drafted.database_url)
    with db.session() as s:
        coordinator = s.get(User, add_user(s, "coord", "coordinator", (code,)))
        section = s.scalars(
            select(PlanSection)
            .join(DmipPlan)
            .join(OrgUnit, OrgUnit.id == DmipPlan.district_id)
            .where(OrgUnit.code == code, PlanSection.key == "gap_analysis")
        ).one()
        assert coordinator is not None
        workflow.edit_section(s, section, "Teachers first, then latrines.", coordinator)
    db.dispose()
    output = tmp_path / "plan.docx"
    result = CliRunner().invoke(
        main, ["plans", "export", code, "--format", "docx", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    document = docx.Document(io.BytesIO(output.read_bytes()))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == TITLES
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == f"{name}: District Management Improvement Plan"
    assert "Teachers first, then latrines." in texts
    assert len(document.tables) >= len(TITLES) - 2


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_renders_every_heading(
    drafted: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(drafted, monkeypatch)
    code, name = _districts(drafted)[-1]
    output = tmp_path / "plan.pdf"
    result = CliRunner().invoke(
        main, ["plans", "export", code, "--format", "pdf", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    text = subprocess.run(
        ["pdftotext", str(output), "-"], capture_output=True, text=True, check=True
    ).stdout
    for title in [f"{name}: District Management Improvement Plan", *TITLES]:
        assert title in text


def test_synthesis_covers_every_district(
    drafted: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(drafted, monkeypatch)
    output = tmp_path / "synthesis.docx"
    result = CliRunner().invoke(
        main,
        ["plans", "synthesis", "--cycle", "2025/26", "--format", "docx", "--output", str(output)],
    )
    assert result.exit_code == 0, result.output
    text = "\n".join(p.text for p in docx.Document(str(output)).paragraphs)
    assert "2 districts" in text
    for _, name in _districts(drafted):
        assert name in text


def test_a_coordinators_synthesis_shows_only_the_districts_of_their_area(
    drafted: Settings, tmp_path: Path
) -> None:
    (mine, my_name), (_, other_name) = _districts(drafted)[:2]
    db = Database(drafted.database_url)
    with db.session() as s:
        coordinator = add_user(s, "synth-coord", "coordinator", (mine,))
        job = DocumentJob(plan_id=None, cycle="2025/26", format="docx")
        job.requested_by_id = coordinator
        s.add(job)
        s.commit()
        job_id = job.id
    done = run_job(db, job_id, tmp_path / "documents")
    db.dispose()
    assert done is not None and done.state == "done" and done.file_path, done and done.error
    text = "\n".join(p.text for p in docx.Document(done.file_path).paragraphs)
    assert "1 district" in text and "1 districts" not in text
    assert my_name in text and other_name not in text


def test_unknown_district_and_bad_cycle_are_refused(
    drafted: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(drafted, monkeypatch)
    out = str(tmp_path / "x.pdf")
    result = CliRunner().invoke(
        main, ["plans", "export", "NOPE", "--format", "pdf", "--output", out]
    )
    assert result.exit_code == 1 and "no org unit has the code 'NOPE'" in result.output
    result = CliRunner().invoke(
        main, ["plans", "export", "UG", "--format", "pdf", "--output", out, "--cycle", "2025-26"]
    )
    assert result.exit_code == 2 and "not a planning cycle" in result.output
    assert not Path(out).exists()


def test_a_document_job_reports_progress_to_the_end(drafted: Settings, tmp_path: Path) -> None:
    db = Database(drafted.database_url)
    with db.session() as s:
        plan = s.scalars(select(DmipPlan)).first()
        assert plan is not None
        job = DocumentJob(plan_id=plan.id, cycle=plan.cycle, format="pdf")
        synthesis = DocumentJob(plan_id=None, cycle=plan.cycle, format="docx")
        s.add_all([job, synthesis])
    for each in (job, synthesis):
        done = run_job(db, each.id, tmp_path / "documents")
        assert done is not None and done.state == "done" and done.progress == 1.0
        assert done.file_path and Path(done.file_path).stat().st_size > 10_000
    with db.session() as s:
        bad = DocumentJob(plan_id=None, cycle="2025/26", format="odt")
        s.add(bad)
    failed = run_job(db, bad.id, tmp_path / "documents")
    assert (
        failed is not None and failed.state == "failed" and "unknown format" in (failed.error or "")
    )
    db.dispose()
