"""Browser tests (Playwright, Debian's Chromium) and their one shared step: logging in."""

from __future__ import annotations

from tests.conftest import PASSWORD


def log_in(page, live_server, username: str, *, next_path: str = "/", lands: str) -> None:
    """Log in through the real login form, asking for `next_path`; wait until the browser is at `lands`."""
    page.goto(f"{live_server.url}/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{lands}")
