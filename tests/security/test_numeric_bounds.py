"""Every number a form accepts is bounded: absurd values are a message on the field, never a 500.

Before the fix `cp_memory_gib=1E+308` on the pool form overflowed converting GiB to MiB
(OverflowError, a 500). The sweep below finds any numeric form field added later without a bound.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from django import forms
from django.apps import apps
from django.core.validators import MaxValueValidator
from django.urls import reverse

from tests.compute.pool_fixtures import fast_sim, pool_project  # noqa: F401
from tests.compute.test_pool_views import form_data

ARGS = ["acme", "research"]
NUMERIC = (forms.IntegerField, forms.DecimalField, forms.FloatField)
POOL_NUMBERS = [
    "cp_cpu",
    "cp_memory_gib",
    "worker_count",
    "worker_cpu",
    "worker_memory_gib",
    "worker_gpu_count",
    "worker_gpu_memory_gib",
    "worker3_memory_gib",
    "worker8_gpu_memory_gib",
]
ABSURD = ["1E+308", "-1E+308", "1e400", "9" * 400, "Infinity", "NaN", "0x10"]


def _form_classes():
    """Every form class defined in our apps' form modules (forms.py, *_forms.py, the modules of forms/)."""
    for config in apps.get_app_configs():
        if config.name not in ("core", "tenancy", "integrations", "compute"):
            continue
        root = Path(config.path)
        paths = sorted(root.glob("*forms.py")) + sorted(
            p for p in root.glob("forms/*.py") if p.stem != "__init__"
        )
        for path in paths:
            dotted = ".".join(path.relative_to(root).with_suffix("").parts)
            module = importlib.import_module(f"{config.name}.{dotted}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                    yield cls


def _bounded(cls, name: str, field: forms.Field) -> bool:
    if field.max_value is not None or isinstance(field, forms.TypedChoiceField):
        return True
    model = getattr(
        getattr(cls, "_meta", None), "model", None
    )  # a ModelForm: the model field's validators count
    return model is not None and any(
        isinstance(v, MaxValueValidator) for v in model._meta.get_field(name).validators
    )


def test_every_numeric_form_field_has_an_upper_bound():
    classes = list(_form_classes())
    assert any(c.__name__ == "PoolForm" for c in classes) and any(c.__name__ == "TenantForm" for c in classes)
    unbounded = [
        f"{c.__module__}.{c.__name__}.{name}"
        for c in classes
        for name, field in c.base_fields.items()
        if isinstance(field, NUMERIC) and not _bounded(c, name, field)
    ]
    assert unbounded == []


@pytest.mark.parametrize("value", ABSURD)
def test_the_pool_form_answers_absurd_numbers_with_a_message(world, pool_project, value):
    client = world.client_for(world.editor)
    data = {**form_data(worker_name="gpu", worker3_name="big", worker8_name="last"), "check": "1"}
    data.update({field: value for field in POOL_NUMBERS})
    response = client.post(reverse("compute:pool_create", args=ARGS), data)
    assert response.status_code == 200
    errors = re.findall(r'id="id_(\w+)-error">([^<]*)<', response.content.decode())
    assert {field for field, _ in errors} >= set(POOL_NUMBERS), errors
    assert all(message.strip() for _, message in errors)


def test_the_largest_allowed_memory_converts_without_overflow(world, pool_project):
    client = world.client_for(world.editor)
    url = reverse("compute:pool_create", args=ARGS)
    largest = client.post(url, {**form_data(cp_memory_gib="65536"), "check": "1"})
    assert largest.status_code == 200 and 'id="id_cp_memory_gib-error"' not in largest.content.decode()
    over = client.post(url, {**form_data(cp_memory_gib="65536.5"), "check": "1"}).content.decode()
    assert 'id="id_cp_memory_gib-error"' in over and "less than or equal to 65536" in over


def test_the_pool_wizard_step_answers_1e308_with_a_message(world, pool_project):
    nodes = {"cp_count": "1", "cp_architecture": "amd64", "cp_memory_gib": "1E+308"}
    response = world.client_for(world.editor).post(
        reverse("compute:pool_wizard", args=[*ARGS, "nodes"]), nodes
    )
    assert response.status_code == 200 and "less than or equal to 65536" in response.content.decode()


@pytest.mark.parametrize(
    "url,data",
    [
        ("tenancy:tenant_edit", {"display_name": "Acme", "gpu_limit": "1" + "0" * 30}),
        ("tenancy:project_edit", {"display_name": "Research", "gpu_limit": "1" + "0" * 30}),
        ("tenancy:project_create", {"name": "big", "display_name": "Big", "gpu_limit": "1E+308"}),
    ],
)
def test_gpu_limits_answer_absurd_numbers_with_a_message(world, url, data):
    args = ["acme", "research"] if url == "tenancy:project_edit" else ["acme"]
    response = world.client_for(world.superuser).post(reverse(url, args=args), data)
    assert response.status_code == 200
    assert re.search(r"less than or equal to 100000|Enter a whole number", response.content.decode())
