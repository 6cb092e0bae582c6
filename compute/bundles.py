"""Profile Bundles: which Palette cluster profile versions a bundle may hold, and why not.

A bundle (Infrastructure or Fullstack) holds exactly one edge-native profile version of type
infra or cluster (Full), plus add-ons (edge-native, or cloud type "all"). An Infrastructure bundle's base is
an infra profile (`type_problem`): a Full profile already carries the application layers an Infrastructure
bundle leaves out. A reference is a uid,
or a name and version; it is looked up in the project's synced cluster profiles first, and only
when that table does not know it, asked of Palette (so a bundle can be applied right after the
Settings, before anyone ran a profile sync): an older version, which Palette's search lists only in
the newest version's `versions[]`, is read by its uid there, and the version's variables with it. A version
that a sync marked absent is refused with that reason: Palette would refuse the cluster anyway, later and less
clearly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from integrations.effective import NotConfigured, palette_client, working_palette
from palette import errors as perrors
from palette.models import ProfileVariable
from tenancy.models import Project

from .models import ClusterProfile, ProfileBundle

log = logging.getLogger(__name__)
BASE_TYPES = ("infra", "cluster")
TYPE_LABELS = {"infra": "Infrastructure", "cluster": "Full", "add-on": "Add-on", "system": "System"}


@dataclass(frozen=True)
class ProfileInfo:
    """What a bundle stores about one profile version, plus whether Palette still has it and its variables
    (None when they are not known: the version was never synced nor looked up)."""

    uid: str
    name: str
    version: str
    type: str
    cloud_type: str
    present: bool = True
    variables: tuple[ProfileVariable, ...] | None = field(default=None, compare=False)

    def stored(self) -> dict:
        return {"uid": self.uid, "name": self.name, "version": self.version, "type": self.type}

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}".strip()


def row_variables(row: ClusterProfile) -> tuple[ProfileVariable, ...]:
    """A synced version's variables, parsed."""
    return tuple(
        ProfileVariable.from_api(v) for v in row.variables or () if isinstance(v, dict) and v.get("name")
    )


def _from_row(row: ClusterProfile) -> ProfileInfo:
    return ProfileInfo(
        row.uid, row.name, row.version, row.profile_type, row.cloud_type, row.present, row_variables(row)
    )


class _Live:
    """A Palette client opened on first use (most references are found in the synced table)."""

    def __init__(self, project: Project | None):
        self.project = project
        self.client = None
        self.problem = ""

    def get(self):
        if self.client is None and not self.problem:
            try:
                palette = working_palette(self.project)
            except NotConfigured:
                self.problem = "the project has no working Palette integration to look it up"
            else:
                self.client = palette_client(palette, name=f"bundle check {self.project}")
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _lookup(project: Project | None, ref: dict, live: _Live) -> tuple[ProfileInfo | None, str]:
    uid, name, version = ref.get("uid") or "", ref.get("name") or "", ref.get("version") or ""
    rows = ClusterProfile.objects.filter(project=project) if project else ClusterProfile.objects.none()
    if uid:
        row = rows.filter(uid=uid).first()
    else:
        row = rows.filter(name=name, version=version).order_by("-present").first()
    if row is not None and row.present:
        return _from_row(row), ""
    if row is not None:
        return _from_row(row), (
            f"{row.name} {row.version} ({row.uid}) no longer exists in Palette (the last profile sync "
            "did not find it); pick another version."
        )
    client = live.get() if project else None
    what = uid or f"{name} {version}"
    if client is None:
        return None, (
            f"cluster profile {what} is not among the project's synced cluster profiles, and "
            f"{live.problem or 'there is no project'}; sync the profiles (Compute > Cluster profiles) or "
            "check the reference."
        )
    try:
        if uid:
            found = client.get_cluster_profile(uid)
        else:
            # The search lists the newest version of the name; an older one is found by its uid in versions[].
            found = client.find_cluster_profile_version(name, version)
            if found is None:
                return (
                    None,
                    f"Palette has no cluster profile {name} version {version} in this project; check the "
                    "name and version.",
                )
    except perrors.NotFound:
        return None, f"cluster profile {what} does not exist in the project's Palette project; check the uid."
    except perrors.PaletteError as exc:
        return None, f"could not look up cluster profile {what} in Palette: {exc}"
    try:
        variables: tuple[ProfileVariable, ...] | None = tuple(client.get_cluster_profile_variables(found.uid))
    except perrors.PaletteError as exc:
        log.info("variables of cluster profile %s not read: %s", found.uid, exc)
        variables = None  # unknown: Palette checks the values at validation
    return ProfileInfo(
        found.uid, found.name, found.version, found.profile_type, found.cloud_type, True, variables
    ), ""


def type_problem(bundle_type: str, base: ProfileInfo) -> str:
    """Why `base` cannot be the base profile of a bundle of `bundle_type` ("" when it can).

    Infrastructure bundles are built on an infra profile; Fullstack ones on an infra or a Full (cluster) one.
    """
    if bundle_type == ProfileBundle.INFRASTRUCTURE and base.type != ClusterProfile.INFRA:
        kind = TYPE_LABELS.get(base.type, base.type)
        return (
            f"{base.label} is a {kind} ({base.type}) profile, and an Infrastructure bundle is built on an "
            "Infrastructure (infra) profile: pick an infra profile version, or make the bundle Fullstack."
        )
    return ""


def check_profiles(
    project: Project | None, refs: list[dict], bundle_type: str = ""
) -> tuple[list[ProfileInfo], list[tuple[int, str]]]:
    """Resolve a bundle's profile references; (resolved profiles, [(index, problem)]).

    A reference naming both a uid and a name/version must agree with what the uid is; with `bundle_type`, the
    base profile must suit it (`type_problem`).
    """
    live = _Live(project)
    found: list[ProfileInfo] = []
    indexes: dict[str, int] = {}  # uid -> index of its reference
    problems: list[tuple[int, str]] = []
    try:
        for i, ref in enumerate(refs):
            info, problem = _lookup(project, ref, live)
            if problem:
                problems.append((i, problem))
                continue
            assert info is not None
            if ref.get("name") and ref.get("uid") and ref["name"] != info.name:
                problems.append(
                    (i, f"uid {info.uid} is profile {info.name}, not {ref['name']}; fix the name or the uid.")
                )
                continue
            if ref.get("version") and ref.get("uid") and str(ref["version"]) != info.version:
                problems.append(
                    (
                        i,
                        f"uid {info.uid} is version {info.version} of {info.name}, not {ref['version']}: "
                        "each version has its own uid.",
                    )
                )
                continue
            if info.type == "system":
                problems.append(
                    (i, f"{info.label} is a system profile; bundles take infra, Full or add-on profiles.")
                )
                continue
            if info.type in BASE_TYPES and info.cloud_type != "edge-native":
                problems.append(
                    (
                        i,
                        f"{info.label} is a {TYPE_LABELS.get(info.type, info.type)} profile for "
                        f"{info.cloud_type}, not edge-native; compute pools are edge-native clusters.",
                    )
                )
                continue
            if info.type == "add-on" and info.cloud_type not in ("edge-native", "all"):
                problems.append((i, f"add-on {info.label} is for {info.cloud_type}, not edge-native."))
                continue
            found.append(info)
            indexes.setdefault(info.uid, i)
    finally:
        live.close()
    if not problems:
        bases = [p for p in found if p.type in BASE_TYPES]
        if len(bases) != 1:
            listed = ", ".join(p.label for p in bases) or "none"
            problems.append(
                (
                    -1,
                    "a bundle needs exactly one edge-native Infrastructure or Full profile version (found: "
                    f"{listed}); the others must be add-ons.",
                )
            )
        elif type_problem(bundle_type, bases[0]):
            problems.append((indexes[bases[0].uid], type_problem(bundle_type, bases[0])))
        uids = [p.uid for p in found]
        if len(set(uids)) != len(uids):
            problems.append((-1, "a profile version is listed twice."))
    # The base profile goes first: it is what Palette builds the cluster from.
    found.sort(key=lambda p: p.type not in BASE_TYPES)
    return found, problems


def pools_using(bundle: ProfileBundle) -> list:
    """The pools built, or being built, from `bundle` (deleted and deleting pools no longer hold it)."""
    from .models import ComputePool

    return [p for p in bundle.pools.all() if p.status not in (ComputePool.DELETED, ComputePool.DELETING)]


def bundle_facts(bundle: ProfileBundle, rows: dict[str, ClusterProfile] | None = None) -> list[ProfileInfo]:
    """A stored bundle's profiles with their presence in the last profile sync (unknown versions count as
    present).

    `rows` (uid → ClusterProfile) saves the query when the caller loaded the project's profiles already.
    """
    if rows is None:
        rows = {
            r.uid: r
            for r in ClusterProfile.objects.filter(
                project=bundle.project, uid__in=[p.get("uid") for p in bundle.profiles]
            )
        }
    out = []
    for p in bundle.profiles:
        row = rows.get(p.get("uid"))
        out.append(
            ProfileInfo(
                p.get("uid", ""),
                p.get("name", ""),
                p.get("version", ""),
                p.get("type", ""),
                row.cloud_type if row else "edge-native",
                row.present if row else True,
                row_variables(row) if row else None,
            )
        )
    return out
