"""The OpenAPI document as a contract: validate requests and responses against what it declares.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect), validated with ``jsonschema`` and the
whole document registered as one resource, so ``#/components/...`` references resolve. Response
schemas are checked *strictly*: an object schema that lists ``properties`` gets
``additionalProperties: false`` unless it says otherwise, so a field the server sends but the
document does not declare is a failure, not a silent extra.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:playlist2vec:openapi"
#: Response headers the README promises; each one a response carries must be declared there.
CONTRACT_HEADERS = ("ETag", "Retry-After", "Cache-Control")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _exploded(param: dict[str, Any]) -> bool:
    """An array query parameter sent as ``name=a&name=b`` (style form, explode true: OpenAPI's
    default for query parameters)."""
    schema_type = param.get("schema", {}).get("type")
    return (schema_type == "array" and param.get("style", "form") == "form"
            and param.get("explode", True))


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _strict(node: Any) -> Any:
    """``node`` with ``additionalProperties: false`` on every object schema with properties."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and isinstance(out["properties"], dict):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


class Contract:
    """Look-ups and validators over one OpenAPI document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self._loose = Registry().with_resource(DOC_URI, Resource(doc, DRAFT202012))
        strict = _strict(copy.deepcopy(doc))
        self._strict = Registry().with_resource(DOC_URI, Resource(strict, DRAFT202012))

    # -- the document -----------------------------------------------------------------------
    def deref(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An OpenAPI object with its ``$ref`` (to this document) followed."""
        while "$ref" in obj:
            node: Any = self.doc
            for part in obj["$ref"].removeprefix("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def operations(self) -> set[tuple[str, str]]:
        """Every documented ``(path, method)``."""
        return {(path, m) for path, item in self.doc["paths"].items() for m in item
                if m in METHODS}

    def operation(self, path: str, method: str) -> dict[str, Any]:
        assert path in self.doc["paths"], f"{path} is not documented"
        item = self.doc["paths"][path]
        assert method in item, f"{method.upper()} {path} is not documented"
        return item[method]

    def parameters(self, path: str, method: str) -> dict[tuple[str, str], dict[str, Any]]:
        """``{(in, name): parameter}`` of an operation (path-level ones included)."""
        params = [*self.doc["paths"][path].get("parameters", []),
                  *self.operation(path, method).get("parameters", [])]
        return {(p["in"], p["name"]): p for p in map(self.deref, params)}

    def responses(self, path: str, method: str) -> dict[str, dict[str, Any]]:
        return {code: self.deref(r)
                for code, r in self.operation(path, method)["responses"].items()}

    def body_fields(self, path: str, method: str) -> set[str]:
        """The properties of an operation's JSON request body."""
        body = self.deref(self.operation(path, method).get("requestBody", {}))
        if not body:
            return set()
        return set(self.deref(body["content"]["application/json"]["schema"])
                   .get("properties", {}))

    def validator(self, pointer: str, strict: bool = False) -> Draft202012Validator:
        """A validator of the schema at JSON pointer ``pointer`` of the document."""
        registry = self._strict if strict else self._loose
        return Draft202012Validator({"$ref": DOC_URI + pointer}, registry=registry)

    def schema_errors(self, schema: dict[str, Any], value: Any) -> list[str]:
        """Validation errors of ``value`` against an inline ``schema`` of the document."""
        check = Draft202012Validator({"$ref": f"{DOC_URI}#/$defs/x"}, registry=Registry()
                                     .with_resource(DOC_URI, Resource(
                                         {**self.doc, "$defs": {"x": schema}}, DRAFT202012)))
        return [e.message for e in check.iter_errors(value)]

    # -- requests ---------------------------------------------------------------------------
    def request_errors(self, path: str, method: str, path_values: dict[str, str],
                       query: str, headers: dict[str, str], body: bytes | None,
                       content_type: str | None) -> list[str]:
        """Why a request is not valid by the document ([] when it is), as a client generated
        from it would build it: strings of the URL and headers decoded per each schema."""
        errors: list[str] = []
        params = self.parameters(path, method)
        pairs = parse_qsl(query, keep_blank_values=True)
        names = [n for n, _ in pairs]
        present = {"path": set(path_values), "query": set(names)}
        for (where, name), param in params.items():
            if param.get("required") and name not in present.get(where, {name}):
                errors.append(f"missing {where} parameter {name}")
        exploded = {n for (w, n), p in params.items() if w == "query" and _exploded(p)}
        for name in names:
            if ("query", name) not in params:
                errors.append(f"undocumented query parameter {name}")
            elif names.count(name) > 1 and name not in exploded:
                errors.append(f"repeated query parameter {name}")
        given = [("path", n, v) for n, v in path_values.items()]
        given += [("query", n, v) for n, v in pairs if ("query", n) in params
                  and n not in exploded]
        given += [("header", n, v) for n, v in headers.items() if ("header", n) in params]
        for where, name, raw in given:
            schema = params[(where, name)]["schema"]
            errors += [f"{where} {name}: {m}"
                       for m in self.schema_errors(schema, self.decode(schema, raw))]
        for name in exploded & set(names):  # one item per occurrence: name=a&name=b
            schema = self.deref(params[("query", name)]["schema"])
            items = [self.decode(schema.get("items", {}), v) for n, v in pairs if n == name]
            errors += [f"query {name}: {m}" for m in self.schema_errors(schema, items)]
        errors += self._body_errors(path, method, body, content_type)
        return errors

    def _body_errors(self, path: str, method: str, body: bytes | None,
                     content_type: str | None) -> list[str]:
        spec = self.deref(self.operation(path, method).get("requestBody", {}))
        if not spec:
            return ["a body the operation does not take"] if body else []
        if not body:
            return ["no body"] if spec.get("required") else []
        mimetype = (content_type or "").split(";")[0].strip()
        if mimetype not in spec["content"]:
            return [f"body of type {mimetype!r}"]
        try:
            value = json.loads(body)
        except ValueError:
            return ["body is not JSON"]
        schema = spec["content"][mimetype]["schema"]
        return [f"body: {m}" for m in self.schema_errors(schema, value)]

    def decode(self, schema: dict[str, Any], raw: str) -> Any:
        """A URL or header string as the value of ``schema`` (style form, explode false for
        arrays: comma-separated); a string that is no such value stays a string."""
        schema = self.deref(schema)
        kind = schema.get("type")
        types = kind if isinstance(kind, list) else [kind]
        if "array" in types:
            return [self.decode(schema.get("items", {}), v) for v in raw.split(",")]
        if "integer" in types and re.fullmatch(r"-?[0-9]+", raw):
            return int(raw)
        if "boolean" in types and raw in ("true", "false"):
            return raw == "true"
        return raw

    # -- responses --------------------------------------------------------------------------
    def response_errors(self, path: str, method: str, resp) -> list[str]:
        """Why a test-client response breaks the document ([] when it does not)."""
        responses = self.responses(path, method)
        code = str(resp.status_code)
        if code not in responses:
            return [f"status {code} of {method.upper()} {path} is not declared"
                    f" (declared: {', '.join(sorted(responses))})"]
        declared = responses[code]
        errors = self._header_errors(declared.get("headers", {}), resp)
        content = declared.get("content")
        body = resp.get_data()
        if not content:
            return errors + ([f"{code}: a body where none is declared"] if body else [])
        if resp.mimetype not in content:
            return errors + [f"{code}: content type {resp.mimetype} is not declared"]
        pointer = _pointer("paths", path, method, "responses", code)
        raw_ref = self.operation(path, method)["responses"][code].get("$ref")
        if raw_ref:  # a shared response: validate at its own place in the document
            pointer = raw_ref
        validator = self.validator(f"{pointer}/content/{_pointer(resp.mimetype)[2:]}/schema",
                                   strict=True)
        value = json.loads(body)
        return errors + [f"{code} body at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
                         for e in validator.iter_errors(value)]

    def _header_errors(self, declared: dict[str, Any], resp) -> list[str]:
        errors = []
        lower = {name.lower(): self.deref(h) for name, h in declared.items()}
        for name in CONTRACT_HEADERS:
            if name in resp.headers and name.lower() not in lower:
                errors.append(f"header {name} is sent but not declared")
        for name, header in lower.items():
            value = resp.headers.get(name)
            if value is None:
                if header.get("required"):
                    errors.append(f"required header {name} is missing")
                continue
            schema = header["schema"]
            errors += [f"header {name}={value!r}: {m}"
                       for m in self.schema_errors(schema, self.decode(schema, value))]
        return errors
