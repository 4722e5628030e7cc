"""Every GraphQL query keyfix sent in the tests, held against GitHub's published GraphQL schema.

Usage: github_graphql.py SCHEMA REPORT DIR...

SCHEMA is `schema.graphql` of the npm package @octokit/graphql-schema; each DIR holds the GitHub
exchanges one test binary recorded (`*.jsonl`, one exchange a line, as keyfix-sim's `exchanges`
writes them). Each `POST /graphql` (`/api/graphql` on Enterprise Server) that keyfix sent is checked:
its query parses, is valid against the schema (every field, argument, fragment and type, as
graphql-core's validation rules say), and its variables are of the types the query declares.
REPORT is where the figures and the violations go, as JSON; a summary is printed. The exit status
is 1 when there is any violation.
"""

import collections
import json
import sys
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, build_schema, parse, validate
from graphql.execution.values import get_variable_values


def is_keyfix_query(exchange):
    path = exchange["path"].partition("?")[0]
    if exchange["method"] != "POST" or not path.endswith("/graphql"):
        return False
    agents = [v for n, v in exchange.get("request_headers", []) if n.lower() == "user-agent"]
    return any(a.startswith("keyfix/") for a in agents)


def problems(schema, body):
    """What is wrong with one request body: a list of messages, empty when it is valid."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return ["the body is not {\"query\": ..., \"variables\": ...}"]
    try:
        document = parse(body["query"])
    except GraphQLError as e:
        return [f"does not parse: {e.message}"]
    found = [e.message for e in validate(schema, document)]
    variables = body.get("variables") or {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            coerced = get_variable_values(schema, definition.variable_definitions or [], variables)
            if isinstance(coerced, list):
                found.extend(f"variables: {e.message}" for e in coerced)
    return found


def main():
    schema_path, report_path = sys.argv[1:3]
    # The published schema breaks a few of GraphQL's own rules (fields defined twice, deprecated
    # implementations of fields their interfaces keep): the schema is taken as GitHub serves it,
    # and the queries are checked against it.
    schema = build_schema(
        Path(schema_path).read_text(), assume_valid=True, assume_valid_sdl=True
    )
    figures = collections.Counter()
    violations = collections.Counter()
    examples = {}
    queries = collections.Counter()
    for directory in sys.argv[3:]:
        for file in sorted(Path(directory).glob("*.jsonl")):
            for line in file.read_text().splitlines():
                if not line.strip():
                    continue
                exchange = json.loads(line)
                if not is_keyfix_query(exchange):
                    continue
                figures["queries checked"] += 1
                body = exchange.get("request_body")
                name = (body or {}).get("query", "").split("(")[0].strip() or "(anonymous)"
                queries[name] += 1
                for message in problems(schema, body):
                    violations[(name, message)] += 1
                    examples.setdefault((name, message), exchange.get("test"))
    figures["distinct queries"] = len(queries)
    figures["violations"] = sum(violations.values())
    report = {
        "figures": dict(figures),
        "queries": dict(queries),
        "violations": [
            {"query": q, "message": m, "count": n, "test": examples[(q, m)]}
            for (q, m), n in sorted(violations.items())
        ],
    }
    Path(report_path).write_text(json.dumps(report, indent=2) + "\n")
    print("GitHub's GraphQL schema")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    for name, count in sorted(queries.items()):
        print(f"  {name}: {count}")
    for v in report["violations"]:
        print(f"violation ×{v['count']} {v['query']}: {v['message']} (e.g. in {v['test']})")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
