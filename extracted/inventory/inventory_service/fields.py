"""Request bodies validated field by field with the monolith's rules and messages (DRF serializers), and the
OPTIONS description of each field.

A field reads its raw value, checks emptiness (required, null, blank), converts, then runs its validators,
collecting every message. Fields that need the database (a warehouse reference, a unique code) convert here and
are checked by the caller, which keeps the messages in field order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventory_service import number_rules as numbers
from inventory_service.errors import InvalidInput

TRUE_VALUES = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1", 1}
FALSE_VALUES = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0", 0}
REQUIRED = "This field is required."
NULL = "This field may not be null."
_SURROGATES = re.compile("[\ud800-\udfff]")


class Missing:
    """A field absent from the body (DRF's `empty`), which is not None (JSON null)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = Missing()


class FieldError(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


@dataclass(frozen=True)
class Field:
    """A writable or read-only member of a resource's representation."""

    name: str
    label: str
    kind: str  # the OPTIONS `type`: string, boolean, integer, field, choice, datetime
    required: bool = True
    read_only: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)  # max_length, min_value, … as OPTIONS lists them
    form_missing: Any = MISSING  # what an absent key in a form body means (DRF: False for a boolean)

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "required": self.required and not self.read_only,
            "read_only": self.read_only,
            "label": self.label,
            **self.options,
        }

    def clean(self, value: Any) -> Any:
        """Convert a present, non-null value or raise FieldError with every message."""
        return value


@dataclass(frozen=True)
class Text(Field):
    kind: str = "string"
    max_length: int = 0
    pattern: tuple[str, str] | None = None  # (regex, message), the model's validator

    def clean(self, value: Any) -> str:
        if value == "" or str(value).strip() == "":
            raise FieldError("This field may not be blank.")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FieldError("Not a valid string.")
        text = str(value).strip()
        messages = []
        if self.pattern and not re.search(self.pattern[0], text):
            messages.append(self.pattern[1])
        if self.max_length and len(text) > self.max_length:
            messages.append(f"Ensure this field has no more than {self.max_length} characters.")
        if "\x00" in text:
            messages.append("Null characters are not allowed.")
        surrogate = _SURROGATES.search(text)
        if surrogate:
            messages.append(f"Surrogate characters are not allowed: U+{ord(surrogate.group()):X}.")
        if messages:
            raise FieldError(*messages)
        return text


@dataclass(frozen=True)
class Boolean(Field):
    kind: str = "boolean"
    required: bool = False
    form_missing: Any = False

    def clean(self, value: Any) -> bool:
        try:
            if value in TRUE_VALUES:
                return True
            if value in FALSE_VALUES:
                return False
        except TypeError:  # unhashable: a list or an object
            pass
        raise FieldError("Must be a valid boolean.")


@dataclass(frozen=True)
class Integer(Field):
    kind: str = "integer"
    min_value: int | None = None
    max_value: int | None = None

    def clean(self, value: Any) -> int:
        if isinstance(value, str) and len(value) > numbers.MAX_STRING_LENGTH:
            raise FieldError("String value too large.")
        try:
            number = numbers.body_integer(value)
        except numbers.NotANumber as exc:
            raise FieldError("A valid integer is required.") from exc
        if self.min_value is not None and number < self.min_value:
            raise FieldError(f"Ensure this value is greater than or equal to {self.min_value}.")
        if self.max_value is not None and number > self.max_value:
            raise FieldError(f"Ensure this value is less than or equal to {self.max_value}.")
        return number


@dataclass(frozen=True)
class Id(Integer):
    """An id of another service's row (a product): the monolith's one integer rule, not DRF's (no 2.0, no "1.0")."""

    def clean(self, value: Any) -> int:
        try:
            number = numbers.body_id(value)
        except numbers.NotANumber as exc:
            raise FieldError("A valid integer is required.") from exc
        except numbers.OutOfRange as exc:
            raise FieldError(str(exc)) from exc
        if self.min_value is not None and number < self.min_value:
            raise FieldError(f"Ensure this value is greater than or equal to {self.min_value}.")
        return number


@dataclass(frozen=True)
class Reference(Field):
    """A primary key of another table of this service (DRF's PrimaryKeyRelatedField): converted here, looked up by
    the caller, which reports `does_not_exist(value)` when no row has it."""

    kind: str = "field"

    def clean(self, value: Any) -> int | None:
        """The key to look up, or None when it cannot name a row (outside bigint)."""
        try:
            key = numbers.key_lookup(value)
        except (TypeError, ValueError) as exc:
            raise FieldError(f"Incorrect type. Expected pk value, received {type(value).__name__}.") from exc
        return key if numbers.in_id_range(key) else None

    @staticmethod
    def does_not_exist(value: Any) -> str:
        return f'Invalid pk "{value}" - object does not exist.'


def read_only(name: str, label: str, kind: str) -> Field:
    return Field(name=name, label=label, kind=kind, required=False, read_only=True)


@dataclass
class Validated:
    """The outcome of reading a body: clean values, the raw values (for messages), and messages per field."""

    values: dict[str, Any]
    raw: dict[str, Any]
    errors: dict[str, list[str]]

    def add_error(self, name: str, message: str, order: Sequence[Field]) -> None:
        self.errors.setdefault(name, []).append(message)
        self.values.pop(name, None)
        positions = {f.name: i for i, f in enumerate(order)}
        self.errors = dict(sorted(self.errors.items(), key=lambda item: positions.get(item[0], len(positions))))

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise invalid_fields(self.errors)


def validate(
    data: Mapping[str, Any], fields: Sequence[Field], *, partial: bool = False, form: bool = False
) -> Validated:
    """Each writable field in order, as DRF's Serializer.to_internal_value does."""
    result = Validated(values={}, raw={}, errors={})
    for spec in fields:
        if spec.read_only:
            continue
        raw = _raw_value(data, spec, partial=partial, form=form)
        if raw is MISSING:
            if spec.required and not partial:
                result.errors[spec.name] = [REQUIRED]
            continue
        if isinstance(spec, Reference) and raw == "":
            raw = None
        if raw is None:
            result.errors[spec.name] = [NULL]
            continue
        result.raw[spec.name] = raw
        try:
            result.values[spec.name] = spec.clean(raw)
        except FieldError as exc:
            result.errors[spec.name] = exc.messages
    return result


def _raw_value(data: Mapping[str, Any], spec: Field, *, partial: bool, form: bool) -> Any:
    if not form:
        return data.get(spec.name, MISSING)
    # A form says nothing about a key it does not carry: DRF reads an unticked checkbox as False.
    if spec.name not in data:
        return MISSING if partial else spec.form_missing
    value = data[spec.name]
    if value == "" and not spec.required:
        return MISSING  # an empty optional input is as good as absent
    return value


def invalid_fields(errors: Mapping[str, list[str]]) -> InvalidInput:
    """DRF's validation error through the monolith's handler: the sorted field names in the message."""
    return InvalidInput("Invalid input: " + ", ".join(sorted(errors)) + ".", fields=dict(errors))


def describe(fields: Sequence[Field]) -> dict[str, dict[str, Any]]:
    return {spec.name: spec.describe() for spec in fields}
