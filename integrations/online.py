"""Optional online checks of Hugging Face tokens and NGC API keys (INTEGRATION_ONLINE_CHECKS=true).

Off by default: many PaletteAI installs are air-gapped. When on, "Test" asks the service whether
it accepts the credential, with a short timeout; the credential is sent only to that service and
never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings

TIMEOUT = (3.0, 5.0)


@dataclass
class Verdict:
    ok: bool
    message: str


def check(kind: str, token: str) -> Verdict:
    """Ask Hugging Face (whoami) or NVIDIA's NGC authentication service whether `token` is accepted."""
    if kind == "huggingface":
        url = settings.HUGGINGFACE_ENDPOINT.rstrip("/") + "/api/whoami-v2"
        request = {"headers": {"Authorization": f"Bearer {token}"}}
        service = "Hugging Face"
    else:
        url = settings.NGC_AUTH_URL
        # NGC API keys are exchanged for a token with the literal user name "$oauthtoken".
        request = {"params": {"service": "ngc"}, "auth": ("$oauthtoken", token)}
        service = "NVIDIA NGC"
    try:
        response = requests.get(url, **request, timeout=TIMEOUT)
    except requests.RequestException as exc:
        return Verdict(
            False,
            f"Could not reach {service} at {url} ({type(exc).__name__}); "
            "check this server's network or proxy.",
        )
    if response.status_code == 200:
        name = ""
        if kind == "huggingface":
            try:
                name = response.json().get("name") or ""
            except ValueError:
                name = ""
        return Verdict(True, f"{service} accepted it" + (f" (user {name})." if name else "."))
    if response.status_code in (401, 403):
        return Verdict(
            False, f"{service} rejected it ({response.status_code}): create a new one and paste it again."
        )
    return Verdict(False, f"{service} answered {response.status_code}; try again later.")
