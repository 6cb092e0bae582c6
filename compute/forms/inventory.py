"""The discovery policy form of the inventory page: the tag that makes a host eligible."""

from __future__ import annotations

from django import forms

from ..eligibility import TAG_PART as TAG_KEY
from ..models import DiscoveryPolicy


class DiscoveryPolicyForm(forms.ModelForm):
    class Meta:
        model = DiscoveryPolicy
        fields = ["tag_key", "tag_value"]
        labels = {"tag_key": "Discovery tag key", "tag_value": "Discovery tag value"}

    def clean_tag_key(self):
        key = self.cleaned_data["tag_key"].strip()
        if not TAG_KEY.match(key):
            raise forms.ValidationError(
                "A tag key uses letters, digits, '.', '_', '/' and '-', starting and ending with a letter or "
                "digit."
            )
        return key

    def clean_tag_value(self):
        value = self.cleaned_data["tag_value"].strip()
        if value and not TAG_KEY.match(value):
            raise forms.ValidationError(
                "A tag value uses letters, digits, '.', '_', '/' and '-'; leave it blank for a bare tag."
            )
        return value
