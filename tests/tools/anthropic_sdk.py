"""The simulated Anthropic API as the official Python SDK sees it.

Reads a plan on stdin (written by crates/keyfix-sim/tests/sdk.rs): the simulator's base URL, its
models, the value of every key, and the cases, one key each, enumerated from the simulator's own
code (key states, credential kinds, organization conditions, faults). Calls the API through the
SDK for each case and holds every answer against the SDK:

- each refusal raises the exception class the SDK maps its status to, with the cause's text,
  `error_code` and `retry-after` where the API gives them, and `request_id` equal to the body's;
- each success validates strictly against the SDK's own type for it (a model, a message, a
  token count, an Admin API key record), and an answer to a key carries the four families of
  rate-limit headers with resets ahead;
- each error body validates strictly against the SDK's error response;
- auto-pagination of the models and of the Admin API keys ends, forwards and backwards, having
  seen each item once; a `retry-after` is waited for; a dropped connection is a connection error.

Prints the figures and every discrepancy; exits 1 when there is one.
"""

import datetime
import itertools
import json
import sys
import time
from collections import Counter

import anthropic
from anthropic import Omit
from anthropic._error_classes import ERROR_CLASSES
from anthropic.types import Message, MessageTokensCount, ModelInfo
from anthropic.types.organization import APIKey
from anthropic.types.shared import ErrorResponse

PLAN = json.load(sys.stdin)
BASE = PLAN["base_url"]
MODELS = PLAN["models"]
KEYS = PLAN["keys"]
NAMES = {value: name for name, value in KEYS.items()}
# Far more items than any list holds: an auto-pagination that gets here never ends.
GUARD = 10_000
RATE_LIMIT_FAMILIES = ["requests", "tokens", "input-tokens", "output-tokens"]
# The API's documented error type for a 413, which the SDK's error union does not name.
UNTYPED_ERRORS = {"request_too_large"}


class Check:
    """Every answer the SDK received, checked as it arrives."""

    def __init__(self):
        self.calls = 0
        self.by_key = Counter()
        self.discrepancies = []
        self.undeclared = set()
        self.case = "setup"

    def fail(self, what):
        self.discrepancies.append(f"{self.case}: {what}")

    def answer(self, response):
        response.read()
        self.calls += 1
        request = response.request
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        key = NAMES.get(key) or NAMES.get(request.headers.get("x-api-key", ""), "?")
        self.by_key[key] += 1
        where = f"{request.method} {request.url.path} ({key}) {response.status_code}"
        request_id = response.headers.get("request-id")
        if not request_id:
            self.fail(f"{where}: no request-id header")
        try:
            body = json.loads(response.content)
        except ValueError:
            self.fail(f"{where}: the body is not JSON")
            return
        if response.status_code >= 400:
            self.error_body(where, body, request_id)
            return
        kind, model = shape(request.method, request.url.path)
        if model is None:
            self.fail(f"{where}: an answer to a path the SDK does not call")
            return
        items = [body]
        if kind == "page":
            items = body.get("data", [])
            self.page(where, body)
        for item in items:
            self.strict(where, model, item)
        if not request.url.path.startswith("/v1/organizations/"):
            self.rate_limit_headers(where, response.headers)

    def error_body(self, where, body, request_id):
        if body.get("request_id") != request_id:
            self.fail(f"{where}: request_id {body.get('request_id')} in the body, {request_id} in the header")
        if body.get("error", {}).get("type") in UNTYPED_ERRORS:
            return
        self.strict(where, ErrorResponse, body)

    def page(self, where, body):
        data = body.get("data")
        if not isinstance(data, list) or not isinstance(body.get("has_more"), bool):
            self.fail(f"{where}: a page without data or has_more: {body}")
            return
        ends = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        if (body.get("first_id"), body.get("last_id")) != ends:
            self.fail(f"{where}: first_id/last_id {body.get('first_id')}/{body.get('last_id')}, the page runs {ends}")

    def strict(self, where, model, item):
        try:
            model.model_validate_json(json.dumps(item), strict=True)
        except Exception as error:  # pydantic's ValidationError, whatever its version
            self.fail(f"{where}: not a valid {model.__name__}: {error}")
            return
        declared = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
        self.undeclared |= {f"{model.__name__}.{field}" for field in item if field not in declared}

    def rate_limit_headers(self, where, headers):
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        for family in RATE_LIMIT_FAMILIES:
            prefix = f"anthropic-ratelimit-{family}"
            limit, remaining, reset = (headers.get(f"{prefix}-{s}") for s in ("limit", "remaining", "reset"))
            if not (limit and remaining and reset and limit.isdigit() and remaining.isdigit()):
                self.fail(f"{where}: {prefix}-* missing or not numbers: {limit}, {remaining}, {reset}")
                continue
            try:
                ahead = datetime.datetime.fromisoformat(reset.replace("Z", "+00:00")) > now
            except ValueError:
                ahead = False
            if not ahead:
                self.fail(f"{where}: {prefix}-reset {reset} is not an RFC 3339 time ahead")


def shape(method, path):
    """What a successful answer to this request is: one object or a page, of which SDK type."""
    if path == "/v1/models":
        return "page", ModelInfo
    if path.startswith("/v1/models/"):
        return "one", ModelInfo
    if path == "/v1/messages":
        return "one", Message
    if path == "/v1/messages/count_tokens":
        return "one", MessageTokensCount
    if path == "/v1/organizations/api_keys":
        return "page", APIKey
    if path.startswith("/v1/organizations/api_keys/"):
        return "one", APIKey
    return None, None


CHECK = Check()


def client(key_name, max_retries=0, **options):
    return anthropic.Anthropic(
        base_url=BASE,
        api_key=KEYS[key_name],
        max_retries=max_retries,
        http_client=anthropic.DefaultHttpxClient(event_hooks={"response": [CHECK.answer]}),
        **options,
    )


def prompt(model=None):
    return {"model": model or MODELS[0], "messages": [{"role": "user", "content": "Hi"}]}


CALLS = {
    "models.list": lambda c: list(itertools.islice(c.models.list(limit=2), GUARD)),
    "models.retrieve": lambda c: c.models.retrieve(MODELS[0]),
    "messages.create": lambda c: c.messages.create(max_tokens=1, **prompt()),
    "messages.count_tokens": lambda c: c.messages.count_tokens(**prompt()),
}


class Refusal:
    """An exception a call must raise: its class, a piece of its message, and its signals."""

    def __init__(self, cls, text=None, error_code=None, retry_after=None):
        self.cls, self.text, self.error_code, self.retry_after = cls, text, error_code, retry_after


AUTH = Refusal(anthropic.AuthenticationError, "invalid x-api-key")
CREDIT = Refusal(anthropic.BadRequestError, "credit balance is too low")
EVERY_CALL = list(CALLS)


def refused(calls, refusal):
    return {call: refusal for call in calls}


def expected_state(condition):
    return {
        "active": {},
        "orphaned": {"messages.create": CREDIT},
        "inactive": {"messages.create": CREDIT},
        "archived": {"messages.create": CREDIT},
        "expired": refused(EVERY_CALL, AUTH),
        "revoked": refused(EVERY_CALL, AUTH),
    }.get(condition)


def expected_kind(condition):
    return {
        "api": {},
        "admin": refused(EVERY_CALL, AUTH),
        "oauth": refused(EVERY_CALL, AUTH),
        "unknown": refused(EVERY_CALL, AUTH),
    }.get(condition)


def expected_organization(condition):
    gated = ["messages.create", "messages.count_tokens"]
    return {
        "credit": {"messages.create": CREDIT},
        "disabled": refused(EVERY_CALL, Refusal(anthropic.BadRequestError, "organization has been disabled")),
        "spend_limit_until": {
            "messages.create": Refusal(anthropic.BadRequestError, "reached your specified API usage limits")
        },
        "workspace_spend_limit_until": {
            "messages.create": Refusal(anthropic.BadRequestError, "specified workspace API usage limits")
        },
        "tier_cap_until": {
            "messages.create": Refusal(
                anthropic.EnforcedSpendLimitReachedError,
                "reached your API usage limits",
                error_code="enforced_spend_limit_reached",
                retry_after=False,
            )
        },
        "rate_limited": {
            "messages.create": Refusal(anthropic.RateLimitError, "rate limit", retry_after=True)
        },
        "tier": {},
        "restricted_models:credit_text": refused(gated, CREDIT),
        "restricted_models:not_found": refused(gated, Refusal(anthropic.NotFoundError, "model:")),
    }.get(condition)


def attempt(call):
    try:
        return call(), None
    except anthropic.APIError as error:
        if isinstance(error, anthropic.APIStatusError):
            body = error.body if isinstance(error.body, dict) else {}
            if not error.request_id or error.request_id != body.get("request_id"):
                CHECK.fail(f"request_id {error.request_id!r}, the body's {body.get('request_id')!r}")
        return None, error


def judge(label, call, refusal):
    """Makes the call and checks it ended as `refusal` says (a success when it is None)."""
    result, error = attempt(call)
    if refusal is None:
        if error is not None:
            CHECK.fail(f"{label}: {type(error).__name__} {error}, a success was expected")
        return result
    if error is None:
        CHECK.fail(f"{label}: succeeded, {refusal.cls.__name__} was expected")
        return None
    if type(error) is not refusal.cls:
        CHECK.fail(f"{label}: {type(error).__name__}, {refusal.cls.__name__} was expected ({error})")
    if refusal.text and refusal.text.lower() not in str(getattr(error, "api_message", error)).lower():
        CHECK.fail(f"{label}: the message {getattr(error, 'api_message', error)!r} lacks {refusal.text!r}")
    if refusal.error_code is not None and getattr(error, "error_code", None) != refusal.error_code:
        CHECK.fail(f"{label}: error_code {getattr(error, 'error_code', None)!r}, {refusal.error_code!r} expected")
    if refusal.retry_after is not None:
        has = "retry-after" in error.response.headers
        if has != refusal.retry_after:
            CHECK.fail(f"{label}: retry-after {'sent' if has else 'missing'}")
    return error


def walk(case, expectations):
    c = client(case["key"])
    for name, call in CALLS.items():
        refusal = expectations.get(name)
        result = judge(name, lambda: call(c), refusal)
        if name == "models.list" and refusal is None and [m.id for m in result or []] != MODELS:
            CHECK.fail(f"models.list gave {[m.id for m in result]}")
    if case["condition"] == "tier":
        raw = c.models.with_raw_response.retrieve(MODELS[0])
        limit = raw.headers.get("anthropic-ratelimit-requests-limit")
        if limit != "50":
            CHECK.fail(f"a tier 1 organization's requests limit is {limit}, not 50")


def status_class(status):
    """The class the SDK raises for a status without an error code."""
    cls = ERROR_CLASSES.get((status, None))
    if cls is not None:
        return cls
    return anthropic.InternalServerError if status >= 500 else anthropic.APIStatusError


def fault_case(case):
    fault, key, condition = case["detail"], case["key"], case["condition"]
    create = lambda c, model=None: c.messages.create(max_tokens=1, **prompt(model))
    if condition.startswith("status:"):
        status = fault["status"]
        judge(f"a {status} fault", lambda: create(client(key)), Refusal(status_class(status)))
    elif condition in ("service", "method"):
        c = client(key)
        judge("models.list", lambda: c.models.list(), Refusal(anthropic.ServiceUnavailableError))
        judge("messages.create", lambda: create(c), None)
    elif condition == "model":
        c = client(key)
        judge(f"messages.create {fault['model']}", lambda: create(c, fault["model"]), Refusal(anthropic.OverloadedError))
        judge(f"messages.create {MODELS[0]}", lambda: create(c), None)
    elif condition == "drop_connection":
        judge("no retry", lambda: create(client(key)), Refusal(anthropic.APIConnectionError))
        judge("two retries", lambda: create(client(key, max_retries=2)), Refusal(anthropic.APIConnectionError))
    elif condition == "latency_ms":
        timeout = fault["latency_ms"] / 3000
        judge("a timeout", lambda: create(client(key, timeout=timeout)), Refusal(anthropic.APITimeoutError))
    elif condition == "retry_after_secs":
        retry_after(key, fault)
    elif condition == "times":
        before = CHECK.by_key[key]
        judge("retried once", lambda: create(client(key, max_retries=1)), None)
        if CHECK.by_key[key] - before != 2:
            CHECK.fail(f"{CHECK.by_key[key] - before} requests, 2 expected")
    elif condition == "skip":
        c = client(key)
        judge("the skipped request", lambda: create(c), None)
        judge("the hit", lambda: create(c), Refusal(anthropic.InternalServerError))
    elif condition == "applied":
        applied(key)
    else:
        CHECK.fail("no expectation for this fault")


RETRY = {}


def retry_after(key, fault):
    wait = fault["retry_after_secs"]
    started = time.monotonic()
    judge("retried after retry-after", lambda: client(key, max_retries=2).messages.create(max_tokens=1, **prompt()), None)
    waited = time.monotonic() - started
    RETRY.update(asked=wait, waited=waited)
    if not wait <= waited < wait + 3:
        CHECK.fail(f"retry-after {wait} s, the SDK retried after {waited:.2f} s")


def admin_id(admin, name):
    found = [k for k in itertools.islice(admin.organization.api_keys.list(limit=1000), GUARD) if k.name == name]
    if len(found) != 1:
        CHECK.fail(f"{len(found)} Admin API records named {name}")
        return None
    return found[0].id


def applied(key):
    """A write whose answer is lost lands all the same: the key it set inactive answers so."""
    admin = client("admin")
    target = admin_id(admin, "admin-applied-target")
    if target is None:
        return
    judge(
        "the update whose answer is lost",
        lambda: client(key).organization.api_keys.update(target, status="inactive"),
        Refusal(anthropic.APIConnectionError),
    )
    record = judge("the record afterwards", lambda: admin.organization.api_keys.retrieve(target), None)
    if record is not None and record.status != "inactive":
        CHECK.fail(f"the lost update did not land: {record.status}")
    judge("the key afterwards", lambda: CALLS["messages.create"](client("admin-applied-target")), CREDIT)


PAGING = {}


def paging():
    c = client("state-active")
    forward = judge("models, 2 a page", lambda: list(itertools.islice(c.models.list(limit=2), GUARD)), None) or []
    every = judge("models, default page", lambda: [m for m in itertools.islice(c.models.list(), GUARD)], None) or []
    back = judge(
        "models, backwards",
        lambda: list(itertools.islice(c.models.list(limit=2, before_id=MODELS[-1]), GUARD)),
        None,
    ) or []
    if [m.id for m in forward] != MODELS or [m.id for m in every] != MODELS:
        CHECK.fail(f"the models listed: {[m.id for m in forward]} and {[m.id for m in every]}")
    if sorted(m.id for m in back) != sorted(MODELS[:-1]):
        CHECK.fail(f"the models before {MODELS[-1]}: {[m.id for m in back]}")
    if any(m.display_name == m.id for m in every):
        CHECK.fail("a display name repeats its id")
    PAGING["models"] = len(forward)

    admin = client("admin")
    keys = judge("Admin API keys, 2 a page", lambda: list(itertools.islice(admin.organization.api_keys.list(limit=2), GUARD)), None) or []
    ids = [k.id for k in keys]
    if len(ids) != PLAN["admin_listed"] or len(set(ids)) != len(ids):
        CHECK.fail(f"{len(ids)} Admin API keys listed ({len(set(ids))} distinct), {PLAN['admin_listed']} expected")
    if ids:
        back = judge(
            "Admin API keys, backwards",
            lambda: list(itertools.islice(admin.organization.api_keys.list(limit=2, before_id=ids[-1]), GUARD)),
            None,
        ) or []
        if sorted(k.id for k in back) != sorted(ids[:-1]):
            CHECK.fail(f"{len(back)} Admin API keys before the last, {len(ids) - 1} expected")
    PAGING["admin"] = len(ids)


def admin_updates():
    admin = client("admin")
    target = admin_id(admin, "admin-target")
    if target is None:
        return
    update = lambda status: admin.organization.api_keys.update(target, status=status)
    record = judge("set inactive", lambda: update("inactive"), None)
    if record is not None and record.status != "inactive":
        CHECK.fail(f"set inactive, the record says {record.status}")
    judge("an inactive key", lambda: CALLS["messages.create"](client("admin-target")), CREDIT)
    judge("set active again", lambda: update("active"), None)
    judge("the key active again", lambda: CALLS["messages.create"](client("admin-target")), None)
    judge("an API key on the Admin API", lambda: client("state-active").organization.api_keys.list(), AUTH)


def headers_of_the_request():
    c = client("state-active")
    judge(
        "without anthropic-version",
        lambda: c.models.list(extra_headers={"anthropic-version": Omit()}),
        Refusal(anthropic.BadRequestError, "anthropic-version"),
    )
    by_x_api_key = anthropic.Anthropic(
        base_url=BASE,
        api_key="unused",
        max_retries=0,
        default_headers={"Authorization": Omit(), "x-api-key": KEYS["state-active"]},
        http_client=anthropic.DefaultHttpxClient(event_hooks={"response": [CHECK.answer]}),
    )
    judge("the key in x-api-key", lambda: CALLS["messages.create"](by_x_api_key), None)


def main():
    groups = Counter()
    expectations = {"state": expected_state, "kind": expected_kind, "organization": expected_organization}
    for case in PLAN["cases"]:
        CHECK.case = f"{case['group']} {case['condition']}"
        groups[case["group"]] += 1
        if case["group"] == "fault":
            fault_case(case)
            continue
        expected = expectations[case["group"]](case["condition"])
        if expected is None:
            CHECK.fail("no expectation for this case")
            continue
        walk(case, expected)
    for step in (paging, admin_updates, headers_of_the_request):
        CHECK.case = step.__name__
        step()

    print(f"official SDK: anthropic {anthropic.__version__}")
    print(f"calls: {CHECK.calls}")
    print(
        f"cases: {sum(groups.values())} (key states: {groups['state']}, credential kinds: {groups['kind']}, "
        f"organization conditions: {groups['organization']}, faults: {groups['fault']})"
    )
    print(f"auto-pagination: {PAGING.get('models')} models, {PAGING.get('admin')} Admin API keys, 2 a page, both ways")
    if RETRY:
        print(f"retry-after: {RETRY['asked']} s asked, the SDK retried after {RETRY['waited']:.2f} s")
    print(f"fields the SDK's types do not declare: {', '.join(sorted(CHECK.undeclared)) or 'none'}")
    for discrepancy in CHECK.discrepancies:
        print(f"DISCREPANCY {discrepancy}")
    print(f"discrepancies: {len(CHECK.discrepancies)}")
    sys.exit(1 if CHECK.discrepancies else 0)


main()
