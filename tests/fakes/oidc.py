"""The test OpenID provider process (tests/fakes/oidc_provider.mjs, the `oidc-provider` npm package on Node),
started on loopback and stopped by its PID."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
CLIENT_ID = "paletteai-admin"
CLIENT_SECRET = "test-client-secret-9f3a"  # noqa: S105 - the fake provider's own client


class FakeProvider:
    def __init__(self, accounts_file: Path, redirect_uri: str, refresh_tokens: bool = True, **env: str):
        """`env`: CLOCK_OFFSET (seconds) or TAMPER=signature, for the bad ID token cases (see the script)."""
        self.accounts_file = accounts_file
        self.redirect_uri = redirect_uri
        self.refresh_tokens = refresh_tokens
        self.env = env
        self.process: subprocess.Popen | None = None
        self.issuer = ""

    def set_accounts(self, accounts: dict) -> None:
        self.accounts_file.write_text(json.dumps(accounts))

    def start(self) -> FakeProvider:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed: scripts/install.sh installs npm (and Node.js) for the tests")
        env = {
            **os.environ,
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "REDIRECT_URI": self.redirect_uri,
            "POST_LOGOUT_REDIRECT_URI": self.redirect_uri.replace("/oidc/callback/", "/login/"),
            "REFRESH_TOKENS": "on" if self.refresh_tokens else "off",
            **self.env,
            "ACCOUNTS_FILE": str(self.accounts_file),
        }
        self.process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=SCRIPT.parents[2],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline().decode()
                if line.startswith("issuer "):
                    self.issuer = line.split(" ", 1)[1].strip()
                    return self
                if not line:
                    break
        self.stop()
        pytest.fail("the OpenID provider (tests/fakes/oidc_provider.mjs) did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
