"""Filter pieces shared by the apps."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

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
