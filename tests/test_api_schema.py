"""The OpenAPI schema documents every error answer (issue 14): 422 on every operation (every
parameter is checked), 401, 403 and 429 behind a token, 413 where there is a body, 503 wherever
the database or Redis is used, each JSON error with the one body, ErrorOut. What the routes
really answer is held against it by Schemathesis (test_schemathesis), the role matrix
(test_roles) and the tenancy matrix (test_tenancy)."""

from __future__ import annotations

import pytest

from notifier.api.app import create_app
from notifier.config import Settings

ERROR_OUT = {"$ref": "#/components/schemas/ErrorOut"}
# Answers with a body of their own: the events contract's {"accepted", "rejected"} (SPEC §5),
# the readiness report, and the unsubscribe pages (HTML, for a person).
OWN_BODIES = {
    ("POST", "/v1/events", "400"),
    ("POST", "/v1/events", "415"),
    ("POST", "/v1/events", "422"),  # either that or ErrorOut (a bad parameter)
    ("GET", "/readyz", "503"),
    ("GET", "/unsubscribe/{token}", "400"),
    ("GET", "/unsubscribe/{token}", "404"),
    ("POST", "/unsubscribe/{token}", "400"),
    ("POST", "/unsubscribe/{token}", "404"),
}
NOTHING_STORED = {("GET", "/healthz")}  # touches neither the database nor Redis: no 503


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_operation_documents_its_errors(settings: Settings) -> None:
    schema = create_app(settings).openapi()
    failures = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = (method.upper(), path)
            responses = operation["responses"]
            wanted = {"422"}
            if operation.get("security"):
                wanted |= {"401", "403", "429"}
            if "requestBody" in operation:
                wanted.add("413")
            if where not in NOTHING_STORED:
                wanted.add("503")
            if missing := sorted(wanted - set(responses)):
                failures.append(f"{method.upper()} {path}: {missing} not documented")
            for status, response in responses.items():
                if int(status) < 400 or (*where, status) in OWN_BODIES:
                    continue
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if body != ERROR_OUT or len(response["content"]) != 1:
                    failures.append(f"{method.upper()} {path} {status}: {response}")
    assert not failures, "\n".join(failures)
    events_422 = schema["paths"]["/v1/events"]["post"]["responses"]["422"]["content"]
    assert ERROR_OUT in events_422["application/json"]["schema"]["anyOf"]
