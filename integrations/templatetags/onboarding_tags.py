"""Template tags for pages outside integrations that point to the onboarding wizard."""

from __future__ import annotations

from django import template
from django.db.models import Q

from integrations.models import Settings

register = template.Library()


@register.simple_tag
def has_palette_integration(project) -> bool:
    """Whether the project, or its tenant, has Settings (and so a Palette integration)."""
    return Settings.objects.filter(Q(project=project) | Q(tenant_id=project.tenant_id)).exists()
