"""htmx helpers: one way to pick a fragment, answer a valid POST and stop polling."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

# htmx stops polling when it receives this status (https://htmx.org/docs/#polling).
STOP_POLLING = 286


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request that is not boosted gets a fragment; everything else gets the page."""
    return bool(request.htmx) and not request.htmx.boosted


def render_page(
    request: HttpRequest, template: str, context: dict, fragment: str | None = None, status: int = 200
) -> HttpResponse:
    """Render `template`, or only its partial `fragment` for htmx requests."""
    name = f"{template}#{fragment}" if fragment and wants_fragment(request) else template
    return render(request, name, context, status=status)


def redirect_after_post(request: HttpRequest, url: str) -> HttpResponse:
    """A valid POST answers HX-Location for htmx and a plain redirect otherwise."""
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Location": url})
    return HttpResponseRedirect(url)


def poll_response(response: HttpResponse, terminal: bool) -> HttpResponse:
    """Stop htmx polling once the run is terminal."""
    if terminal:
        response.status_code = STOP_POLLING
    return response
