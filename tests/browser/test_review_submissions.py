"""In Chromium: a coordinator reviews a submission (photo shown, decision and comment, history),
reviews a selection at once, exports and downloads; the enumerator reads the issue on a phone.
Screenshots land in tests/artifacts/screenshots/."""

from __future__ import annotations

import io

from PIL import Image
from playwright.sync_api import Page, expect

from server.models import FormVersion, Submission
from server.models.submissions import ReviewState
from tests.browser.conftest import LiveServer, screenshot, sign_in
from tests.exports.test_exports import PASSWORD, World, build_world, school_xml, submit


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def arrange(live: LiveServer) -> World:
    world = build_world(live.settings)
    with world.db.session() as s:
        version = s.get(FormVersion, world.version_id)
        assert version is not None
        world.ids["delta"] = submit(
            s,
            world.blobs,
            version,
            school_xml("uuid:ex-4", "Delta", (("P3", 41, ("Dan",)),), photo="front.png"),
            world.units["S1"],
            world.users["enumerator"],
            photo=("front.png", png()),
        )
    return world


def test_coordinator_reviews_a_submission_and_the_enumerator_reads_the_issue(
    live: LiveServer, page: Page, phone: Page
) -> None:
    world = arrange(live)
    try:
        sign_in(page, live, "coordinator", PASSWORD)
        page.goto(f"/submissions/forms/{world.form_id}")
        expect(page.get_by_role("link", name="uuid:ex-3")).to_have_count(0)  # other district
        screenshot(page, "submissions-table")
        page.get_by_role("link", name="uuid:ex-4").click()
        photo = page.locator("img.photo")
        expect(photo).to_be_visible()
        # The photo really loaded through the permission-checked route.
        assert photo.evaluate("img => img.complete && img.naturalWidth") == 120
        page.get_by_role("radio", name="Has issues").check()
        page.get_by_role("textbox", name="Comment").fill(
            "The photo shows the back of the school, not the front"
        )
        screenshot(page, "submission-review-form")
        page.get_by_role("button", name="Save review").click()
        expect(page.locator("#review-state")).to_have_text("Has issues")
        expect(page.locator(".history")).to_contain_text("the back of the school")
        screenshot(page, "submission-reviewed")

        sign_in(phone, live, "enumerator", PASSWORD)
        phone.goto("/submissions/issues")
        expect(phone.locator(".issues-list")).to_contain_text("the back of the school")
        # Fits a phone: nothing wider than the screen.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(phone, "enumerator-issues-phone")
        phone.locator(".issues-list a").first.click()
        expect(phone.locator("img.photo")).to_be_visible()
        expect(phone.get_by_role("button", name="Save review")).to_have_count(0)
        with world.db.session() as s:
            sub = s.get(Submission, world.ids["delta"])
            assert sub is not None and sub.review_state is ReviewState.has_issues
    finally:
        world.db.dispose()


def test_bulk_review_then_export(live: LiveServer, page: Page) -> None:
    world = arrange(live)
    try:
        sign_in(page, live, "coordinator", PASSWORD)
        page.goto(f"/submissions/forms/{world.form_id}")
        page.get_by_label("Select uuid:ex-1").check()
        page.get_by_label("Select uuid:ex-2").check()
        page.get_by_label("Decision").select_option("approved")
        page.get_by_role("button", name="Apply to selected").click()
        expect(page.locator(".flash-success")).to_contain_text("2 submissions marked")
        expect(page.locator("tr", has_text="uuid:ex-1")).to_contain_text("Approved")
        expect(page.locator("tr", has_text="uuid:ex-4")).to_contain_text("Not reviewed")
        screenshot(page, "submissions-bulk-reviewed")

        page.get_by_label("Export the filtered submissions as").select_option("xlsx")
        page.get_by_role("button", name="Export").click()
        expect(page.locator("#export-state")).to_contain_text("Ready.")
        screenshot(page, "export-ready")
        with page.expect_download() as info:
            page.get_by_role("link", name="Download").click()
        assert info.value.suggested_filename == "ex_school.xlsx"
    finally:
        world.db.dispose()
