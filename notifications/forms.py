"""The rule form of the notifications page: the same checks as the manifest (notifications.rules)."""

from __future__ import annotations

from django import forms

from core.events import EVENTS
from tenancy.models import DNS1123_LABEL

from . import rules
from .models import NotificationRule


class RuleForm(forms.Form):
    name = forms.CharField(
        max_length=63, validators=[DNS1123_LABEL], help_text="A DNS-1123 label, e.g. ops-hook."
    )
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {text}") for name, text in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
    )
    channel = forms.ChoiceField(choices=NotificationRule.CHANNEL_CHOICES)
    url = forms.CharField(
        label="URL",
        max_length=2000,
        required=False,
        help_text="Signed or Slack-compatible webhook: https://…",
    )
    secret_name = forms.CharField(
        label="HMAC key Secret",
        max_length=253,
        required=False,
        help_text=f"Signed webhook: a Secret of this namespace with key {rules.HMAC_KEY}.",
    )
    email_to = forms.CharField(label="Email to", required=False, help_text="Comma-separated addresses.")
    discovery_failures = forms.IntegerField(
        label="discovery.failed after N runs in a row", min_value=1, max_value=1000, initial=3
    )
    capacity_drop = forms.IntegerField(
        label="capacity.dropped by at least N GPUs", min_value=1, max_value=100000, initial=1
    )
    offline_minutes = forms.IntegerField(
        label="host.offline after N minutes",
        min_value=1,
        max_value=rules.MAX_OFFLINE_MINUTES,
        initial=10,
        required=False,
        help_text="Not seen by discovery, or health unknown, this long (never before the inventory shows it "
        "Unknown, HOST_UNKNOWN_AFTER).",
    )

    def __init__(self, *args, namespace: str, editing: NotificationRule | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.namespace, self.editing = namespace, editing
        if editing is not None:
            self.fields["name"].disabled = True
            if editing.channel == NotificationRule.SLACK:
                self.fields["url"].help_text = "Leave empty to keep the stored Slack URL (it is not shown)."

    def clean_name(self):
        name = self.cleaned_data["name"]
        taken = NotificationRule.objects.filter(namespace=self.namespace, name=name)
        if self.editing is None and taken.exists():
            raise forms.ValidationError(f"{self.namespace} has a rule {name} already; choose another name.")
        return name

    def clean(self):
        data = super().clean()
        channel = data.get("channel")
        url = (data.get("url") or "").strip()
        if channel == NotificationRule.SLACK and not url and self.editing and self.editing.channel == channel:
            url = data["url"] = self.editing.url
        if channel in (NotificationRule.WEBHOOK, NotificationRule.SLACK):
            problem = rules.check_url(url) if url else "required for this channel."
            if problem:
                self.add_error("url", f"The URL {problem}" if url else problem.capitalize())
        if channel == NotificationRule.WEBHOOK:
            name = (data.get("secret_name") or "").strip()
            problem = rules.check_secret(self.namespace, name) if name else "Required for a signed webhook."
            if problem:
                self.add_error("secret_name", problem)
        if channel == NotificationRule.EMAIL:
            to = [a.strip() for a in (data.get("email_to") or "").split(",") if a.strip()]
            problem = rules.check_recipients(to)
            if problem:
                self.add_error("email_to", problem[:1].upper() + problem[1:])
            data["email_to"] = to
        return data

    def values(self) -> dict:
        data, channel = self.cleaned_data, self.cleaned_data["channel"]
        return {
            "events": list(data["events"]),
            "channel": channel,
            "url": data["url"].strip() if channel != NotificationRule.EMAIL else "",
            "secret_name": data["secret_name"].strip() if channel == NotificationRule.WEBHOOK else "",
            "email_to": data["email_to"] if channel == NotificationRule.EMAIL else [],
            "discovery_failures": data["discovery_failures"],
            "capacity_drop": data["capacity_drop"],
            "offline_minutes": data["offline_minutes"] or 10,
        }

    @classmethod
    def initial_for(cls, rule: NotificationRule) -> dict:
        return {
            "name": rule.name,
            "events": rule.events,
            "channel": rule.channel,
            "url": rule.url if rule.channel == NotificationRule.WEBHOOK else "",
            "secret_name": rule.secret_name,
            "email_to": ", ".join(rule.email_to),
            "discovery_failures": rule.discovery_failures,
            "capacity_drop": rule.capacity_drop,
            "offline_minutes": rule.offline_minutes,
        }
