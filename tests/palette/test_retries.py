"""Transient failures are survived (with backoff, Retry-After), permanent ones are not retried."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from palette import PaletteConnectionError, PaletteTimeout, RateLimited, RetryPolicy
from palette.sim import Simulator


def test_it_survives_injected_faults_with_the_same_result(make_client):
    with Simulator(hosts=400, seed=21, validate=True) as sim:
        # A short cap on Retry-After (503 sends 1 s) keeps the test quick; a test below checks it is honoured.
        client = make_client(sim, retry=RetryPolicy(attempts=8, base=0.01, cap=0.1, retry_after_cap=0.1))
        clean = {h.uid for h in client.search_edge_hosts()}
        sim.set_faults("429:0.15,502:0.05,503:0.05,504:0.05,reset:0.05,malformed:0.05,latency:1-3ms")
        before = len(sim.seen())
        faulty = client.search_edge_hosts()
        for _ in range(10):
            client.get_edge_host(faulty[0].uid)
        statuses = [r.status for r in sim.seen()[before:]]
        assert [h.uid for h in faulty] and {h.uid for h in faulty} == clean
        assert len(faulty) == len(clean)  # each host once, despite retried pages
        # The faults really happened (0 = connection reset): otherwise this test proves nothing.
        assert sum(1 for s in statuses if s in (0, 429, 502, 503, 504)) >= 2, statuses
        assert sim.violations == []


def test_it_backs_off_on_its_own_when_a_429_carries_no_retry_after(make_client):
    with Simulator(hosts=5, rate_burst_seconds=1.0) as sim:  # 10 requests of burst on /v1/dashboard
        # Palette documents no Retry-After on its 429s: the simulator sends none either.
        raw = [
            requests.get(
                sim.url + "/v1/dashboard/projects/metadata",
                headers={"ApiKey": sim.api_key},
                verify=sim.ca_path,
            )
            for _ in range(15)
        ]
        limited = [r for r in raw if r.status_code == 429]
        assert limited and all("Retry-After" not in r.headers for r in limited)
        assert limited[0].json()["code"] == "TooManyRequests"
        time.sleep(1.5)  # let the bucket fill again
        records = []
        client = make_client(
            sim,
            rate_limiter=False,
            request_log=records.append,
            retry=RetryPolicy(attempts=8, base=0.2, cap=1.0),
        )
        errors = []

        def burst() -> None:
            try:
                for _ in range(5):
                    client.list_projects()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [r for r in records if r.status == 429], (
            "the simulator never rate-limited: the test would prove nothing"
        )
        by_thread_retry = [r for r in records if r.attempt > 1]
        assert by_thread_retry and all(r.status in (200, 429) for r in by_thread_retry)


def test_it_honours_retry_after_when_palette_sends_one(make_client):
    with Simulator(hosts=5, seed=3, rate_limit=False) as sim:
        records = []
        client = make_client(
            sim,
            request_log=records.append,
            retry=RetryPolicy(attempts=12, base=0.01, cap=0.05, retry_after_cap=5),
        )
        sim.set_faults("503:0.5")  # an injected 503 carries Retry-After: 1
        started = time.monotonic()
        for _ in range(3):
            client.whoami()
        unavailable = sum(1 for r in records if r.status == 503)
        assert unavailable, "no 503 was drawn: the test would prove nothing"
        # Each 503 was followed by a wait of Retry-After: 1 second, not the 10-50 ms backoff of the policy.
        assert time.monotonic() - started >= unavailable * 1.0


def test_it_does_not_repeat_a_create_that_may_have_been_processed(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    body = {"metadata": {"name": "maybe-created"}, "spec": {"profiles": [], "machinepoolconfig": []}}
    sim.set_faults("reset:1")
    with pytest.raises(PaletteConnectionError) as err:
        client.create_edge_native_cluster(body)
    assert (
        not err.value.before_send and len(records) == 1
    )  # reset after sending: outcome unknown, not retried
    sim.set_faults("429:1")
    records.clear()
    with pytest.raises(RateLimited):
        client.create_edge_native_cluster(body)
    assert len(records) == 6  # 429 means "not processed": retried up to the policy's attempts
    sim.set_faults(None)


def test_it_times_out_and_retries_a_slow_read(sim, make_client):
    sim.set_faults("latency:400ms")
    records = []
    client = make_client(
        sim,
        timeout=(2.0, 0.1),
        request_log=records.append,
        retry=RetryPolicy(attempts=2, base=0.01, cap=0.01),
    )
    with pytest.raises(PaletteTimeout) as err:
        client.whoami()
    assert err.value.transient and "within 0.1s" in str(err.value) and sim.url in str(err.value)
    assert [r.attempt for r in records] == [1, 2]
    sim.set_faults(None)
