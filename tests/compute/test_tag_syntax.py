"""One tag syntax: people type `key=value`, `key:value` or a bare key in the tag editor, the inventory's tag
filter and the pool form, and read `key=value` everywhere; GPU models by their short names; memory in GiB;
counts of hosts in words."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from compute.discovery import run_discovery
from compute.eligibility import (
    BARE_TAG_VALUE,
    Policy,
    Reason,
    TagInputError,
    display_tags,
    gpu_label,
    gpu_name,
    parse_tags,
)
from compute.eligibility import reasons as eligibility_reasons
from compute.forms.pools import parse_tags as pool_tags
from compute.inventory import host_count, memory_label
from compute.models import DiscoveryRun, EdgeHost
from compute.tagging import parse_add, parse_remove


def url(name, **kw):
    return reverse(f"compute:{name}", kwargs={"tenant": "acme", "project": "research", **kw})


@pytest.mark.parametrize(
    "text,parsed",
    [
        ("palette.ai=true", {"palette.ai": "true"}),
        ("palette.ai:true", {"palette.ai": "true"}),
        ("rack7", {"rack7": None}),
        (
            "palette.ai=true, gpu:a100 rack7\nsite=lab-a",
            {"palette.ai": "true", "gpu": "a100", "rack7": None, "site": "lab-a"},
        ),
        ("  ", {}),
    ],
)
def test_it_reads_the_three_forms(text, parsed):
    assert parse_tags(text) == parsed


@pytest.mark.parametrize(
    "text,message",
    [
        ("=v", "'=v' is not key=value: the key before '=' is missing."),
        (":v", "':v' is not key=value: the key before ':' is missing."),
        ("a=b=c", "'a=b=c' is not key=value: use one '=' (or ':') between the key and the value."),
        ("a=b:c", "'a=b:c' is not key=value: use one '=' (or ':') between the key and the value."),
        ("k=", "'k=' is not key=value: the value after '=' is missing (a bare tag is the key alone)."),
        ("bad!key=1", "'bad!key=1' is not a tag: 'bad!key' must be letters, digits, '.', '_', '/' and '-', "),
        ("k=v!", "'k=v!' is not a tag: 'v!' must be letters"),
    ],
)
def test_bad_input_gets_a_message_that_says_what_is_wrong(text, message):
    with pytest.raises(TagInputError) as raised:
        parse_tags(text)
    assert str(raised.value).startswith(message)


def test_the_editor_filter_and_pool_form_use_the_same_parser():
    assert (
        parse_add("palette.ai=true rack7")
        == parse_add("palette.ai:true,rack7")
        == {
            "palette.ai": "true",
            "rack7": BARE_TAG_VALUE,
        }
    )
    assert parse_remove("maintenance gpu=x gpu:y") == ["maintenance", "gpu"]
    # The pool form: commas and lines separate (a value with a space is the label check's to refuse), a bare
    # key's value is "", and a malformed entry is the same message.
    assert pool_tags("palette.ai=true, gpu:a100\nrack7") == {"palette.ai": "true", "gpu": "a100", "rack7": ""}
    assert pool_tags("team=a b") == {"team": "a b"}
    assert pool_tags("=x") == "'=x' is not key=value: the key before '=' is missing."
    assert pool_tags("a=b=c").startswith("'a=b=c' is not key=value")


def test_tags_read_as_key_equals_value_like_the_reasons():
    assert display_tags({"palette.ai": "true", "canary": BARE_TAG_VALUE, "site": "lab-a"}) == [
        "canary",
        "palette.ai=true",
        "site=lab-a",
    ]
    host = type("Facts", (), {"tags": {}, "state": "ready", "health": "healthy", "health_message": ""})()
    host.clusters, host.cpu_cores, host.memory_mib = [], 8, 8192
    (missing,) = eligibility_reasons(host, Policy())
    assert missing.short == "missing tag palette.ai=true" and display_tags(parse_add(Policy().tag)) == [
        "palette.ai=true"
    ]


@pytest.mark.parametrize(
    "model,name",
    [
        # The simulator's models (palette/sim/seeding.py), as Palette reports PCI ids.
        ("GA100 [A100 PCIe 40GB]", "A100 40GB"),
        ("GH100 [H100 PCIe]", "H100"),
        ("AD102GL [L40S]", "L40S"),
        ("TU104GL [Tesla T4]", "T4"),
        ("GA102GL [A10]", "A10"),
        ("Aldebaran/MI200 [Instinct MI210]", "MI210"),
        ("GA10B [Jetson AGX Orin]", "Jetson AGX Orin"),
        ("GH100 [GH200 480GB]", "GH200 480GB"),
        ("GH100 [H100 SXM5 80GB]", "H100 80GB"),
        # nvidia-smi's names, and names already short.
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("Tesla V100-SXM2-16GB", "V100 16GB"),
        ("NVIDIA H100 80GB HBM3", "H100 80GB"),
        ("A100", "A100"),
        ("T4", "T4"),
        # Unknown: kept, cut at a word.
        ("Acme Inference Card", "Acme Inference Card"),
        ("Some Very Long Vendor Accelerator Card Model X", "Some Very Long Vendor…"),
        ("Supercalifragilisticexpialidocious-accelerator", "Supercalifragilisticexp…"),
    ],
)
def test_gpu_models_get_their_short_names(model, name):
    assert gpu_name(model) == name and len(name) <= 24


def test_the_gpu_label_counts_each_model():
    gpus = [
        {"vendor": "NVIDIA", "model": "GA100 [A100 PCIe 40GB]", "count": 4},
        {"vendor": "NVIDIA", "model": "TU104GL [Tesla T4]", "count": 1},
    ]
    assert gpu_label(gpus) == "A100 40GB ×4, T4 ×1"
    assert gpu_label([{"vendor": "AMD", "model": "", "count": 2}]) == "AMD ×2"


def test_memory_reads_in_gib_and_counts_in_words():
    assert [memory_label(m) for m in (786432, 1536, 46068, 1024**3, 0, None)] == [
        "768 GiB",
        "1.5 GiB",
        "45 GiB",
        "1048576 GiB",
        "?",
        "?",
    ]
    assert [host_count(n) for n in (0, 1, 2)] == ["0 hosts", "1 host", "2 hosts"]


@pytest.fixture
def discovered(connected_project):
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    return connected_project


def test_the_grid_filters_on_either_form_and_explains_a_bad_one(world, discovered):
    client = world.client_for(world.viewer)
    tagged = {h.pk for h in EdgeHost.objects.filter(gone=False) if h.tags.get("palette.ai") == "true"}
    for typed in ("palette.ai=true", "palette.ai:true"):
        rows = client.get(url("inventory"), {"tag": typed}).context["page"].paginator.object_list
        assert {h.pk for h in rows} == tagged
    bare = client.get(url("inventory"), {"tag": "canary"}).context["page"].paginator.object_list
    assert bare and all("canary" in h.tags for h in bare)
    both = (
        client.get(url("inventory"), {"tag": "palette.ai=true canary"}).context["page"].paginator.object_list
    )
    assert {h.pk for h in both} == {h.pk for h in bare if h.pk in tagged}
    response = client.get(url("inventory"), {"tag": "a=b=c"})
    assert response.status_code == 200 and response.context["page"].paginator.count == 0
    assert "Tag filter: &#x27;a=b=c&#x27; is not key=value" in response.content.decode()


def test_a_tag_edit_on_a_bad_filter_is_refused_not_widened(world, discovered):
    body = (
        world.client_for(world.editor)
        .post(url("tags_preview"), {"add": "x=y", "scope": "filter", "filter": "tag=a=b=c"})
        .content.decode()
    )
    assert "The grid&#x27;s tag filter is not valid" in body and "Apply to" not in body


def test_the_preview_reads_the_same_for_either_form(world, discovered):
    target = (
        EdgeHost.objects.filter(eligible=False, state="ready", health="healthy")
        .exclude(tags__has_key="palette.ai")
        .exclude(cpu_cores=None)
        .first()
    )
    client = world.client_for(world.editor)
    for typed in ("palette.ai=true", "palette.ai:true"):
        body = " ".join(
            client.post(url("tags_preview"), {"add": typed, "host": [target.uuid]}).content.decode().split()
        )
        assert '· add <code class="tag">palette.ai=true</code>' in body
        assert f"<strong>Become eligible (1):</strong> {target}</p>" in body
    bad = client.post(url("tags_preview"), {"add": "=v", "host": [target.uuid]})
    assert (
        bad.status_code == 200 and "&#x27;=v&#x27; is not key=value: the key before" in bad.content.decode()
    )


def test_the_cli_and_the_policy_message_count_hosts_in_words(world, discovered):
    out = io.StringIO()
    call_command("inventory", "-n", "acme-research", stdout=out)
    total, eligible = (
        EdgeHost.objects.filter(gone=False).count(),
        EdgeHost.objects.filter(eligible=True).count(),
    )
    assert out.getvalue().splitlines()[-1] == f"{total} hosts, {eligible} eligible."
    # One host judged wrongly: saving the same policy flips exactly that one back.
    EdgeHost.objects.filter(pk=EdgeHost.objects.filter(eligible=True).first().pk).update(
        eligible=False, reasons=[Reason.of("unpaired").to_json()]
    )
    response = world.client_for(world.owner).post(
        url("policy_save"), {"tag_key": "palette.ai", "tag_value": "true"}, follow=True
    )
    assert "Discovery tag is now palette.ai=true; 1 host changed eligibility." in response.content.decode()
