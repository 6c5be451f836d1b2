"""Check recorded requests against a provider's published OpenAPI document (vendored under
`tests/fakes/specs/`): the path and method exist, the path parameters fill the template, and
the JSON or multipart body is valid against the operation's request schema (JSON Schema
2020-12, which OpenAPI 3.1 uses). A request the document does not describe is a violation.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPECS = Path(__file__).parent / "specs"


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    with gzip.open(SPECS / name, "rt", encoding="utf-8") as handle:
        spec: dict[str, Any] = _numeric_bounds(json.load(handle))
    return spec


def _numeric_bounds(node: Any) -> Any:
    """OpenAPI 3.0's `exclusiveMinimum: true` beside `minimum` in 3.0 spelling, as 3.1 (JSON
    Schema 2020-12) means it: `exclusiveMinimum: <the minimum>`. OpenAI's 3.1 document keeps a
    few 3.0 spellings; read literally, `true` would be a bound of 1."""
    if isinstance(node, list):
        return [_numeric_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _numeric_bounds(value) for key, value in node.items()}
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(flag), bool) and node.pop(flag) and bound in node:
            node[flag] = node.pop(bound)  # (a `false` flag is dropped: it bounds nothing)
    return node


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
    return re.compile(f"^{pattern}$")


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The operation for a concrete path; literal templates win over parameterised ones
    (`/fine-tunes/models/supported` before `/fine-tunes/{id}`)."""
    matches = [t for t in spec["paths"] if _template_regex(t).match(path)]
    matches.sort(key=lambda t: t.count("{"))
    for template in matches:
        operation = spec["paths"][template].get(method.lower())
        if operation is not None:
            return dict(operation)
    return None


def _multipart_fields(content_type: str, body: bytes) -> dict[str, Any]:
    from email.parser import BytesParser
    from email.policy import default

    message = BytesParser(policy=default).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        fields[str(name)] = "<binary>" if part.get_filename() else payload.decode()
    return fields


def violations(
    spec_name: str, method: str, path: str, headers: dict[str, str], body: bytes, prefix: str
) -> list[str]:
    """What is wrong with one request (empty: the document accepts it). `prefix` is the
    server's base path (`/v1`), removed before matching the document's paths."""
    spec = load_spec(spec_name)
    if not path.startswith(prefix):
        return [f"{method} {path}: outside the API's base path {prefix}"]
    local = path[len(prefix) :] or "/"
    operation = _operation(spec, method, local)
    if operation is None:
        return [f"{method} {local}: the published API has no such operation"]
    request_body = operation.get("requestBody")
    if not body:
        if request_body and request_body.get("required"):
            return [f"{method} {local}: the body is required"]
        return []
    if request_body is None:
        return [f"{method} {local}: this operation takes no body"]
    content_type = headers.get("content-type", "")
    media = content_type.split(";")[0].strip()
    schemas = request_body.get("content", {})
    if media not in schemas:
        return [f"{method} {local}: body type {media!r}; the document accepts {list(schemas)}"]
    if media == "multipart/form-data":
        instance: Any = _multipart_fields(content_type, body)
    else:
        try:
            instance = json.loads(body)
        except json.JSONDecodeError as exc:
            return [f"{method} {local}: the body is not JSON ({exc})"]
    schema = {**schemas[media]["schema"], "$schema": "https://json-schema.org/draft/2020-12/schema"}
    registry: Registry = Registry().with_resource(
        "urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    schema = json.loads(json.dumps(schema).replace('"#/components/', '"urn:spec#/components/'))
    validator = Draft202012Validator(schema, registry=registry)
    return [
        f"{method} {local}: {'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def check_requests(spec_name: str, requests: list[Any], prefix: str = "/v1") -> list[str]:
    """Every violation in a fake's recorded requests."""
    problems: list[str] = []
    for request in requests:
        problems += violations(
            spec_name, request.method, request.path, request.headers, request.body, prefix
        )
    return problems
