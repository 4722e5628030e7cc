"""Checks recorded GitHub exchanges against GitHub's own OpenAPI description.

Usage: python github_openapi.py DESCRIPTION REPORT DIRECTORY...

DESCRIPTION is `api.github.com.json` of the npm package @octokit/openapi. Each DIRECTORY holds the
`*.jsonl` files keyfix-sim's simulators recorded for one test binary (keyfix_sim::exchanges): one
JSON object a line for every request its GitHub side served (method, path, query, request headers
and JSON body, status, answer headers and JSON body), tokens and sealed values redacted. REPORT is
where the figures and the violations go, as JSON; a summary is printed. The exit status is 1 when
there is a violation.

For every request: its operation exists (method and path template), its path and query parameters
are declared and valid, its JSON body is valid against the operation's schema (and present when
required, absent when the operation takes none), and its headers are the ones GitHub asks for. For
every answer: its status is one the operation documents, its JSON body is valid against the schema
documented for that status (OpenAPI 3.0 `nullable` honoured, required properties included), it
holds no property the description does not declare, and a documented `Location` is sent.
"""

import collections
import json
import re
import sys
import urllib.parse
from pathlib import Path

import jsonschema
import referencing
import referencing.jsonschema

ROOT = "urn:github-openapi"

# Where GitHub's answers hold null though its description says otherwise, each with the reason.
# The simulator sends these nulls as GitHub does; the check takes them as GitHub's.
NULLS_GITHUB_SENDS = {
    # github/rest-api-description#1586: a run whose head repository (a fork) was deleted.
    ("workflow-run", "head_repository"): "a run of a pull request from a deleted fork",
    # A run whose actor's account no longer exists.
    ("workflow-run", "actor"): "a run whose actor's account was deleted",
    ("workflow-run", "triggering_actor"): "a run whose actor's account was deleted",
    # github/rest-api-description#2507 and #7058: an organization that has not filled these in
    # (`curl https://api.github.com/orgs/github` shows company and email null); the maintainers
    # made all four nullable after this version of the description.
    ("organization-full", "company"): "an organization without a company",
    ("organization-full", "email"): "an organization without a public email",
    ("organization-full", "location"): "an organization without a location",
    ("organization-full", "blog"): "an organization without a website",
}

# Properties GitHub sends that its description leaves out of a schema: every error document
# carries `status` (basic-error declares it; validation-error does not).
PROPERTIES_GITHUB_SENDS = {
    ("validation-error", "status"): {"type": "string"},
}

# Statuses GitHub answers to any operation, whether the operation lists them or not (GitHub's
# REST documentation, "Troubleshooting"): a token it does not know (401); a token without the
# permission, or a spent budget (403); a resource that does not exist or that the token may not
# see (404); a secondary rate limit (403, 429). Their body is GitHub's error document.
ANY_OPERATION = {401, 403, 404, 429}
# And to any operation that takes a body: a body it refuses (422, a validation error).
ANY_OPERATION_WITH_BODY = {422}

# The request headers GitHub asks every client to send.
ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"

# Path parameters that hold slashes (a file's path, a Git reference): only these may match more
# than one segment of a path.
MULTI_SEGMENT = {"path", "ref"}

KEYWORDS_WITH_SCHEMA = ("items", "additionalProperties", "not")
KEYWORDS_WITH_SCHEMAS = ("allOf", "anyOf", "oneOf")
OPENAPI_ONLY = {
    "nullable",
    "discriminator",
    "example",
    "examples",
    "xml",
    "externalDocs",
    "deprecated",
    "readOnly",
    "writeOnly",
}


def convert(schema):
    """An OpenAPI 3.0 schema as a JSON Schema (draft 4): `nullable` becomes a null type."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        # As in OpenAPI 3.0: whatever sits beside a reference is ignored.
        return {"$ref": ROOT + schema["$ref"]}
    out = {}
    for key, value in schema.items():
        if key in OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: convert(s) for name, s in value.items()}
        elif key in KEYWORDS_WITH_SCHEMA and isinstance(value, dict):
            out[key] = convert(value)
        elif key == "oneOf":
            # Checked as anyOf: some of the description's oneOf branches overlap (basic-error
            # and repository-rule-violation-error both take any error document), so that no
            # answer could be valid under exactly one.
            out["anyOf"] = [convert(s) for s in value]
        elif key in KEYWORDS_WITH_SCHEMAS:
            out[key] = [convert(s) for s in value]
        else:
            out[key] = value
    if schema.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = types + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        elif any(k in out for k in KEYWORDS_WITH_SCHEMAS + ("enum",)):
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def allow_null(schema):
    return {"anyOf": [schema, {"type": "null"}]}


class Description:
    def __init__(self, path):
        raw = json.loads(Path(path).read_text())
        self.raw = raw
        schemas = {name: convert(s) for name, s in raw["components"]["schemas"].items()}
        for (name, prop) in NULLS_GITHUB_SENDS:
            props = schemas[name]["properties"]
            props[prop] = allow_null(props[prop])
        for (name, prop), schema in PROPERTIES_GITHUB_SENDS.items():
            schemas[name]["properties"].setdefault(prop, schema)
        self.root = {"components": {"schemas": schemas}}
        resource = referencing.Resource(
            contents=self.root, specification=referencing.jsonschema.DRAFT4
        )
        self.registry = referencing.Registry().with_resource(ROOT, resource)
        self.formats = formats()
        self.validators = {}
        self.branches = {}
        self.operations = []
        # By first segment (a literal in every path of the description) and number of segments;
        # those whose last parameter may take several segments apart, by first segment.
        self.by_shape = collections.defaultdict(list)
        self.loose = collections.defaultdict(list)
        self.matched = {}
        for template, item in raw["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters":
                    continue
                params = [self.deref(p) for p in shared + op.get("parameters", [])]
                operation = Operation(template, method.upper(), op, params, self)
                self.operations.append(operation)
                kind, first = operation.segments[0]
                assert kind == "literal", f"{template} starts with a parameter"
                self.by_shape[(first, len(operation.segments))].append(operation)
                if operation.multi_segment:
                    self.loose[first].append(operation)

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.raw
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        return node

    def schema(self, ref):
        """The converted schema `ref` (`urn:…#/components/schemas/NAME`) names."""
        target = self.root
        for part in ref.split("#", 1)[1][1:].split("/"):
            target = target[part]
        return target

    def validator(self, key, openapi_schema):
        """The validator of an OpenAPI schema, made once for `key`; its converted schema is its
        `.schema`."""
        if key not in self.validators:
            self.validators[key] = jsonschema.Draft4Validator(
                convert(openapi_schema), registry=self.registry, format_checker=self.formats
            )
        return self.validators[key]

    def is_valid(self, schema, instance):
        """Whether `instance` is valid under a converted schema (a part of one already made)."""
        key = id(schema)
        if key not in self.branches:
            self.branches[key] = (schema, jsonschema.Draft4Validator(schema, registry=self.registry))
        return self.branches[key][1].is_valid(instance)

    def match(self, method, path):
        """The operation for `method` on `path`, its path parameters, and whether the path is
        known at all (for another method). Worked out once for each method and path: the tests
        poll the same paths again and again."""
        if (method, path) not in self.matched:
            self.matched[(method, path)] = self.find(method, path)
        return self.matched[(method, path)]

    def find(self, method, path):
        best = None
        path_known = False
        segments = path.strip("/").split("/")
        candidates = self.by_shape.get((segments[0], len(segments)), []) + [
            op for op in self.loose.get(segments[0], []) if len(op.segments) < len(segments)
        ]
        for op in candidates:
            params = op.match(segments)
            if params is None:
                continue
            path_known = True
            if op.method != method:
                continue
            if best is None or op.specificity > best[0].specificity:
                best = (op, params)
        return best, path_known


def formats():
    checker = jsonschema.FormatChecker(formats=())
    date_time = re.compile(
        r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
    )
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(date_time.match(v)))
    checker.checks("date")(
        lambda v: not isinstance(v, str) or bool(re.match(r"^\d{4}-\d{2}-\d{2}$", v))
    )
    checker.checks("uri")(
        lambda v: not isinstance(v, str) or bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$", v))
    )
    checker.checks("email")(lambda v: not isinstance(v, str) or "@" in v)
    return checker


class Operation:
    def __init__(self, template, method, op, params, description):
        self.template = template
        self.method = method
        self.op = op
        self.id = op.get("operationId", f"{method} {template}")
        self.params = params
        self.description = description
        # Each segment: ("literal", text) or ("param", name).
        self.segments = []
        for segment in template.strip("/").split("/"):
            found = re.fullmatch(r"\{([^}]+)\}", segment)
            self.segments.append(("param", found.group(1)) if found else ("literal", segment))
        last = self.segments[-1]
        # The last parameter may take the rest of the path when it is a file path or a ref.
        self.multi_segment = last[0] == "param" and last[1] in MULTI_SEGMENT
        literal = sum(len(text) + 1 for kind, text in self.segments if kind == "literal")
        params_count = sum(1 for kind, _ in self.segments if kind == "param")
        self.specificity = (literal, -params_count)

    def match(self, segments):
        """The path parameters when `segments` (a path split at `/`) is this operation's."""
        n = len(self.segments)
        if len(segments) != n and not (self.multi_segment and len(segments) > n):
            return None
        params = {}
        for i, (kind, text) in enumerate(self.segments):
            if i == n - 1 and len(segments) > n:
                value = "/".join(segments[i:])
            else:
                value = segments[i]
            if kind == "literal":
                if value != text:
                    return None
            else:
                if not value:
                    return None
                params[text] = urllib.parse.unquote(value)
        return params

    def parameters(self, where):
        return [p for p in self.params if p["in"] == where]

    def request_body(self):
        body = self.op.get("requestBody")
        return self.description.deref(body) if body else None

    def response(self, status):
        responses = self.op.get("responses", {})
        found = responses.get(str(status)) or responses.get("%dXX" % (status // 100))
        return self.description.deref(found) if found is not None else None


def coerce(value, schema):
    """A parameter's text as the type its schema names, or the text when it is not one."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def where(error):
    out = "$"
    for part in error.absolute_path:
        out += "[]" if isinstance(part, int) else "." + str(part)
    return out


def short(value, limit=60):
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def leaf_errors(error):
    """The errors that say what is wrong: inside a oneOf/anyOf, those of the branch that came
    closest (of the branches whose type the value has, the one with the fewest errors)."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches = collections.defaultdict(list)
        for sub in error.context:
            branches[sub.schema_path[0]].append(sub)

        def distance(errors):
            wrong_type = any(e.validator == "type" and not e.path for e in errors)
            return (wrong_type, len(errors))

        closest = min(branches.values(), key=distance)
        out = []
        for sub in closest:
            out.extend(leaf_errors(sub))
        return out
    return [error]


def describe(error):
    at = where(error)
    kind = error.validator
    if kind == "required":
        return f"{at}: {error.message}"
    if kind == "type":
        return f"{at}: {json_type(error.instance)} where the description says {short(error.validator_value)}"
    if kind == "enum":
        return f"{at}: {short(error.instance)} is not one of {short(error.validator_value, 120)}"
    if kind == "oneOf":
        return f"{at}: valid under more than one of oneOf"
    return f"{at}: {kind} {short(error.validator_value)} fails for {short(error.instance)}"


def schema_errors(validator, instance):
    messages = []
    for error in validator.iter_errors(instance):
        for leaf in leaf_errors(error):
            messages.append(describe(leaf))
    return sorted(set(messages))


class Undeclared:
    """Properties of an answer its schema does not declare, found by walking the answer with
    the schemas that apply to each part (every allOf branch; the oneOf/anyOf branches the part is
    valid under). A free-form object (`additionalProperties`, no `properties`) is not walked."""

    def __init__(self, description):
        self.description = description

    def expand(self, schema, instance, out):
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            self.expand(self.description.schema(schema["$ref"]), instance, out)
            return
        out.append(schema)
        for sub in schema.get("allOf", []):
            self.expand(sub, instance, out)
        for key in ("oneOf", "anyOf"):
            branches = schema.get(key, [])
            valid = [b for b in branches if self.valid(b, instance)]
            for sub in valid or branches:
                self.expand(sub, instance, out)

    def valid(self, schema, instance):
        return self.description.is_valid(schema, instance)

    def walk(self, schemas, instance, at, found):
        expanded = []
        for schema in schemas:
            self.expand(schema, instance, expanded)
        if isinstance(instance, dict):
            declared = {}
            free = False
            for schema in expanded:
                for name, sub in schema.get("properties", {}).items():
                    declared.setdefault(name, []).append(sub)
                extra = schema.get("additionalProperties")
                if extra not in (None, False) or "patternProperties" in schema:
                    free = True
                if schema.get("type") == "object" and "properties" not in schema and not any(
                    k in schema for k in KEYWORDS_WITH_SCHEMAS
                ):
                    free = True
            if not declared and not expanded:
                return
            for name, value in instance.items():
                if name in declared:
                    self.walk(declared[name], value, f"{at}.{name}", found)
                elif not free:
                    found.add(f"{at}.{name}: a property the description does not declare")
        elif isinstance(instance, list):
            items = [s["items"] for s in expanded if isinstance(s.get("items"), dict)]
            if items:
                for value in instance:
                    self.walk(items, value, f"{at}[]", found)


class Check:
    def __init__(self, description):
        self.description = description
        self.undeclared = Undeclared(description)
        self.violations = collections.Counter()
        self.examples = {}
        self.figures = collections.Counter()
        self.operations = collections.Counter()
        self.statuses = collections.defaultdict(collections.Counter)
        self.judged = {}

    def violation(self, side, operation, message, exchange):
        key = (side, operation, message)
        self.violations[key] += 1
        self.examples.setdefault(
            key,
            {
                "test": exchange.get("test"),
                "request": f"{exchange['method']} {exchange['path']}",
                "status": exchange.get("status"),
            },
        )

    def exchange(self, exchange):
        prefix = (exchange.get("prefix") or "").rstrip("/")
        raw = exchange["path"]
        path, _, query = raw.partition("?")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        if path.startswith("/_sim/") or path.startswith("/_presigned/"):
            self.figures["not GitHub operations (/_sim/, /_presigned/)"] += 1
            return
        method = exchange["method"]
        if method == "POST" and path in ("/graphql", "/api/graphql"):
            # GraphQL has no REST operation: its queries are checked against GitHub's GraphQL
            # schema instead.
            self.figures["GraphQL queries (not REST operations)"] += 1
            return
        self.figures["exchanges"] += 1
        found, path_known = self.description.match(method, path)
        if found is None:
            what = "no such method for this path" if path_known else "no such path"
            self.violation("request", f"{method} {path}", what, exchange)
            return
        op, params = found
        self.operations[op.id] += 1
        self.statuses[op.id][exchange.get("status")] += 1
        agents = [v for n, v in exchange.get("request_headers", []) if n.lower() == "user-agent"]
        if any(a.startswith("keyfix/") for a in agents):
            self.figures["requests checked (keyfix's)"] += 1
            for message in self.request(op, params, query, exchange):
                self.violation("request", op.id, message, exchange)
        else:
            # A test's own client (keyfix-sim's tests send raw HTTP): only its answer is checked.
            self.figures["requests of other clients (answers checked only)"] += 1
        fault = exchange.get("fault")
        if fault == "dropped":
            self.figures["answers not given (connection dropped by a fault)"] += 1
            return
        self.figures["answers checked"] += 1
        if fault == "status":
            self.figures["of which fault answers (checked as GitHub's error document)"] += 1
            messages = self.error_document(exchange)
        else:
            messages = self.answer(op, exchange)
        for message in messages:
            self.violation("answer", op.id, message, exchange)

    def request(self, op, params, query, exchange):
        out = []
        headers = collections.defaultdict(list)
        for name, value in exchange.get("request_headers", []):
            headers[name.lower()].append(value)
        agents = headers.get("user-agent", [])
        if len(agents) != 1:
            out.append(f"header user-agent: sent {len(agents)} times")
        elif not agents[0].startswith("keyfix/"):
            out.append(f"header user-agent: {short(agents[0])} does not name keyfix")
        for name, wanted in (("accept", ACCEPT), ("x-github-api-version", API_VERSION)):
            got = headers.get(name, [])
            if got != [wanted]:
                out.append(f"header {name}: {short(got)} where GitHub asks for {wanted!r}")
        auth = headers.get("authorization", [])
        if len(auth) != 1 or not auth[0].startswith("Bearer "):
            out.append(f"header authorization: {short(auth)}, not one Bearer token")
        for p in op.parameters("header"):
            if p.get("required") and p["name"].lower() not in headers:
                out.append(f"header {p['name']}: required, not sent")
        for p in op.parameters("path"):
            value = params.get(p["name"])
            schema = p.get("schema", {})
            out.extend(
                f"path parameter {p['name']}: {m}"
                for m in self.parameter(op, p, coerce(value, schema))
            )
        declared = {p["name"]: p for p in op.parameters("query")}
        given = urllib.parse.parse_qsl(query, keep_blank_values=True)
        for name, value in given:
            p = declared.get(name)
            if p is None:
                out.append(f"query parameter {name}: not declared by the operation")
                continue
            out.extend(
                f"query parameter {name}: {m}"
                for m in self.parameter(op, p, coerce(value, p.get("schema", {})))
            )
        for name, p in declared.items():
            if p.get("required") and name not in dict(given):
                out.append(f"query parameter {name}: required, not sent")
        body = exchange.get("request_body")
        has_body = "request_body" in exchange or "request_body_text" in exchange
        spec = op.request_body()
        if has_body and headers.get("content-type", [""])[0].split(";")[0] != "application/json":
            out.append(f"header content-type: {short(headers.get('content-type'))} with a JSON body")
        if spec is None:
            if has_body:
                out.append("request body: sent, the operation takes none")
        else:
            schema = spec.get("content", {}).get("application/json", {}).get("schema")
            if not has_body:
                if spec.get("required"):
                    out.append("request body: required, not sent")
            elif "request_body_text" in exchange:
                out.append("request body: not JSON")
            elif schema is not None:
                validator = self.description.validator((op.id, "request"), schema)
                out.extend(f"request body {m}" for m in schema_errors(validator, body))
        return out

    def parameter(self, op, p, value):
        validator = self.description.validator((op.id, "param", p["in"], p["name"]), p.get("schema", {}))
        return schema_errors(validator, value)

    def error_document(self, exchange):
        """GitHub's error document: a validation error for a 422, its basic error otherwise."""
        if "response_body" not in exchange:
            return ["answer body: none, where GitHub sends its error document"]
        body = exchange["response_body"]
        name = "validation-error" if exchange["status"] == 422 else "basic-error"
        schema = {"$ref": "#/components/schemas/" + name}
        out = [f"error document {m}" for m in self.body_violations((name,), schema, body)]
        if not isinstance(body, dict) or "message" not in body:
            out.append("error document: no message")
        return out

    def body_violations(self, key, schema, body):
        """What is wrong with an answer's `body` under `schema` (its validator made once for
        `key`): schema errors, then properties the description does not declare. Worked out once
        for each body: the tests get the same answers again and again."""
        judged = (key, json.dumps(body, sort_keys=True))
        if judged not in self.judged:
            validator = self.description.validator(key, schema)
            found = set()
            self.undeclared.walk([validator.schema], body, "$", found)
            self.judged[judged] = schema_errors(validator, body) + sorted(found)
        return self.judged[judged]

    def answer(self, op, exchange):
        status = exchange["status"]
        headers = {name.lower(): value for name, value in exchange.get("response_headers", [])}
        documented = op.response(status)
        if documented is None:
            conditional = any(
                name.lower() == "if-none-match" for name, _ in exchange.get("request_headers", [])
            )
            if status == 304 and op.method == "GET" and conditional:
                # Any GET answered with an ETag may be asked again with If-None-Match.
                self.figures["of which 304 to a conditional request"] += 1
                has_body = "response_body" in exchange or "response_body_text" in exchange
                return ["answer body: a 304 with a body"] if has_body else []
            takes_body = op.request_body() is not None
            if status in ANY_OPERATION or (takes_body and status in ANY_OPERATION_WITH_BODY):
                self.figures[f"of which {status} (GitHub answers it to any operation)"] += 1
                return self.error_document(exchange)
            listed = ", ".join(sorted(op.op.get("responses", {})))
            return [f"status {status}: not documented (documented: {listed})"]
        out = []
        for name in documented.get("headers", {}):
            if name.lower() == "location" and "location" not in headers:
                out.append(f"answer header {name}: documented, not sent")
        content = documented.get("content", {})
        has_body = "response_body" in exchange or "response_body_text" in exchange
        if not content:
            if has_body and status < 400:
                out.append(f"answer body: sent with {status}, which documents none")
            elif has_body:
                out.extend(self.error_document(exchange))
            return out
        media = content.get("application/json")
        if media is None:
            return out + [f"answer: {status} documents no application/json body"]
        if not has_body:
            return out + [f"answer body: none, where {status} documents one"]
        if "response_body_text" in exchange:
            return out + ["answer body: not JSON"]
        kind = headers.get("content-type", "")
        if not kind.startswith("application/json"):
            out.append(f"answer header content-type: {short(kind)} with a JSON body")
        schema = media.get("schema")
        if schema is None:
            return out
        body = exchange["response_body"]
        out.extend(f"answer body {m}" for m in self.body_violations((op.id, status), schema, body))
        return out


def main():
    description_path, report_path = sys.argv[1:3]
    description = Description(description_path)
    check = Check(description)
    files = []
    binaries = {}
    for directory in sys.argv[3:]:
        found = sorted(Path(directory).glob("*.jsonl"))
        files.extend(found)
        before = check.figures["exchanges"]
        for file in found:
            for line in file.read_text().splitlines():
                if line.strip():
                    check.exchange(json.loads(line))
        binaries[Path(directory).name] = check.figures["exchanges"] - before
    violations = [
        {
            "side": side,
            "operation": operation,
            "message": message,
            "count": count,
            "example": check.examples[(side, operation, message)],
        }
        for (side, operation, message), count in sorted(check.violations.items())
    ]
    figures = dict(check.figures)
    figures["recordings"] = len(files)
    figures["operations"] = len(check.operations)
    figures["request violations"] = sum(
        v["count"] for v in violations if v["side"] == "request"
    )
    figures["answer violations"] = sum(v["count"] for v in violations if v["side"] == "answer")
    report = {
        "description": description.raw["info"].get("version"),
        "figures": figures,
        "exchanges_by_test_binary": binaries,
        "operations": {
            op: {"exchanges": n, "statuses": {str(k): v for k, v in sorted(check.statuses[op].items())}}
            for op, n in sorted(check.operations.items())
        },
        "violations": violations,
    }
    Path(report_path).write_text(json.dumps(report, indent=2) + "\n")
    print(f"GitHub's OpenAPI description {report['description']}")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    print("  exchanges by test binary: " + ", ".join(f"{k} {v}" for k, v in binaries.items()))
    print(f"  operations: {', '.join(sorted(check.operations))}")
    for v in violations:
        e = v["example"]
        print(
            f"{v['side']} violation ×{v['count']} {v['operation']}: {v['message']}\n"
            f"    e.g. {e['request']} → {e['status']} in {e['test']}"
        )
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
