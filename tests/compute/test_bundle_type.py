"""A bundle's type fits its base profile: an Infrastructure bundle is built on an Infrastructure (infra)
profile, a Fullstack one on an infra or a Full (cluster) one — in the form, the manifest and the readiness
report."""

from __future__ import annotations

import pytest
import yaml

from compute.bundles import ProfileInfo, check_profiles, type_problem
from compute.forms.bundles import BundleForm
from compute.models import ClusterProfile, ProfileBundle
from compute.readiness import evaluate
from core.manifests import apply_text
from tests.compute.test_readiness import BASE, host, inputs, requirement

FULL = ProfileInfo("2a1b2c3d4e5f60718293a4b5", "edge-k8s-gpu-full", "1.0.0", "cluster", "edge-native")
REFUSED = (
    "edge-k8s-gpu-full 1.0.0 is a Full (cluster) profile, and an Infrastructure bundle is built on an "
    "Infrastructure (infra) profile: pick an infra profile version, or make the bundle Fullstack."
)


@pytest.fixture
def profiles(world):
    """Synced profiles of world.project_a: an infra, a Full and an add-on edge-native version."""
    rows = {}
    for info in (
        BASE,
        FULL,
        ProfileInfo("3a1b2c3d4e5f60718293a4b5", "gpu-operator", "24.6.2", "add-on", "all"),
    ):
        rows[info.type] = ClusterProfile.objects.create(
            project=world.project_a,
            uid=info.uid,
            name=info.name,
            version=info.version,
            profile_type=info.type,
            cloud_type=info.cloud_type,
        )
    return rows


def test_type_problem_names_the_profile_and_the_fix():
    assert type_problem("Infrastructure", FULL) == REFUSED
    assert type_problem("Infrastructure", BASE) == ""
    assert type_problem("Fullstack", FULL) == "" and type_problem("Fullstack", BASE) == ""


def test_check_profiles_refuses_an_infrastructure_bundle_on_a_full_profile(world, profiles):
    full, addon = profiles["cluster"], profiles["add-on"]
    found, problems = check_profiles(
        world.project_a, [{"uid": addon.uid}, {"uid": full.uid}], "Infrastructure"
    )
    assert problems == [(1, REFUSED)]  # the index of the Full profile's reference
    assert check_profiles(world.project_a, [{"uid": full.uid}, {"uid": addon.uid}], "Fullstack")[1] == []
    assert check_profiles(world.project_a, [{"uid": profiles["infra"].uid}], "Infrastructure")[1] == []
    # Without a type (a document whose type is itself wrong) only the profiles are checked.
    assert check_profiles(world.project_a, [{"uid": full.uid}])[1] == []


def test_the_bundle_form_says_why_on_the_profile_field(world, profiles):
    data = {"bundle-name": "gpu", "bundle-bundle_type": "Infrastructure", "bundle-version": "1"}
    form = BundleForm({**data, "bundle-base": profiles["cluster"].uid}, project=world.project_a)
    assert not form.is_valid() and form.errors["base"] == [REFUSED]
    fullstack = BundleForm(
        {**data, "bundle-bundle_type": "Fullstack", "bundle-base": profiles["cluster"].uid},
        project=world.project_a,
    )
    assert fullstack.is_valid(), fullstack.errors
    assert BundleForm({**data, "bundle-base": profiles["infra"].uid}, project=world.project_a).is_valid()


def test_the_manifest_refuses_it_with_the_profile_path(world, profiles):
    doc = {
        "apiVersion": "spectrocloud.com/v1beta1",
        "kind": "ProfileBundle",
        "metadata": {"name": "gpu", "namespace": "acme-research"},
        "spec": {
            "type": "Infrastructure",
            "clusterProfiles": [{"name": "edge-k8s-gpu-full", "version": "1.0.0"}],
        },
    }
    result = apply_text(yaml.safe_dump(doc), source="bundle.yaml")
    assert any("spec.clusterProfiles[0]" in e and REFUSED in e for e in result.errors), result.errors
    assert not ProfileBundle.objects.filter(name="gpu").exists()
    doc["spec"]["type"] = "Fullstack"
    assert apply_text(yaml.safe_dump(doc), source="bundle.yaml").errors == []
    assert ProfileBundle.objects.get(name="gpu").bundle_type == "Fullstack"


def test_the_readiness_report_marks_an_existing_mismatched_bundle():
    report = evaluate(inputs([host("edge-a")], bundle=(FULL,), bundle_type="Infrastructure"))
    bundle = requirement(report, "Profile bundle")
    assert not bundle.passed and bundle.blocking and bundle.reason == f"bundle edge-infra: {REFUSED}"
    assert not report.ready
    fullstack = requirement(
        evaluate(inputs([host("edge-a")], bundle=(FULL,), bundle_type="Fullstack")), "Profile bundle"
    )
    assert fullstack.passed and "(Full)" in fullstack.reason
