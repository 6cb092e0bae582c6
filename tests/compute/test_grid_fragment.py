"""The grid fragment (every filter, sort and page click) runs only the grid's queries, not the page's
aggregates."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench.grid import make_hosts


def test_it_answers_filter_clicks_without_the_pages_aggregates(world):
    make_hosts(world.project_a, 0, 300)
    client = world.client_for(world.viewer)
    url = reverse("compute:inventory", args=["acme", "research"])
    params = {"status": "ready", "eligible": "yes", "sort": "-cpu"}
    with CaptureQueriesContext(connection) as page_queries:
        page = client.get(url, params)
    with CaptureQueriesContext(connection) as fragment_queries:
        fragment = client.get(url, params, HTTP_HX_REQUEST="true")
    assert page.status_code == fragment.status_code == 200
    rows = page.context["page"].object_list
    body = fragment.content.decode()
    assert "<html" not in body and 'id="grid"' in body and body.count("<tr>") == len(rows) + 1
    assert all(h.uid in body for h in rows)
    # The page still offers the filter menus and the capacity summary...
    assert page.context["facets"]["states"] and page.context["groups"]["control_plane"]
    # ...the fragment, which shows neither, no longer counts them (DISTINCT facets, GROUP BY capacity, sync
    # status).
    heavy = [
        q["sql"]
        for q in fragment_queries.captured_queries
        if "DISTINCT" in q["sql"] or "GROUP BY" in q["sql"] or "compute_discoveryrun" in q["sql"]
    ]
    assert heavy == []
    # Skipped: the facets (one DISTINCT scan), capacity, sync status and the policy: four queries at least.
    assert len(fragment_queries) <= len(page_queries) - 4
