"""EdgeHost, the typed view over a host's JSON: both shapes Palette returns, and missing fields."""

from __future__ import annotations

from datetime import UTC, datetime

from palette.models import EdgeHost, ObjectRef

SEARCH_ITEM = {  # v1EdgeHostsMetadata, an item of POST /v1/dashboard/edgehosts/search
    "metadata": {
        "uid": "h-1",
        "name": "edge-1",
        "labels": {"palette.ai": "true", "gpu": "spectro__tag"},
        "creationTimestamp": "2024-02-29T20:31:42.204Z",
        "lastModifiedTimestamp": "2024-03-01T08:00:00Z",
    },
    "spec": {
        "type": "edge-native",
        "projectMeta": {"name": "ai", "uid": "p-1"},
        "host": {"hostAddress": "10.0.0.7", "macAddress": "aa:bb"},
        "device": {
            "archType": "amd64",
            "cpu": {"cores": 32},
            "memory": {"sizeInMB": 262144},
            "gpus": [
                {"vendor": "NVIDIA", "model": "A100", "gpuCount": 4, "memory": "40 GiB"},
                {"vendor": "NVIDIA", "model": "T4", "memory": "16384 MiB"},
            ],
        },
    },
    "status": {
        "state": "in-use",
        "health": {"state": "healthy", "message": ""},
        "inUseClusters": [{"uid": "c-1", "name": "pool-a"}],
    },
}

DEVICE = {  # v1EdgeHostDevice, GET /v1/edgehosts/{uid}: the project sits under spec.host and aclmeta
    "aclmeta": {"projectUid": "p-2", "tenantUid": "t"},
    "metadata": {"uid": "h-2", "name": "edge-2", "labels": {}},
    "spec": {
        "host": {"hostAddress": "10.0.0.8", "project": {"name": "lab", "uid": "p-2"}},
        "device": {"archType": "arm64"},
    },
    "status": {"state": "ready", "health": {"state": "unhealthy", "message": "disk pressure"}},
}


def test_a_search_item_reads_every_field():
    host = EdgeHost.from_api(SEARCH_ITEM)
    assert (host.uid, host.name, host.state, host.health, host.architecture) == (
        "h-1",
        "edge-1",
        "in-use",
        "healthy",
        "amd64",
    )
    assert (host.cpu_cores, host.memory_mb, host.host_address) == (32, 262144, "10.0.0.7")
    assert host.labels is SEARCH_ITEM["metadata"]["labels"] and host.tags == ["gpu", "palette.ai:true"]
    assert [(g.model, g.count, g.memory_mib) for g in host.gpus] == [("A100", 4, 40960), ("T4", 1, 16384)]
    assert host.gpu_count == 5
    assert host.project == ObjectRef("p-1", "ai")
    assert host.in_use_clusters == (ObjectRef("c-1", "pool-a"),)
    assert host.created == datetime(2024, 2, 29, 20, 31, 42, 204000, tzinfo=UTC)
    assert host.modified == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert host.raw is SEARCH_ITEM


def test_a_device_reads_the_project_from_the_host_and_the_health_message():
    host = EdgeHost.from_api(DEVICE)
    assert host.project == ObjectRef("p-2", "lab")
    assert (host.health, host.health_message, host.architecture) == ("unhealthy", "disk pressure", "arm64")
    assert host.gpus == () and host.gpu_count == 0 and host.cpu_cores is None and host.memory_mb is None
    assert host.in_use_clusters == () and host.created is None


def test_the_project_falls_back_to_aclmeta():
    host = EdgeHost.from_api({"aclmeta": {"projectUid": "p-9"}, "metadata": {"uid": "h"}})
    assert host.project == ObjectRef("p-9", "")


def test_missing_or_null_fields_are_empty_values_never_errors():
    for data in (
        {},
        {"metadata": None, "spec": None, "status": None},
        {
            "metadata": {"labels": None},
            "spec": {"device": {"gpus": None, "cpu": None}},
            "status": {"health": None, "inUseClusters": None},
        },
    ):
        host = EdgeHost.from_api(data)
        assert (host.uid, host.name, host.state, host.health, host.health_message, host.host_address) == (
            "",
        ) * 6
        assert host.labels == {} and host.tags == [] and host.gpus == () and host.project is None
        assert host.in_use_clusters == () and host.cpu_cores is None and host.modified is None


def test_nested_fields_are_built_once_and_the_view_compares_by_its_json():
    host = EdgeHost.from_api(SEARCH_ITEM)
    assert (
        host.gpus is host.gpus
        and host.project is host.project
        and host.in_use_clusters is host.in_use_clusters
    )
    assert host == EdgeHost.from_api(dict(SEARCH_ITEM)) and host != EdgeHost.from_api(DEVICE)
    assert repr(host) == "EdgeHost(uid='h-1', name='edge-1', state='in-use')"
