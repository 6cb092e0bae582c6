"""palette.kubeconfig.problem: what is wrong with a text Palette returned as a kubeconfig, never quoting
it."""

from __future__ import annotations

import pytest

from palette.kubeconfig import problem
from palette.sim.render import kubeconfig as render_kubeconfig
from palette.sim.state import Cluster

VALID = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://10.0.0.1:6443"}
contexts:
- name: u@c
  context: {cluster: c, user: u}
current-context: u@c
users:
- name: u
  user: {token: s3cr3t}
"""


def test_palettes_three_kubeconfigs_are_kubeconfigs():
    cluster = Cluster(
        uid="c1",
        name="pool-a",
        project_uid="p",
        labels={},
        annotations={},
        profile_uids=[],
        pools=[],
        vip="10.9.9.9",
        created_at=0.0,
        created="",
    )
    for kind in ("admin", "client", "frp"):
        assert problem(render_kubeconfig(cluster, kind)) == "", kind
    assert problem(VALID) == ""


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "the file is empty"),
        ("  \n\t\n", "the file is empty"),
        (None, "the file is empty"),
        ("# nothing yet\n", "it is not a YAML mapping but empty (null or comments only)"),
        ("<html><body>Sign in (s3cr3t)</body></html>", "it is not a YAML mapping but a string"),
        ("- s3cr3t\n", "it is not a YAML mapping but a list"),
        ('{"code": "ResourceNotFound", "message": "s3cr3t"}', 'it has no "kind: Config"'),
        (VALID.replace("kind: Config", "kind: Secret"), 'its kind is not "Config"'),
        (VALID.replace("apiVersion: v1\n", ""), "it has no apiVersion"),
        (
            VALID.replace('cluster: {server: "https://10.0.0.1:6443"}', "cluster: {}"),
            "no cluster in it has a server",
        ),
        ("apiVersion: v1\nkind: Config\nclusters: []\n", "it lists no clusters"),
        (VALID.split("users:")[0], "it lists no users"),
        (
            VALID.replace("contexts:\n- name: u@c\n  context: {cluster: c, user: u}\n", ""),
            "it lists no contexts",
        ),
        ("apiVersion: v1\nkind: Config\nusers:\n- {token: s3cr3t\n", "it is not YAML (line 5)"),
        ("a: &x [*x]\n\tb: s3cr3t", "it is not YAML (line 2)"),
    ],
)
def test_it_says_what_is_wrong_without_quoting_the_text(text, why):
    assert problem(text) == why
    assert "s3cr3t" not in why
