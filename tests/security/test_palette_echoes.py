"""What Palette sends back reaches our messages and pages only redacted, bounded and with bidi controls
visible.

Against a hostile Palette on loopback (tests/fakes/hostile_palette.py) for what no honest one sends — the key
echoed across the point where a body is cut, or encoded, or in a redirect's Location; messages of megabytes;
an answer without end — and against the real simulator for bidi controls in an edge host's name and tags,
through discovery onto the inventory page.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from palette import PaletteClient, PaletteError, PaletteHTTPError, ResponseTooLarge, RetryPolicy
from palette.errors import MAX_MESSAGE_CHARS
from palette.transport import MAX_RESPONSE_BYTES
from tests.fakes.hostile_palette import HostilePalette

KEY = "CNRY+echo/7f3k2m9q4w8e1r5t6y=="
RLO, LRI = "\u202e", "\u2066"
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def palette():
    with HostilePalette() as hostile:
        yield hostile


def _client(url: str, key: str = KEY, **kwargs) -> PaletteClient:
    return PaletteClient(url, key, retry=RetryPolicy(attempts=1), rate_limiter=False, **kwargs)


def _failure(palette: HostilePalette, exc_type: type[PaletteError] = PaletteError) -> PaletteError:
    with _client(palette.url) as client, pytest.raises(exc_type) as err:
        client.whoami()
    return err.value


def _key_pieces(text: str) -> list[str]:
    """Every 6-character piece of the key found in `text` (a key cut in two still leaks its start)."""
    return [KEY[i : i + 6] for i in range(len(KEY) - 5) if KEY[i : i + 6] in text]


def _everything(exc: PaletteError) -> str:
    return " ".join(
        [str(exc), repr(exc), exc.palette_message, str(exc.code), exc.ref, json.dumps(exc.details)]
    )


@pytest.mark.parametrize("status,cut", [(502, 200), (200, 120)], ids=["error body", "success body"])
def test_it_redacts_a_key_echoed_across_the_cut(palette, status, cut):
    # Not JSON, so only the start of the body is quoted: the key starts 7 characters before the cut.
    palette.answer(status, "<html>" + "x" * (cut - 14) + f" {KEY} </html>", {"Content-Type": "text/html"})
    exc = _failure(palette)
    assert palette.requests and palette.requests[0][2]["ApiKey"] == KEY  # the key did go out, and came back
    assert "x" * 20 in str(exc)  # the body was quoted, up to the cut
    assert _key_pieces(_everything(exc)) == []


def test_it_redacts_the_key_echoed_url_encoded_or_in_base64(palette):
    basic = base64.b64encode(f"apikey:{KEY}".encode()).decode()
    bearer = base64.urlsafe_b64encode(f"{{'k': '{KEY}'}}".encode()).decode()
    message = f"denied /v1/x?key={quote(KEY, safe='')} Authorization: Basic {basic} token {bearer}"
    palette.answer(401, json.dumps({"code": "Unauthorized", "message": message, "details": {"seen": basic}}))
    text = _everything(_failure(palette))
    assert "/v1/x?key=" in text and text.count("[REDACTED]") >= 3
    assert quote(KEY, safe="") not in text
    for encoded in (basic, bearer):  # at most the characters shared with a neighbour stay
        assert encoded[12:-12] not in text


def test_it_does_not_quote_where_a_redirect_points(palette):
    palette.answer(302, headers={"Location": f"https://login.example/?apiKey={KEY}&next=/v1/users/info"})
    exc = _failure(palette, PaletteHTTPError)
    assert exc.status == 302 and "redirected GET /v1/users/info elsewhere" in str(exc)
    assert "login.example" not in _everything(exc) and _key_pieces(_everything(exc)) == []


def test_it_bounds_what_palette_says_in_an_error(palette):
    palette.answer(
        400, json.dumps({"code": "C" * 1_000_000, "message": "m" * 3_000_000, "ref": "r" * 1_000_000})
    )
    exc = _failure(palette)
    assert len(exc.palette_message) <= MAX_MESSAGE_CHARS and exc.palette_message.startswith("mmm")
    assert len(str(exc.code)) <= MAX_MESSAGE_CHARS and len(exc.ref) <= MAX_MESSAGE_CHARS
    # The whole message (what the Settings page and a run's error show) stays a paragraph.
    assert len(str(exc)) < 3 * MAX_MESSAGE_CHARS + 600 and str(exc).endswith(exc.hint)


def test_it_stops_reading_an_answer_over_the_bound(palette):
    palette.answer(
        200, chunks=[b" " * 2**20] * (MAX_RESPONSE_BYTES // 2**20 * 2)
    )  # twice the bound, no length
    records = []
    retrying = dict(retry=RetryPolicy(attempts=3, base=0.01), rate_limiter=False, request_log=records.append)
    with PaletteClient(palette.url, KEY, **retrying) as client, pytest.raises(ResponseTooLarge) as err:
        client.whoami()
    assert not err.value.transient and len(records) == 1  # it would recur: not retried
    assert f"more than {MAX_RESPONSE_BYTES // 2**20} MiB" in str(err.value)
    # The client hung up at the bound: the second half was never sent (only what the sockets buffer).
    assert palette.sent < MAX_RESPONSE_BYTES * 3 // 2

    palette.answer(200, headers={"Content-Length": str(MAX_RESPONSE_BYTES + 1)})  # said, not sent
    with _client(palette.url) as client, pytest.raises(ResponseTooLarge):
        client.whoami()

    # Control: a large but realistic answer (many full pages' worth) is read whole.
    body = json.dumps({"userUid": "u1", "orgName": "Acme", "pad": "p" * (20 * 2**20)})
    palette.answer(200, body)
    with _client(palette.url) as client:
        assert client.whoami().user_uid == "u1"


def test_it_makes_bidi_controls_from_palette_visible(sim, palette):
    uid = next(h.uid for h in sim.state.hosts.values() if h.project_uid == sim.project_uids[0])
    with sim.state.lock:
        host = sim.state.hosts[uid]
        host.name, host.labels["site"] = f"edge-{RLO}gnp.exe", f"lab{LRI}-a"
        sim.state.touch()
    # The simulator escapes them in JSON ("\u202e"); this Palette sends them as UTF-8 in an error.
    palette.answer(
        409,
        json.dumps(
            {"code": f"Conflict{RLO}", "message": f"edge host {RLO}exe.gnp is busy"}, ensure_ascii=False
        ),
    )
    with PaletteClient(sim.url, sim.api_key, ca_pem=sim.ca_pem, project_uid=sim.project_uids[0]) as client:
        found = client.get_edge_host(uid)
        listed = next(h for h in client.search_edge_hosts() if h.uid == uid)
    for h in (found, listed):
        assert h.name == "edge-[U+202E]gnp.exe" and h.labels["site"] == "lab[U+2066]-a"
    exc = _failure(palette)
    assert BIDI.search(_everything(exc)) is None and "edge host [U+202E]exe.gnp is busy" in str(exc)


@pytest.mark.django_db
def test_it_shows_no_bidi_control_on_the_inventory_page(world, connected_project, sim):
    from compute.discovery import run_discovery
    from compute.models import DiscoveryRun

    uid = next(h.uid for h in sim.state.hosts.values() if h.project_uid == sim.project_uids[0])
    with sim.state.lock:
        sim.state.hosts[uid].name = f"edge-{RLO}gnp.exe"
        sim.state.touch()
    run = run_discovery(DiscoveryRun.objects.create(project=connected_project, trigger="test"))
    assert run.status == "succeeded", run.first_error
    response = world.client_for(world.owner).get(
        reverse("compute:inventory", args=[connected_project.tenant.name, connected_project.name]), {"q": uid}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "edge-[U+202E]gnp.exe" in body
    assert BIDI.search(body) is None
