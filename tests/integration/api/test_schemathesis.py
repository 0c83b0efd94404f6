"""The live OpenAPI schema, fuzzed: no request an admin can make gets a 5xx or an off-schema answer.

schemathesis reads ``/api/v1/openapi.json`` from the app itself and, for every operation, sends
requests generated from the schema, valid ones and invalid ones, with a valid admin API key, then
runs all its checks on each answer: no server error, status codes, content types, headers and
bodies as documented, valid data accepted and invalid data rejected. The project is its own (the
shared one would see its users, roles and policies changed by random writes), with the same two
tenants and data as the other API tests; the admin is an admin of the default tenant, who may do
everything, including create tenants.

Each operation is driven through ``APIOperation.as_strategy`` under hypothesis rather than
``schema.parametrize()``: the lazy (fixture-based) loader of schemathesis 4.32 sets
``request.node._nodeid``, which pytest 9 no longer has, and an eager loader would have to build
a project at import time.

Bounded: a few generated examples per operation and mode keep the run well under a minute.
Derandomised in CI through the ``gnomon`` hypothesis profile (``tests/conftest.py``), which the
settings here extend, so a failure reproduces from the same commit. No operation and no check is
excluded; the one widened expectation is written next to ``CONFIG``.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from gnomon.api.app import create_app
from gnomon.app import Gnomon
from tests.integration.api.conftest import build_project
from tests.integration.api.helpers import TENANT_A, TENANT_B, TestClient, World

pytestmark = [pytest.mark.integration]

MAX_EXAMPLES = 8
"""Generated examples per operation, in each of the positive and negative modes."""


CONFIG = {
    "checks": {
        # A schema-valid request may still be refused with 422 when its *meaning* is wrong: the
        # schema can type SQL text, a metric filter, a policy predicate or a role name as a
        # string, but not say which strings are valid ones. Any other refusal (400, 405, 415 …)
        # of schema-valid data still fails the check.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
        },
    }
}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = build_project(tmp_path_factory.mktemp("fuzzed"))
    with Gnomon.open(project, api={"requests_per_minute": 1_000_000}) as app:
        a, b = app.context(TENANT_A), app.context(TENANT_B)
        for source, ctx in (("orders", a), ("returns", a), ("orders_b", b)):
            app.ingest.ingest(source, ctx=ctx)
        app.semantic.apply(ctx=a)
        app.semantic.apply(ctx=b)
        with TestClient(create_app(app)) as client:
            world = World(app, client)
            world.admin_a = world.caller(TENANT_A, ["admin"])
            world.admin_b = world.caller(TENANT_B, ["admin"])
            yield world


@pytest.fixture(scope="module")
def api_schema(fuzzed: World) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi(
        "/api/v1/openapi.json", fuzzed.client.app, config=schemathesis.Config.from_dict(CONFIG)
    )


Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _operations(api_schema: schemathesis.BaseSchema) -> list[Operation]:
    operations = []
    for result in api_schema.get_all_operations():
        # An operation schemathesis cannot read is a schema defect, so it fails the test.
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return operations


def _fuzz(operation: Operation, mode: GenerationMode, headers: dict[str, str]) -> None:
    """Generated requests for one operation, each answered and checked by every check."""

    # Health checks judge the generator (schemathesis filters much of what it draws), not the
    # API; they are off so that they can never hide or fake a finding about the API.
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Operation]) -> None:
        case.call_and_validate(headers=headers)

    run()


def _without_input(live: dict[str, Any]) -> set[str]:
    """Operations with no parameter and no body: there is nothing to make invalid."""
    return {
        f"{method.upper()} {path}"
        for path, methods in live["paths"].items()
        for method, operation in methods.items()
        if not operation.get("parameters") and "requestBody" not in operation
    }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_every_answer_matches_the_schema(
    fuzzed: World, api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    failures: list[str] = []
    nothing_to_break: set[str] = set()
    for operation in _operations(api_schema):
        name = f"{operation.method.upper()} {operation.path}"
        try:
            _fuzz(operation, mode, fuzzed.admin_a.headers)
        except Unsatisfiable:
            nothing_to_break.add(name)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect all, then fail
            failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures)
    live = fuzzed.client.get("/api/v1/openapi.json").json()
    # Only negative requests can be impossible, and only for operations that take no input.
    expected = _without_input(live) if mode is GenerationMode.NEGATIVE else set()
    assert nothing_to_break == expected


def test_the_fuzzed_operations_are_every_live_route(
    fuzzed: World, api_schema: schemathesis.BaseSchema
) -> None:
    live = fuzzed.client.get("/api/v1/openapi.json").json()
    served = {
        (method.upper(), path)
        for path, methods in live["paths"].items()
        for method in methods
        if path.startswith("/api/v1")
    }
    fuzzed_ops = {(op.method.upper(), op.path) for op in _operations(api_schema)}
    assert len(served) >= 30
    assert served <= fuzzed_ops
