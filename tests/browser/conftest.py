"""Every browser test fails on what a user would see go wrong, on every page it visits: a console error, an
uncaught page error, an htmx error event (a bad hx-trigger, a 4xx/5xx answer to an htmx request, a failed
swap) or a failed request (no answer, or an HTTP error status). A test that expects one says so with
`browser_errors.allow("substring")`."""

from __future__ import annotations

import pytest

# htmx fires `htmx:error` after each of its error events (htmx:syntax:error, htmx:responseError, ...);
# reporting it on the console lets one listener see them all, on every page the test visits.
HTMX_ERRORS = """
document.addEventListener("htmx:error", (event) => {
  const info = (event.detail && event.detail.errorInfo) || {};
  console.error("htmx error event: " + (info.eventName || "htmx:error") + " " + JSON.stringify(
    {status: info.xhr && info.xhr.status, path: info.pathInfo && info.pathInfo.requestPath}));
});
"""


class BrowserErrors:
    def __init__(self):
        self.seen: list[str] = []
        self.allowed: list[str] = []

    def allow(self, fragment: str) -> None:
        self.allowed.append(fragment)

    def add(self, what: str) -> None:
        self.seen.append(what)

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(a in e for a in self.allowed)]


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture(autouse=True)
def _fail_on_browser_errors(request, browser_errors):
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    page.add_init_script(HTMX_ERRORS)
    page.on(
        "console", lambda m: m.type == "error" and browser_errors.add(f"console: {m.text} ({m.location})")
    )
    page.on("pageerror", lambda e: browser_errors.add(f"page error: {e}"))
    page.on("requestfailed", lambda r: _failed(browser_errors, r))
    page.on(
        "response",
        lambda r: r.status >= 400 and browser_errors.add(f"HTTP {r.status}: {r.request.method} {r.url}"),
    )
    yield
    errors = browser_errors.unexpected()
    assert not errors, "the browser saw errors:\n" + "\n".join(errors)


def _failed(errors: BrowserErrors, request) -> None:
    # A request the browser itself abandons (a navigation replacing a poll in flight) is not an error a user
    # sees; any other failure (refused, reset, DNS, TLS) is.
    if "ERR_ABORTED" not in (request.failure or ""):
        errors.add(f"request failed: {request.method} {request.url} ({request.failure})")
