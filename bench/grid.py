"""Benchmark: the inventory grid's first page at 10,000 hosts against Django admin's changelist of the
same hosts.

Both are rendered through Django's test client in the same process, alternating, by a logged-in
superuser; both show 50 hosts per page (the admin's list_per_page is set to match). Also checks
that the grid's query count is the same at 10 hosts and at 10,000. Target: ratio <= 1.0.

    .venv/bin/python bench/grid.py [--hosts 10000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import django_env  # noqa: E402


def make_hosts(project, start: int, count: int) -> None:
    import random

    from compute.eligibility import Reason
    from compute.models import EdgeHost

    missing = [Reason.of("missing_tag", tag="palette.ai=true").to_json()]
    rng = random.Random(start)
    models = [
        ("NVIDIA", "GA100 [A100 PCIe 40GB]", 40960),
        ("NVIDIA", "AD102GL [L40S]", 46068),
        ("AMD", "MI210", 65536),
    ]
    rows = []
    for i in range(start, start + count):
        gpu = rng.choice(models + [None, None])
        gpus = (
            [{"vendor": gpu[0], "model": gpu[1], "count": rng.choice([1, 2, 4]), "memoryMiB": gpu[2]}]
            if gpu
            else []
        )
        eligible = rng.random() < 0.6
        rows.append(
            EdgeHost(
                project=project,
                uid=f"edge-{i:08x}",
                name=f"edge-{i:05d}",
                state=rng.choice(["ready", "ready", "in-use", "unpaired"]),
                health=rng.choice(["healthy", "healthy", "unhealthy"]),
                architecture=rng.choice(["amd64", "arm64"]),
                cpu_cores=rng.choice([8, 16, 32, 64]),
                memory_mib=rng.choice([16384, 65536, 262144]),
                gpus=gpus,
                gpu_total=sum(g["count"] for g in gpus),
                gpu_models=" | ".join(g["model"] for g in gpus),
                tags={"palette.ai": "true", "site": f"s{i % 7}"} if eligible else {"site": f"s{i % 7}"},
                ip=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                eligible=eligible,
                reasons=[] if eligible else missing,
                fingerprint="x",
            )
        )
    EdgeHost.objects.bulk_create(rows, batch_size=1000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    django_env.setup()
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from compute.models import EdgeHost
    from tenancy.models import Project, Tenant

    tenant = Tenant.objects.create(name="bench", display_name="Bench")
    project = Project.objects.create(tenant=tenant, name="bench", display_name="Bench", namespace="bench")
    user = get_user_model().objects.create_superuser("bench", password="bench-password-1")
    admin.site._registry[EdgeHost].list_per_page = 50
    grid_url = "/tenants/bench/projects/bench/compute/?sort=name"
    admin_url = f"/django-admin/compute/edgehost/?project__id__exact={project.pk}"

    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False):
        client = Client()
        client.force_login(user)

        def queries(url: str) -> int:
            with CaptureQueriesContext(connection) as q:
                assert client.get(url).status_code == 200
            return len(q)

        make_hosts(project, 0, 10)
        client.get(grid_url)
        small = queries(grid_url)
        make_hosts(project, 10, args.hosts - 10)
        large = queries(grid_url)
        times: dict[str, list[float]] = {"grid": [], "admin": []}
        for i in range(args.rounds):
            for name, url in (
                (("grid", grid_url), ("admin", admin_url))
                if i % 2 == 0
                else (("admin", admin_url), ("grid", grid_url))
            ):
                started = time.perf_counter()
                response = client.get(url)
                times[name].append(time.perf_counter() - started)
                assert response.status_code == 200
    ratio = statistics.median(g / a for g, a in zip(times["grid"], times["admin"], strict=True))
    print(
        f"grid first page vs admin changelist, {args.hosts} hosts, 50 per page, {args.rounds} rounds, "
        f"database {connection.vendor}"
    )
    print(f"  admin changelist : {statistics.median(times['admin']) * 1000:7.1f} ms median")
    print(f"  inventory grid   : {statistics.median(times['grid']) * 1000:7.1f} ms median")
    print(f"  ratio grid/admin : {ratio:7.3f}x  target <= 1.00x: {'OK' if ratio <= 1.0 else 'OVER TARGET'}")
    print(
        f"  grid queries     : {small} at 10 hosts, {large} at {args.hosts}: "
        f"{'OK (same)' if small == large else 'DIFFERENT'}"
    )
    print(f"  load average     : {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    return 0 if ratio <= 1.0 and small == large else 1


if __name__ == "__main__":
    sys.exit(main())
