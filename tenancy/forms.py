from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from . import access, group_roles
from .models import Membership, Project, Tenant


def _guard_gpu_limit(form: forms.ModelForm, user) -> None:
    """Show the GPU limit read-only, with who sets it, to a user who may not change it (a posted value is
    ignored)."""
    if not access.may_set_gpu_limit(user, form.instance):
        field = form.fields["gpu_limit"]
        field.disabled = True
        who = access.gpu_limit_setter(form.instance)
        field.help_text = f"Only {who} changes this limit; ask one to raise or lower it."


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "display_name", "description", "gpu_limit"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The name is the namespace and part of URLs: immutable.
            self.fields["name"].disabled = True
        _guard_gpu_limit(self, user)

    def created_message(self) -> str:
        return f"Tenant {self.instance.name} created, with namespace {self.instance.namespace}."


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "display_name", "namespace", "description", "gpu_limit"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, tenant: Tenant, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.instance.tenant = tenant
        _guard_gpu_limit(self, user)
        self.fields["namespace"].required = False
        self.fields["namespace"].help_text = (
            "Kubernetes namespace; defaults to the project name. Unique across the install; "
            "cannot be changed later."
        )
        if self.instance.pk:
            self.fields["name"].disabled = True
            self.fields["namespace"].disabled = True

    def created_message(self) -> str:
        return f"Project {self.instance.name} created in namespace {self.instance.namespace}."

    def clean_namespace(self):
        return self.cleaned_data.get("namespace") or self.data.get(self.add_prefix("name"), "").strip()

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not self.instance.pk and Project.objects.filter(tenant=self.tenant, name=name).exists():
            raise forms.ValidationError(f"Tenant {self.tenant.name} already has a project called {name}.")
        return name

    def clean_gpu_limit(self):
        limit = self.cleaned_data["gpu_limit"]
        if self.fields["gpu_limit"].disabled:
            return limit  # not this user's to change, so not theirs to fix either
        if self.tenant.gpu_limit and limit > self.tenant.gpu_limit:
            raise forms.ValidationError(
                f"The tenant allows at most {self.tenant.gpu_limit} GPUs; use a smaller limit."
            )
        return limit


class MembershipForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=[c for c in Membership.ROLE_CHOICES if c[0] != Membership.TENANT_ADMIN])

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                f"No active user called {username!r}; ask a superuser to create the account first."
            )
        self.user = user
        return username


class GroupRolesForm(forms.Form):
    """A tenant's or project's roles from groups: one textarea per role, one group per line (group names may
    hold commas and spaces: LDAP DNs such as cn=ml,ou=groups,dc=example,dc=com)."""

    MAX_GROUPS = 100

    def __init__(self, *args, owner: Tenant | Project, **kwargs):
        super().__init__(*args, prefix="groups", **kwargs)
        self.owner = owner
        current = group_roles.current(owner)
        for key, role in group_roles.role_keys(owner).items():
            label = dict(Membership.ROLE_CHOICES)[role]
            self.fields[key] = forms.CharField(
                label=f"{label} groups",
                required=False,
                max_length=self.MAX_GROUPS * (group_roles.MAX_GROUP_LENGTH + 2),
                initial="\n".join(current[key]),
                widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "off"}),
            )

    def _groups(self, key: str) -> list[str]:
        groups: list[str] = []
        for number, line in enumerate(self.cleaned_data.get(key, "").split("\n"), start=1):
            group = line.strip()
            if not group:
                continue
            problem = group_roles.group_problem(group)
            if problem:
                raise forms.ValidationError(f"Line {number} ({group[:60]!r}): {problem}")
            if group not in groups:
                groups.append(group)
        if len(groups) > self.MAX_GROUPS:
            raise forms.ValidationError(
                f"At most {self.MAX_GROUPS} groups per role; this lists {len(groups)}."
            )
        return sorted(groups)

    def clean(self):
        cleaned = super().clean()
        self.mapping: dict[str, list[str]] = {}
        for key in group_roles.role_keys(self.owner):
            if key in self.errors:
                continue
            try:
                self.mapping[key] = self._groups(key)
            except forms.ValidationError as error:
                self.add_error(key, error)
        return cleaned
