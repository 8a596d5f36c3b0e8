"""In a real browser: upload a broken XLSForm, read the problem by sheet and row, upload the
fixed one and publish it for ODK Collect."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from server.domain.roles import Role
from tests.browser.conftest import LiveServer, screenshot, sign_in
from tests.fixtures.xlsforms.build import simple_form, xlsform

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BROKEN = xlsform(
    [("type", "name", "label"), ("integer", "pupils", "Pupils"), ("integer", "pupils", "Again")],
    settings=[["form_id", "form_title", "version"], ["school_visit", "School visit", "1"]],
)


def choose(page: Page, data: bytes, name: str = "school_visit.xlsx") -> None:
    page.get_by_label("XLSForm file (.xlsx)").set_input_files(
        files=[{"name": name, "mimeType": XLSX, "buffer": data}]
    )


def test_publish_a_form_after_fixing_its_error(
    live: LiveServer, page: Page, make_user: Callable[..., object]
) -> None:
    make_user("admin", Role.admin)
    sign_in(page, live, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Forms").click()
    expect(page.get_by_role("heading", name="Forms", exact=True)).to_be_visible()
    screenshot(page, "forms-empty")
    page.get_by_role("link", name="Upload an XLSForm").click()

    choose(page, BROKEN)
    page.get_by_role("button", name="Check and store as draft").click()
    issues = page.locator("section.issues")
    expect(issues.get_by_role("heading")).to_contain_text("1 problem to fix")
    row = issues.locator("tbody tr").first
    expect(row.locator("td").nth(0)).to_have_text("error")
    expect(row.locator("td").nth(1)).to_have_text("survey")
    expect(row.locator("td").nth(2)).to_have_text("3")
    expect(row.locator("td").nth(3)).to_contain_text("'pupils' is invalid")
    screenshot(page, "forms-upload-error")

    choose(page, simple_form(version="1"))
    page.get_by_role("button", name="Check and store as draft").click()
    expect(page.get_by_role("status")).to_contain_text("stored as a draft")
    expect(page.locator(".state").first).to_have_text("draft")
    assert b"school_visit" not in page.request.get("/formList").body()
    screenshot(page, "forms-draft")

    page.get_by_role("button", name="Publish: open for ODK Collect").click()
    expect(page.get_by_role("status")).to_contain_text("ODK Collect can download it now")
    expect(page.locator(".state").first).to_have_text("open")
    screenshot(page, "forms-open")
    # Collect's form list now offers it.
    assert b"school_visit" in page.request.get("/formList").body()

    page.get_by_role("link", name="← Forms").click()
    expect(page.get_by_role("row", name="School visit")).to_contain_text("school_visit")
    screenshot(page, "forms-list")
