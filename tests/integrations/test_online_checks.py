"""Online token checks against local stand-ins for Hugging Face and NGC (real requests over HTTP)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

GOOD_HF = "hf_" + "a" * 34
GOOD_NGC = "nvapi-" + "b" * 60


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/api/whoami-v2"):
            ok = auth == f"Bearer {GOOD_HF}"
            body = {"name": "alice"} if ok else {"error": "Invalid credentials"}
        else:
            expected = "Basic " + base64.b64encode(f"$oauthtoken:{GOOD_NGC}".encode()).decode()
            ok = auth == expected and "service=ngc" in self.path
            body = {"token": "t"} if ok else {"error": "unauthorized"}
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def services(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings.INTEGRATION_ONLINE_CHECKS = True
    settings.HUGGINGFACE_ENDPOINT = base
    settings.NGC_AUTH_URL = base + "/token"
    yield base
    server.shutdown()


def _test(world, kind, token):
    url = reverse("integrations:tenant_token_test", kwargs={"tenant": "acme", "kind": kind})
    return world.client_for(world.owner).post(url, {f"{kind}-token": token}).content.decode()


@pytest.mark.parametrize(
    "kind,good,bad,service",
    [
        ("huggingface", GOOD_HF, "hf_" + "c" * 34, "Hugging Face"),
        ("ngc", GOOD_NGC, "nvapi-" + "d" * 60, "NVIDIA NGC"),
    ],
)
def test_it_asks_the_service_when_online_checks_are_on(world, services, kind, good, bad, service):
    assert f"{service} accepted it" in _test(world, kind, good)
    body = _test(world, kind, bad)
    assert f"{service} rejected it (401)" in body and bad not in body


def test_it_says_when_the_service_is_unreachable(world, settings):
    settings.INTEGRATION_ONLINE_CHECKS = True
    settings.HUGGINGFACE_ENDPOINT = "http://127.0.0.1:1"
    assert "Could not reach Hugging Face" in _test(world, "huggingface", GOOD_HF)


def test_it_makes_no_network_call_when_off(world, settings):
    settings.INTEGRATION_ONLINE_CHECKS = False
    settings.HUGGINGFACE_ENDPOINT = "http://127.0.0.1:1"
    assert "No network check is made" in _test(world, "huggingface", GOOD_HF)
