"""In a real browser on a processed demo district: a coordinator's dashboard, indicators and
DMIP draft; editing and approving a section; downloading the DOCX the worker writes. Every
page is weighed (under 300 KB, everything from our server) and photographed."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import docx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from server.demo.load import load_demo_data
from server.domain.roles import Role
from server.models import DmipPlan, OrgUnit
from tests.browser.conftest import LiveServer, screenshot, sign_in
from tests.browser.test_admin_pages import MAX_PAGE_BYTES, load
from tests.web_demo import process_and_draft
from workers.document_jobs import run_job

CYCLE = "2025/26"
EDITED = "Teachers come first: the district recruits 40 teachers before it builds latrines."


def drafted_district(live: LiveServer) -> tuple[str, str]:
    """One demo district's data through ingest and drafting; its (code, name)."""
    load_demo_data(live.settings, 1, seed=1, cycle=CYCLE)
    database = live.app.extensions["dmip"].db
    process_and_draft(database)
    with database.session() as s:
        code, name = s.execute(
            select(OrgUnit.code, OrgUnit.name).join(DmipPlan, DmipPlan.district_id == OrgUnit.id)
        ).one()
    return code, name


def test_edit_approve_and_download_a_dmip_section(
    live: LiveServer, page: Page, make_user: Callable[..., object]
) -> None:
    code, name = drafted_district(live)
    make_user("okello", Role.coordinator, [code])
    page.context.new_cdp_session(page).send("Network.setCacheDisabled", {"cacheDisabled": True})
    sign_in(page, live, "okello")

    assert load(page, "/") < MAX_PAGE_BYTES
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("img", name="Submissions received per week")).to_be_visible()
    screenshot(page, "dashboard-coordinator")

    page.get_by_role("link", name="Indicators").first.click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{name} {code}")
    assert load(page, page.url) < MAX_PAGE_BYTES
    screenshot(page, "indicators-district")

    page.get_by_role("link", name="DMIP drafts").first.click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("DMIP 2025/26")
    assert load(page, page.url) < MAX_PAGE_BYTES
    screenshot(page, "plan-draft")

    section = page.locator("#section-gap_analysis")
    section.get_by_text("Edit the narrative").click()
    section.get_by_role("textbox", name=re.compile("Text of")).fill(EDITED)
    section.get_by_role("button", name="Save text").click()
    expect(page.get_by_role("status")).to_contain_text("Your text for 'Gap analysis' is saved.")
    expect(section.locator(".plan-body").get_by_text(EDITED)).to_be_visible()

    section.get_by_role("button", name="Submit for review").click()
    expect(section.locator(".heading .state")).to_have_text("in review")
    section.get_by_role("button", name="Approve").click()
    expect(section.locator(".heading .state")).to_have_text("approved")
    # Approved and frozen: no edit form any more.
    expect(section.get_by_text("Edit the narrative")).to_have_count(0)
    screenshot(page, "plan-section-approved")

    page.get_by_role("button", name="Download DOCX").click()
    expect(page.get_by_role("status")).to_contain_text("waiting for a worker")
    job_id = int(page.url.rsplit("/", 1)[1])
    # The worker's task body; the page follows its progress without reloading.
    run_job(live.app.extensions["dmip"].db, job_id, live.settings.data_dir / "documents")
    link = page.get_by_role("link", name=f"Download DMIP-{code}-2025-26.docx")
    expect(link).to_be_visible()
    expect(page.locator("progress")).to_have_attribute("value", "100")
    screenshot(page, "plan-document-ready")
    with page.expect_download() as download:
        link.click()
    data = Path(download.value.path()).read_bytes()
    document = docx.Document(io.BytesIO(data))
    assert EDITED in [p.text for p in document.paragraphs]


def test_plan_page_on_a_phone(
    live: LiveServer, phone: Page, make_user: Callable[..., object]
) -> None:
    code, name = drafted_district(live)
    make_user("okello", Role.coordinator, [code])
    sign_in(phone, live, "okello")
    screenshot(phone, "dashboard-phone")
    phone.get_by_role("link", name="DMIP drafts").first.click()
    expect(phone.get_by_role("heading", name="DMIP drafts")).to_be_visible()
    phone.get_by_role("link", name=name).click()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("DMIP 2025/26")
    # Nothing but wide tables and charts (each in its own scroller) may be wider than the screen.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + 1
    screenshot(phone, "plan-phone")
