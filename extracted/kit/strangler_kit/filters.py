"""Filter pieces shared by the apps."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db import models
from django.db.models import QuerySet
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView

from strangler_kit.integers import InvalidInteger, parse_integer

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


class StrictIntegerField(forms.Field):
    """An integer query parameter read by the API's one rule (common.integers): a 400, never a database error."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        try:
            return parse_integer(str(value))
        except InvalidInteger as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


class IntegerFilter(django_filters.Filter):
    """Every filter on an id or another integer column: django-filter's NumberFilter reads a Decimal, which no
    integer lookup range-checks (SQLite then raises OverflowError) and which also takes 1.5 or 1e3."""

    field_class = StrictIntegerField


class FilterSet(django_filters.FilterSet):
    """The apps' FilterSet: integer columns named in Meta.fields get an IntegerFilter too."""

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        **{
            field: {"filter_class": IntegerFilter}
            for field in FILTER_FOR_DBFIELD_DEFAULTS
            if issubclass(field, models.IntegerField)
        },
    }


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` with the primary key as the last tie-breaker. Without it, rows with equal sort values come
    back in whatever order the database finds them: pages skip or repeat rows, and two databases holding the same
    rows (the monolith and an extracted service) answer the same request in different orders."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> list[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or any(field.lstrip("-") in {"id", "pk"} for field in ordering):
            return ordering
        return [*ordering, "id"]
