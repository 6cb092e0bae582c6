from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from . import access
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
