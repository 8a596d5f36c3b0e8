"""In a real browser: sign-in, admin pages, page weight and self-hosted assets, keyboard use,
phone-sized screens. Screenshots of each page land in tests/artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, Response, expect

from server.domain.roles import Role
from server.services.orgunits import OrgRow, import_org_units
from tests.browser.conftest import PASSWORD, LiveServer, screenshot, sign_in

MAX_PAGE_BYTES = 300 * 1024
UNITS = [
    OrgRow(1, "UG", "Uganda", "country"),
    OrgRow(2, "UG-C", "Central", "region", "UG"),
    OrgRow(3, "UG-101", "Kalangala", "district", "UG-C"),
    OrgRow(4, "UG-102", "Kampala", "district", "UG-C"),
    OrgRow(5, "UG-101-01", "Bujumba", "subcounty", "UG-101"),
]


def arrange(live: LiveServer, make_user: Callable[..., object]) -> None:
    with live.db() as session:
        import_org_units(session, UNITS)
    make_user("admin", Role.admin)
    make_user("okello", Role.coordinator, ["UG-101"])


def load(page: Page, path: str) -> int:
    """Open a page with an empty cache; returns the bytes it loaded. Only our server answers."""
    responses: list[Response] = []

    def seen(response: Response) -> None:
        responses.append(response)

    page.on("response", seen)
    page.goto(path)
    page.wait_for_load_state("load")
    page.remove_listener("response", seen)
    origin = page.url.split("/", 3)[:3]
    for response in responses:
        assert response.url.split("/", 3)[:3] == origin, f"{path} loaded {response.url}"
    loaded = {r.url.rsplit("/", 1)[-1] for r in responses}
    assert {"app.css", "app.js"} <= loaded, f"{path} was weighed without its assets"
    return sum(len(r.body()) for r in responses if r.status < 300)


def test_admin_pages_are_light_and_self_hosted(
    live: LiveServer, page: Page, make_user: Callable[..., object]
) -> None:
    arrange(live, make_user)
    # Every page is weighed as a first visit: nothing comes from the browser's cache.
    page.context.new_cdp_session(page).send("Network.setCacheDisabled", {"cacheDisabled": True})
    assert load(page, "/login") < MAX_PAGE_BYTES
    screenshot(page, "login")
    sign_in(page, live, "admin")
    pages = {
        "home-admin": "/",
        "users": "/admin/users",
        "user-new": "/admin/users/new",
        "orgunits": "/admin/orgunits?level=district",
        "forms-upload": "/admin/forms/upload",
        "password": "/account/password",
    }
    for name, path in pages.items():
        size = load(page, path)
        assert size < MAX_PAGE_BYTES, f"{path}: {size} bytes"
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        screenshot(page, name)


def test_wrong_password_then_sign_in(
    live: LiveServer, page: Page, make_user: Callable[..., object]
) -> None:
    arrange(live, make_user)
    page.goto("/admin/users")
    expect(page).to_have_url(f"{live.url}/login?next=/admin/users")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-it")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    screenshot(page, "login-error")
    # Keyboard only: the form is reachable and submits with Enter.
    page.get_by_label("Password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live.url}/admin/users")


def test_create_an_enumerator_and_show_their_collect_code(
    live: LiveServer, page: Page, make_user: Callable[..., object]
) -> None:
    arrange(live, make_user)
    sign_in(page, live, "admin")
    page.goto("/admin/users/new")
    page.get_by_label("Username").fill("amina")
    page.get_by_label("Full name").fill("Amina Nakato")
    page.get_by_label("Role").select_option("enumerator")
    page.get_by_label("Areas").fill("UG-999")
    page.get_by_label("First password").fill("amina-pass-1")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("alert")).to_contain_text("UG-999")
    expect(page.get_by_label("Username")).to_have_value("amina")  # kept for the fix
    page.get_by_label("Areas").fill("UG-101-01")
    page.get_by_label("First password").fill("amina-pass-1")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("User amina created")
    screenshot(page, "user-detail")
    page.get_by_role("link", name="ODK Collect QR code").click()
    code = page.get_by_role("img", name="QR code")
    expect(code).to_be_visible()
    assert code.evaluate("img => img.naturalWidth") > 100  # the SVG loaded and drew
    screenshot(page, "collect-qr")


def test_coordinator_sees_their_district_only(
    live: LiveServer, page: Page, make_user: Callable[..., object]
) -> None:
    arrange(live, make_user)
    sign_in(page, live, "okello")
    main = page.get_by_role("main")
    expect(main).to_contain_text("Kalangala")
    expect(main).not_to_contain_text("Kampala")
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    screenshot(page, "home-coordinator")
    page.goto("/admin/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")


def test_pages_fit_a_phone_screen(
    live: LiveServer, phone: Page, make_user: Callable[..., object]
) -> None:
    arrange(live, make_user)
    sign_in(phone, live, "admin")
    for name, path in {"phone-home": "/", "phone-users": "/admin/users"}.items():
        phone.goto(path)
        overflow = phone.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        screenshot(phone, name)
