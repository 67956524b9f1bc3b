"""Filter pieces shared by the apps."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView

TRUE_WORDS = {"true", "1", "yes"}
FALSE_WORDS = {"false", "0", "no"}


class StrictBooleanField(forms.NullBooleanField):
    """A boolean query parameter that rejects what it does not understand instead of ignoring it."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` with the primary key as the last tie-breaker. Without it, rows with equal sort values come
    back in whatever order the database finds them: pages skip or repeat rows, and two databases holding the same
    rows (the monolith and an extracted service) answer the same request in different orders."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> list[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or any(field.lstrip("-") in {"id", "pk"} for field in ordering):
            return ordering
        return [*ordering, "id"]
