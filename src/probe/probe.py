# keyfix probe: tests the stored Anthropic key from inside the run and prints one report line.
# It prints nothing that reveals the key or raw organization ids: fingerprints are salted with
# the nonce keyfix sends, and messages are scrubbed of UUIDs. Python 3.10+, standard library.
import hashlib
import hmac
import json
import os
import re
import time
import urllib.error
import urllib.request

VERSION = int(os.environ["KEYFIX_PROBE_VERSION"])
NONCE = os.environ["KEYFIX_NONCE"].encode()
BASE = (os.environ.get("KEYFIX_BASE_URL") or "https://api.anthropic.com").rstrip("/")
MODEL = os.environ["KEYFIX_MODEL"]
BASELINE = os.environ.get("KEYFIX_BASELINE") or "claude-haiku-4-5"
PREFIXES = [("sk-ant-api03-", "api03"), ("sk-ant-admin01-", "admin01"),
            ("sk-ant-oat01-", "oat01"), ("sk-ant-sid01-", "sid01"), ("sk-ant-ort01-", "ort01")]
INVISIBLE = "\u00a0\u200b\u200c\u200d\u2060\u202f"
QUOTES = "\"'`\u201c\u201d\u2018\u2019"
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def salted(value):
    return hmac.new(NONCE, value.encode(), hashlib.sha256).hexdigest()[:16] if value else None


def shape(raw):
    """The same reading as keyfix's own shape check, on the value exactly as stored."""
    defects, inner = [], raw

    def note(name):
        if name not in defects:
            defects.append(name)

    while True:
        before = inner
        if inner.startswith("\ufeff"):
            note("byte_order_mark")
            inner = inner[1:]
        if inner and (inner[0].isspace() or inner[0] in INVISIBLE):
            c = inner[0]
            note("leading_newline" if c in "\r\n" else "invisible_space" if c in INVISIBLE else "leading_whitespace")
            inner = inner[1:]
        if inner and (inner[-1].isspace() or inner[-1] in INVISIBLE or inner[-1] == "\ufeff"):
            c = inner[-1]
            note("trailing_newline" if c in "\r\n" else "invisible_space" if c in INVISIBLE
                 else "byte_order_mark" if c == "\ufeff" else "trailing_whitespace")
            inner = inner[:-1]
        if len(inner) >= 2 and inner[0] in QUOTES and inner[-1] in QUOTES:
            note("surrounding_quotes")
            inner = inner[1:-1]
        if inner == before:
            break
    for c in inner:
        if c in INVISIBLE or c == "\ufeff":
            note("byte_order_mark" if c == "\ufeff" else "invisible_space")
        elif c.isspace():
            note("inner_whitespace")
    kind, prefix = "unknown", ""
    for p, k in PREFIXES:
        if inner.startswith(p):
            kind, prefix = k, p
    body = inner[len(prefix):]
    well_formed = bool(prefix) and bool(body) and all(c.isalnum() and c.isascii() or c in "_-" for c in body)
    if kind in ("api03", "admin01"):
        well_formed = well_formed and len(inner) == (108 if kind == "api03" else 110) and inner.endswith("AA")
    hint = prefix + body[:3] + "..." + body[-4:] if prefix and len(body) >= 8 else ""
    return {"present": raw != "", "length": len(raw), "kind": kind, "defects": defects,
            "well_formed": well_formed}, hint


def call(key, endpoint, model=None):
    if endpoint == "models":
        request = urllib.request.Request(BASE + "/v1/models?limit=1", method="GET")
    else:
        body = json.dumps({"model": model, "max_tokens": 1,
                           "messages": [{"role": "user", "content": "Hi"}]}).encode()
        request = urllib.request.Request(BASE + "/v1/messages", data=body, method="POST")
        request.add_header("content-type", "application/json")
    request.add_header("x-api-key", key)
    request.add_header("anthropic-version", "2023-06-01")
    request.add_header("user-agent", "keyfix-probe/%d" % VERSION)
    started = time.monotonic()
    result = {"call": endpoint}
    if model:
        result["model"] = model
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, error.headers, error.read()
    except Exception:  # no answer: a timeout or a network failure inside the runner
        result.update({"timed_out": True, "latency_ms": int((time.monotonic() - started) * 1000)})
        return result
    result["latency_ms"] = int((time.monotonic() - started) * 1000)
    result["status"] = status
    try:
        document = json.loads(text or b"{}")
    except ValueError:
        document = {}
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        result["error_type"] = error.get("type")
        message = UUID.sub("[organization]", str(error.get("message") or ""))
        result["message"] = re.sub(r"sk-ant-[A-Za-z0-9_-]+", "[key]", message)[:300]
        details = error.get("details")
        if isinstance(details, dict) and details.get("error_code"):
            result["error_code"] = str(details["error_code"])
    request_id = headers.get("request-id") or (document.get("request_id") if isinstance(document, dict) else None)
    if request_id:
        result["request_id"] = request_id
    for field, header in (("organization_id", "anthropic-organization-id"), ("workspace_id", "anthropic-workspace-id")):
        if headers.get(header):
            result[field] = salted(headers.get(header))
    if headers.get("retry-after") or headers.get("retry-after-ms"):
        result["retry_after"] = True
    limit = headers.get("anthropic-ratelimit-requests-limit")
    if limit and limit.isdigit():
        result["requests_limit"] = int(limit)
    return result


def probe(name, raw):
    report, hint = shape(raw)
    report["name"] = name
    if raw:
        report["fingerprint"] = salted(raw)
    if hint:
        report["hint_fingerprint"] = salted(hint)
    calls = []
    if report["present"] and report["kind"] == "api03" and report["well_formed"] and not report["defects"]:
        calls.append(call(raw, "models"))
        on_model = call(raw, "messages", MODEL)
        calls.append(on_model)
        if on_model.get("status") != 200 and MODEL != BASELINE:
            calls.append(call(raw, "messages", BASELINE))
    report["calls"] = calls
    return report


names = [n for n in os.environ["KEYFIX_SECRET_NAMES"].split(",") if n]
secrets = [probe(name, os.environ.get("KEYFIX_SECRET_%d" % (i + 1), "")) for i, name in enumerate(names)]
report = {"version": VERSION, "correlation_id": os.environ["KEYFIX_CORRELATION_ID"],
          "environment": os.environ.get("KEYFIX_ENVIRONMENT") or None,
          "run_id": os.environ.get("KEYFIX_RUN_ID"), "secrets": secrets}
print("keyfix-probe-report: " + json.dumps(report, separators=(",", ":")))
