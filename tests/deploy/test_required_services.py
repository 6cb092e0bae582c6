"""make test fails on a missing service instead of skipping; by hand, the same tests skip
(tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, require_services


def test_it_fails_a_test_without_redis_under_make_test(settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match=r"needs Redis \(REDIS_URL\).*REQUIRE_SERVICES=1"):
        require_services(postgres=False)


def test_it_skips_a_test_without_redis_by_hand(settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs Redis \(REDIS_URL\): run it with make test"):
        require_services(postgres=False)


def test_it_names_a_missing_chromium(settings, monkeypatch):
    monkeypatch.setattr("tests.conftest.CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="Chromium"):
        require_services(redis=False, postgres=False, chromium=True)


def test_it_passes_quietly_when_nothing_is_needed():
    assert require_services(redis=False, postgres=False) is None


def test_make_test_requires_the_services():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "export REQUIRE_SERVICES=1" in script
    assert script.index("REQUIRE_SERVICES") < script.index("exec scripts/with-services.sh")
    assert "scripts/test.sh" in (ROOT / "Makefile").read_text()
