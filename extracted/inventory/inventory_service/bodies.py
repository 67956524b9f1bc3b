"""Request bodies, parsed as the monolith's DRF parsers do: JSON, urlencoded and multipart forms (fields only).

A body is read only by the endpoints that use one, when they get to it: a refusal that comes first (401, 403, 404)
never depends on the body, as in the monolith.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from inventory_service.errors import ApiError, InvalidInput, UnsupportedMediaType

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
PARSES = [JSON_TYPE, FORM_TYPE, MULTIPART_TYPE]


class ParseError(ApiError):
    status = 400
    code = "parse_error"


@dataclass(frozen=True)
class Body:
    data: Any  # a dict for a form; whatever the JSON held otherwise
    form: bool  # DRF treats form input differently (absent checkboxes, empty optional fields)

    def as_mapping(self) -> dict[str, Any]:
        """The body as the serializer needs it: a JSON value that is not an object is DRF's non-field error."""
        if isinstance(self.data, dict):
            return self.data
        message = f"Invalid data. Expected a dictionary, but got {_json_type_name(self.data)}."
        raise InvalidInput(message, fields={"non_field_errors": [message]})


async def read_body(request: Request) -> Body:
    content = await request.body()
    content_type = request.headers.get("content-type")
    if not content or content_type is None:
        # DRF: no body (or no media type to parse it by) is an empty body.
        return Body(data={}, form=content_type is not None and _media_type(content_type) in (FORM_TYPE, MULTIPART_TYPE))
    media_type, params = _media_type(content_type), _params(content_type)
    if media_type == JSON_TYPE:
        return Body(data=_json(content, params.get("charset", "utf-8")), form=False)
    if media_type == FORM_TYPE:
        pairs = parse_qsl(content.decode(params.get("charset", "utf-8"), "replace"), keep_blank_values=True)
        return Body(data=dict(pairs), form=True)  # the last value of a repeated key wins, as in a QueryDict
    if media_type == MULTIPART_TYPE and "boundary" in params:
        return Body(data=_multipart(content, content_type), form=True)
    raise UnsupportedMediaType(content_type)


def _json(content: bytes, charset: str) -> Any:
    def refuse_constant(name: str) -> Any:
        raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")

    try:
        return json.loads(content.decode(charset), parse_constant=refuse_constant)
    except (ValueError, LookupError) as exc:
        raise ParseError(f"JSON parse error - {exc}") from exc


def _multipart(content: bytes, content_type: str) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + content)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise ParseError("Multipart form parse error - Invalid boundary in multipart: None")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            fields[str(name)] = raw.decode(part.get_content_charset() or "utf-8", "replace")
    return fields


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _params(content_type: str) -> dict[str, str]:
    params = {}
    for item in content_type.split(";")[1:]:
        name, _, value = item.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return params


def _json_type_name(value: Any) -> str:
    """The Python type name DRF puts in its message."""
    return type(value).__name__
