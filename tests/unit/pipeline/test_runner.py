import pyarrow as pa
import pytest

from gnomon.errors import Conflict, InvalidInput
from gnomon.pipeline import ModelCycleError, ModelRunResult, ModelSpec, build_models


class FakeLake:
    """Runs queries and writes tables in memory, failing where told to."""

    def __init__(self, *, fail_query=(), fail_write=(), stream=False):
        self.fail_query = set(fail_query)
        self.fail_write = set(fail_write)
        self.stream = stream
        self.queried: list[str] = []
        self.written: dict[str, pa.Table] = {}
        self.versions: dict[str, int] = {}

    def run_query(self, model: ModelSpec):
        self.queried.append(model.name)
        if model.name in self.fail_query:
            raise InvalidInput(f"Binder error in {model.name}: column x not found.", hint="Fix it.")
        table = pa.table({"model": [model.name] * (len(model.name) + 1)})
        if self.stream:
            batches = table.to_batches(max_chunksize=2)
            return pa.RecordBatchReader.from_batches(table.schema, batches)
        return table

    def write(self, model: ModelSpec, data) -> int:
        if model.name in self.fail_write:
            raise Conflict(f"Table gold.{model.name} is being written by another run.")
        table = data if isinstance(data, pa.Table) else data.read_all()
        self.written[model.name] = table
        self.versions[model.name] = self.versions.get(model.name, -1) + 1
        return self.versions[model.name] + 10


def by_model(results: list[ModelRunResult]) -> dict[str, ModelRunResult]:
    return {result.model: result for result in results}


def test_every_model_is_built_in_order_with_rows_and_version(make_model):
    lake = FakeLake()
    events: list[ModelRunResult] = []
    models = [make_model("top", "mid"), make_model("mid", "base"), make_model("base")]
    results = build_models(
        models, run_query=lake.run_query, write=lake.write, on_event=events.append
    )
    assert [result.model for result in results] == ["base", "mid", "top"]
    assert lake.queried == ["base", "mid", "top"]
    assert events == results
    for result in results:
        assert result.status == "succeeded"
        assert result.rows == len(result.model) + 1
        assert result.version == 10
        assert result.error is None
        assert result.duration_s >= 0
    assert lake.written["mid"].column("model").to_pylist() == ["mid"] * 4


def test_streamed_results_reach_the_writer_whole_and_are_counted(make_model):
    lake = FakeLake(stream=True)
    results = build_models([make_model("longer_name")], run_query=lake.run_query, write=lake.write)
    assert results[0].rows == 12
    assert lake.written["longer_name"].num_rows == 12


def test_a_failure_skips_everything_downstream_and_builds_the_rest(make_model):
    models = [
        make_model("base"),
        make_model("broken", "base"),
        make_model("child", "broken"),
        make_model("grandchild", "child", "sibling"),
        make_model("sibling", "base"),
        make_model("independent"),
    ]
    lake = FakeLake(fail_query={"broken"})
    events: list[ModelRunResult] = []
    results = build_models(
        models, run_query=lake.run_query, write=lake.write, on_event=events.append
    )
    assert [r.model for r in results] == [
        "base",
        "broken",
        "child",
        "independent",
        "sibling",
        "grandchild",
    ]
    assert events == results
    status = {name: result.status for name, result in by_model(results).items()}
    assert status == {
        "base": "succeeded",
        "broken": "failed",
        "child": "skipped",
        "independent": "succeeded",
        "sibling": "succeeded",
        "grandchild": "skipped",
    }
    assert lake.queried == ["base", "broken", "independent", "sibling"]
    assert set(lake.written) == {"base", "independent", "sibling"}

    failed = by_model(results)["broken"]
    assert failed.error == "Binder error in broken: column x not found. Fix it."
    assert failed.rows is None
    assert failed.version is None
    for name in ("child", "grandchild"):
        skipped = by_model(results)[name]
        assert skipped.error == "Not built because an upstream model failed: gold.broken."
        assert skipped.rows is None
        assert skipped.version is None
        assert skipped.duration_s == 0.0


def test_a_model_below_two_failures_names_both(make_model):
    models = [make_model("left"), make_model("right"), make_model("join", "left", "right")]
    lake = FakeLake(fail_query={"left"}, fail_write={"right"})
    results = by_model(build_models(models, run_query=lake.run_query, write=lake.write))
    assert results["right"].status == "failed"
    assert results["right"].error is not None
    assert "being written by another run" in results["right"].error
    assert results["join"].status == "skipped"
    assert results["join"].error == (
        "Not built because an upstream model failed: gold.left, gold.right."
    )


def test_each_result_is_reported_before_the_next_model_runs(make_model):
    log: list[str] = []

    def run_query(model: ModelSpec):
        log.append(f"run {model.name}")
        if model.name == "a":
            raise InvalidInput("Query failed: boom.")
        return pa.table({"x": [1]})

    build_models(
        [make_model("a"), make_model("b", "a"), make_model("c")],
        run_query=run_query,
        write=lambda model, data: 1,
        on_event=lambda result: log.append(f"{result.status} {result.model}"),
    )
    assert log == ["run a", "failed a", "skipped b", "run c", "succeeded c"]


def test_a_non_gnomon_exception_is_a_bug_and_propagates(make_model):
    events: list[ModelRunResult] = []

    def run_query(model: ModelSpec):
        if model.name == "b":
            raise ZeroDivisionError("division by zero")
        return pa.table({"x": [1]})

    with pytest.raises(ZeroDivisionError):
        build_models(
            [make_model("a"), make_model("b"), make_model("c")],
            run_query=run_query,
            write=lambda model, data: 1,
            on_event=events.append,
        )
    assert [event.model for event in events] == ["a"]


def test_nothing_runs_when_the_models_cannot_be_ordered(make_model):
    lake = FakeLake()
    with pytest.raises(ModelCycleError):
        build_models(
            [make_model("ok"), make_model("a", "b"), make_model("b", "a")],
            run_query=lake.run_query,
            write=lake.write,
        )
    assert lake.queried == []


def test_no_models_build_nothing():
    assert build_models([], run_query=FakeLake().run_query, write=FakeLake().write) == []
