"""The README tells a new user where things are: every page path it names answers (as the bootstrap admin),
and every file, folder, link and screenshot it names is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

# Paths on the machine or in Palette's API (`/v1/dashboard`), not in the app or the repository.
MACHINE_PATHS = ("/usr/", "/etc/", "/app/", "/var/", "/v1/")


def _backticked() -> list[str]:
    return [m.strip() for m in re.findall(r"`([^`\n]+)`", README)]


def readme_urls() -> list[str]:
    """`/healthz`, `/django-admin/`: the app's paths the README names."""
    return sorted(
        {t for t in _backticked() if re.fullmatch(r"/[\w\-./]*", t) and not t.startswith(MACHINE_PATHS)}
    )


def readme_files() -> list[str]:
    """Markdown links and images to the repository, and backticked repository paths (`scripts/lint.sh`,
    `tests/fakes/`)."""
    links = [t for t in re.findall(r"\]\(([^)\s]+)\)", README) if "://" not in t]
    # .local/ is made by `make run` (the database, the simulator's CA): not part of a checkout.
    tops = {p.name for p in ROOT.iterdir()} - {".local"}
    repo_path = r"[\w\-.]+(/[\w\-.]*)+|[\w\-]+\.(sh|py|toml|md|yaml|txt)"
    named = [t for t in _backticked() if re.fullmatch(repo_path, t) and t.split("/")[0] in tops]
    return sorted(set(links + named))


def test_it_finds_what_the_readme_names():
    # The finders must see the README's real paths, or the tests below pass on nothing.
    assert {"/django-admin/", "/healthz", "/readyz", "/metrics"} <= set(readme_urls())
    assert {"docs/screenshots/inventory.png", "docs/architecture.md", "scripts/lint.sh"} <= set(
        readme_files()
    )


@pytest.mark.parametrize("path", readme_urls())
def test_every_page_the_readme_names_answers(path, client, db, settings):
    settings.METRICS_TOKEN = "readme-token"  # /metrics answers a scrape that brings the token
    admin = get_user_model().objects.create_superuser(
        "readme-admin", "admin@example.com", "a-long-password-1"
    )
    client.force_login(admin)
    response = client.get(path, HTTP_AUTHORIZATION="Bearer readme-token")
    # /readyz may say 503 (a broker down): the page is there and answers; a 404 or 500 is a wrong README.
    assert response.status_code in (200, 301, 302, 503), f"README names {path}: {response.status_code}"
    if response.status_code in (301, 302):
        assert "/login/" not in response["Location"], f"README names {path}: it asks to log in again"


@pytest.mark.parametrize("name", readme_files())
def test_every_file_the_readme_names_exists(name):
    assert (ROOT / name).exists(), f"README names {name}, which is not in the repository"
