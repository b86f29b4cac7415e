"""Schemathesis over the live OpenAPI schema (issue 8): every operation, valid and invalid
input, with the admin token, on a small seeded roster: never a 5xx, never a hang, and answers
that match the schema the app publishes.

The schema is the one the running app serves (`GET /openapi.json` through the `api` fixture);
the requests go through the same in-process client, on the test's own event loop (the runtime's
database engine and Redis client belong to it). Hypothesis drives Schemathesis' strategies on a
worker thread and hands each request to that loop, with a timeout per request.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from notifier.events.stream import STREAM
from notifier.runtime import Runtime
from notifier.unsubscribe import load_links
from tests.conftest import ADMIN_TOKEN
from tests.factories import (
    consume_all,
    mark,
    post_structured,
    pupil_with_guardian,
    put,
    school_with_class,
)

# No .hypothesis directory in the repository: no example database (database=None below), and
# Hypothesis' other caches (constants, Unicode tables) go to the system's temporary directory.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "notifier-hypothesis")

BASE_URL = "http://notifier.test"
EXAMPLES = 20  # per operation and generation mode (positive, negative)
REQUEST_TIMEOUT = 10.0  # seconds; a request that takes longer counts as a hang
# Must hold: they are the point of the run. Every status an operation answers is documented
# (notifier.api.responses), with the body it has.
REQUIRED = (not_a_server_error, status_code_conformance, response_schema_conformance)
# Reported, not required.
REPORTED = (
    content_type_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    database=None,  # no .hypothesis directory in the repository
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # failures are collected, not shrunk
    suppress_health_check=list(HealthCheck),
)


async def _seed(api: httpx.AsyncClient, runtime: Runtime) -> dict[str, dict[str, str]]:
    """A school, a class with its teacher, two pupils and guardians (one with consent), a
    delivered mark, an unmatched event, an announcement and a dead letter; returns the path
    parameters that name them, per operation path."""
    await school_with_class(api)
    await put(api, "/v1/staff/t-1", {"school_id": "s17", "full_name": "Иванова Мария"})
    await put(api, "/v1/classes/7b", {"school_id": "s17", "name": "7Б", "class_teacher_id": "t-1"})
    await pupil_with_guardian(api, "st-1", "g-1")
    await pupil_with_guardian(api, "st-2", "g-2", consent=False)
    for event in (mark("st-1"), mark("st-unknown")):
        assert (await post_structured(api, event)).status_code == 202
    await runtime.redis.xadd(STREAM, {"event": "{not json"})
    await consume_all(runtime)
    await runtime.dispatcher().run()
    created = await api.post(
        "/v1/announcements", json={"audience": {"class_ids": ["7b"]}, "text": "Собрание в 18:00"}
    )
    assert created.status_code == 201, created.text
    dead = (await api.get("/v1/dead-letters")).json()["items"]
    async with runtime.sessions() as session:
        links = await load_links(session, runtime.settings)
    known = {
        "school_id": "s17",
        "class_id": "7b",
        "student_id": "st-1",
        "guardian_id": "g-1",
        "staff_id": "t-1",
        "token": links.token("g-1", ["marks"]),
    }
    by_path: dict[str, dict[str, str]] = defaultdict(dict)
    for path in (await api.get("/openapi.json")).json()["paths"]:
        for name, value in known.items():
            if "{" + name + "}" in path:
                by_path[path][name] = value
        if "{ident}" in path:
            by_path[path]["ident"] = (
                dead[0]["id"] if "dead-letters" in path else created.json()["id"]
            )
    return by_path


def _httpx_request(case: schemathesis.Case) -> dict[str, Any]:
    """The request Schemathesis would send (its requests transport), for our httpx client."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    allowed = ("method", "url", "headers", "params", "cookies", "json", "data", "files")
    prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in allowed}).prepare()
    headers = {
        k: v.encode("latin-1", "replace") if isinstance(v, str) else v
        for k, v in prepared.headers.items()
        if k.lower() not in ("content-length", "transfer-encoding", "authorization")
    }
    headers["Authorization"] = f"Bearer {ADMIN_TOKEN}".encode()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return {"method": prepared.method, "url": prepared.url, "headers": headers, "content": body}


class Run:
    """Sends cases on the test's loop and keeps what every check said."""

    def __init__(self, api: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.api = api
        self.loop = loop
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.nothing_to_negate: list[str] = []

    def send(self, case: schemathesis.Case) -> None:
        request = _httpx_request(case)
        label = f"{case.operation.label} [{case.meta.generation.mode.value if case.meta else '?'}]"
        future = asyncio.run_coroutine_threadsafe(self.api.request(**request), self.loop)
        self.requests += 1
        try:
            response = future.result(timeout=REQUEST_TIMEOUT)
        except TimeoutError:
            future.cancel()
            self.failures["timeout"].append(f"{label}: no answer in {REQUEST_TIMEOUT} s")
            return
        except Exception as exc:  # the app raised through the transport: a 500 in production
            self.failures["not_a_server_error"].append(f"{label}: {type(exc).__name__}: {exc}")
            return
        self.statuses[response.status_code] += 1
        if 400 <= response.status_code < 500 and not _reason(response):
            self.failures["4xx without error"].append(f"{label}: {response.text[:200]}")
        for check in (*REQUIRED, *REPORTED):
            try:
                case.validate_response(response, checks=[check])
            except FailureGroup as exc:
                reasons = "; ".join(sorted({f.title for f in exc.exceptions}))
                self.failures[check.__name__].append(
                    f"{label}: {response.status_code} {reasons} {_curl(request)}"
                )


def _json(response: httpx.Response) -> Any:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        return response.json()
    except json.JSONDecodeError:
        return None


def _reason(response: httpx.Response) -> str:
    """`error`, or for POST /v1/events the contract's {"accepted", "rejected": [{"error"}]}."""
    body = _json(response)
    if body is None:  # the HTML pages (unsubscribe) say it in the page
        return response.text.strip()
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"].strip()
    if isinstance(body, dict) and isinstance(body.get("rejected"), list) and body["rejected"]:
        return str(body["rejected"][0].get("error", "")).strip()
    return ""


def _curl(request: dict[str, Any]) -> str:
    body = request["content"][:300] if request["content"] else b""
    return f"({request['method']} {request['url'][:200]} {body!r})"


def _fuzz(schema: Any, by_path: dict[str, dict[str, str]], run: Run) -> int:
    """Every operation, DELETEs last (they erase the seeded guardian); returns how many."""
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if known := by_path.get(operation.path):
                # Half the cases name what exists, so the handlers get past "not found".
                strategy = strategy | operation.as_strategy(
                    generation_mode=mode, path_parameters=known
                )

            @HYPOTHESIS
            @given(case=strategy)
            def fuzz(case: schemathesis.Case) -> None:
                run.send(case)

            try:
                fuzz()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE
                run.nothing_to_negate.append(operation.label)
    return len(operations)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_live_openapi_schema_holds(api: httpx.AsyncClient, runtime: Runtime) -> None:
    by_path = await _seed(api, runtime)
    schema = schemathesis.openapi.from_dict((await api.get("/openapi.json")).json())
    run = Run(api, asyncio.get_running_loop())
    started = time.monotonic()
    operations = await asyncio.to_thread(_fuzz, schema, by_path, run)
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis: {operations} operations, {run.requests} requests in {elapsed:.1f} s; "
        f"statuses {dict(sorted(run.statuses.items()))}; "
        f"no invalid input possible for {run.nothing_to_negate}"
    )
    for name, found in sorted(run.failures.items()):
        where = Counter(f.split(" [")[0] for f in found)
        print(f"  {name}: {len(found)} failing, e.g. {found[0]}")
        print(f"    by operation: {dict(where.most_common())}")
    required = {c.__name__ for c in REQUIRED} | {"timeout", "4xx without error"}
    failed = {name: found[:5] for name, found in run.failures.items() if name in required}
    assert not failed, json.dumps(failed, indent=1, ensure_ascii=False)
    negated = operations - len(run.nothing_to_negate)
    assert run.requests >= (operations + negated) * EXAMPLES * 0.8  # a few duplicates dropped
