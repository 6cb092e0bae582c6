"""The small "new profile bundle" form of the pool wizard: one edge-native Infrastructure or Full profile
version from the synced ClusterProfile table, plus add-ons. The profiles are checked by
compute.bundles.check_profiles, as `apply` does."""

from __future__ import annotations

from django import forms

from core import audit
from core.models import AuditEntry
from tenancy.models import DNS1123_LABEL

from ..bundles import check_profiles
from ..models import ClusterProfile, ProfileBundle


def _choice(row: ClusterProfile) -> tuple[str, str]:
    return row.uid, f"{row.name} {row.version} ({row.type_label}, {row.cloud_type})"


class BundleForm(forms.Form):
    prefix = "bundle"

    name = forms.CharField(
        max_length=63, validators=[DNS1123_LABEL], help_text="Lowercase letters, digits and '-'."
    )
    bundle_type = forms.ChoiceField(
        choices=ProfileBundle.TYPE_CHOICES, initial=ProfileBundle.INFRASTRUCTURE, label="Type"
    )
    version = forms.CharField(max_length=64, initial="1")
    base = forms.ChoiceField(
        label="Infrastructure or Full profile",
        help_text=(
            "Edge-native profile versions from the last profile sync. An Infrastructure bundle takes an "
            "Infrastructure profile; a Fullstack bundle an Infrastructure or a Full one."
        ),
    )
    addons = forms.MultipleChoiceField(
        required=False, label="Add-on profiles", widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, project=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        rows = list(ClusterProfile.objects.filter(project=project, present=True).order_by("name", "version"))
        bases = [
            _choice(r)
            for r in rows
            if r.profile_type in ("infra", "cluster") and r.cloud_type == "edge-native"
        ]
        self.fields["base"].choices = [("", "—")] + bases
        #: What the form says before its fields: no profiles synced at all, or none a bundle can be built on.
        self.synced = bool(rows) or ClusterProfile.objects.filter(project=project).exists()
        self.has_bases = bool(bases)
        self.fields["addons"].choices = [
            _choice(r) for r in rows if r.profile_type == "add-on" and r.cloud_type in ("edge-native", "all")
        ]
        self.profiles: list[dict] = []

    def clean_name(self):
        name = self.cleaned_data["name"]
        if ProfileBundle.objects.filter(project=self.project, name=name).exists():
            raise forms.ValidationError(f"This project already has a bundle called {name}.")
        return name

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        refs = [{"uid": data["base"]}] + [{"uid": uid} for uid in data.get("addons") or ()]
        found, problems = check_profiles(self.project, refs, data.get("bundle_type") or "")
        for index, message in problems:
            self.add_error("base" if index <= 0 else "addons", message)
        self.profiles = [p.stored() for p in found]
        return data

    def save(self, request) -> ProfileBundle:
        """Create the bundle and record its creation by `request`'s user, naming its profiles."""
        d = self.cleaned_data
        bundle = ProfileBundle.objects.create(
            project=self.project,
            name=d["name"],
            bundle_type=d["bundle_type"],
            version=d["version"],
            profiles=self.profiles,
        )
        audit.record(
            request,
            AuditEntry.CREATE,
            bundle,
            changes={"profiles": ", ".join(f"{p['name']} {p['version']}" for p in bundle.profiles)},
        )
        return bundle
