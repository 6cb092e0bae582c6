"""The NotificationRule manifest (README "Notifications"): apply, delete, export; secrets by reference."""

from __future__ import annotations

from typing import Any

from core.manifests import MISSING, REDACTED, Document, Handler, Plan
from integrations.manifests import NO_OWNER, final_secret
from tenancy import access
from tenancy.manifests import can_write_namespace, namespace_owner
from tenancy.models import owner_for_namespace

from . import rules
from .models import NotificationRule

API_VERSION = "admin.paletteai/v1"
SPEC_KEYS = ("events", "webhook", "slack", "email", "discoveryFailures", "capacityDrop", "offlineMinutes")
CHANNEL_KEYS = {"webhook": ("url", "secretRef"), "slack": ("url",), "email": ("to",)}


class NotificationRuleHandler(Handler):
    kind = "NotificationRule"
    api_versions = (API_VERSION,)
    order = 200  # after the Tenants, Projects and Secrets it needs

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        return can_write_namespace(plan, user, doc.namespace, need=access.WRITE)  # as on the rules page

    def validate(self, doc: Document, plan: Plan) -> None:
        if namespace_owner(plan, doc.namespace) is None:
            plan.error(doc, "metadata.namespace", NO_OWNER.format(ns=doc.namespace))
        if plan.mapping(doc, "spec", keys=SPEC_KEYS) is None:
            return
        events = doc.get("spec.events")
        problem = rules.check_events(None if events is MISSING else events)
        if problem:
            plan.error(doc, "spec.events", problem)
        values = {"events": events if not problem else []}
        values["discovery_failures"] = plan.integer(
            doc, "spec.discoveryFailures", default=3, minimum=1, maximum=1000
        )
        values["capacity_drop"] = plan.integer(doc, "spec.capacityDrop", default=1, minimum=1, maximum=100000)
        values["offline_minutes"] = plan.integer(
            doc, "spec.offlineMinutes", default=10, minimum=1, maximum=rules.MAX_OFFLINE_MINUTES
        )
        channels = [c for c in CHANNEL_KEYS if doc.get(f"spec.{c}") is not MISSING]
        if len(channels) != 1:
            plan.error(doc, "spec", "give exactly one channel: webhook, slack or email.")
            return
        channel = channels[0]
        if plan.mapping(doc, f"spec.{channel}", keys=CHANNEL_KEYS[channel]) is None:
            return
        values.update(channel=channel, url="", secret_name="", email_to=[])
        if channel == "email":
            to = doc.get("spec.email.to")
            problem = rules.check_recipients(None if to is MISSING else to)
            if problem:
                plan.error(doc, "spec.email.to", problem)
            values["email_to"] = to
        else:
            url = plan.text(doc, f"spec.{channel}.url", max_length=2000)
            if url is not None and (problem := rules.check_url(url)):
                plan.error(doc, f"spec.{channel}.url", problem)
            values["url"] = url
        if channel == "webhook":
            self._secret(doc, plan, values)
        doc.state["values"] = values

    def _secret(self, doc: Document, plan: Plan, values: dict) -> None:
        if plan.mapping(doc, "spec.webhook.secretRef", keys=("name",)) is None:
            return
        name = plan.text(doc, "spec.webhook.secretRef.name", max_length=253)
        if name is None:
            return
        exists, data = final_secret(plan, doc.namespace, name)
        problem = (
            rules.check_secret(doc.namespace, name, data if data is not None else {})
            if exists
            else f"Secret {name} does not exist in namespace {doc.namespace}: create it (in this file or "
            f"first) with key {rules.HMAC_KEY}."
        )
        if problem:
            plan.error(doc, "spec.webhook.secretRef.name", problem)
        values["secret_name"] = name

    def apply(self, doc: Document, plan: Plan) -> str:
        owner = owner_for_namespace(doc.namespace)
        _, action = rules.save_rule(
            owner,
            doc.name,
            doc.state["values"],
            request=plan.request,
            user=plan.user,
            source=plan.audit_source,
        )
        return action

    def delete(self, doc: Document, plan: Plan) -> str:
        rule = NotificationRule.objects.filter(namespace=doc.namespace, name=doc.name).first()
        if rule is None:
            return "not found"
        rules.delete_rule(rule, request=plan.request, user=plan.user, source=plan.audit_source)
        return "deleted"

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        rows = NotificationRule.objects.all()
        if namespace:
            rows = rows.filter(namespace=namespace)
        return [manifest(rule, show_secrets) for rule in rows.order_by("namespace", "name")]


def manifest(rule: NotificationRule, show_secrets: bool = False) -> dict:
    spec: dict = {"events": list(rule.events)}
    if rule.channel == NotificationRule.WEBHOOK:
        spec["webhook"] = {"url": rule.url, "secretRef": {"name": rule.secret_name}}
    elif rule.channel == NotificationRule.SLACK:
        # An incoming webhook's URL is its own credential: exported like a Secret's value.
        spec["slack"] = {"url": rule.url if show_secrets else REDACTED}
    else:
        spec["email"] = {"to": list(rule.email_to)}
    if rule.discovery_failures != 3:
        spec["discoveryFailures"] = rule.discovery_failures
    if rule.capacity_drop != 1:
        spec["capacityDrop"] = rule.capacity_drop
    if rule.offline_minutes != 10:
        spec["offlineMinutes"] = rule.offline_minutes
    return {
        "apiVersion": API_VERSION,
        "kind": "NotificationRule",
        "metadata": {"name": rule.name, "namespace": rule.namespace},
        "spec": spec,
    }


HANDLERS = [NotificationRuleHandler()]
