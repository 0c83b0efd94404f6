import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput, NotFound
from gnomon.pipeline import (
    ModelCycleError,
    ModelDependencyError,
    ModelError,
    ModelNotFound,
    ModelSpec,
    build_order,
)


def names(models: list[ModelSpec]) -> list[str]:
    return [model.name for model in models]


def test_independent_models_come_out_alphabetically(make_model):
    models = [make_model("c"), make_model("a"), make_model("b")]
    assert names(build_order(models)) == ["a", "b", "c"]


def test_a_model_comes_after_what_it_reads_even_against_the_alphabet(make_model):
    models = [make_model("a", "z"), make_model("z"), make_model("m")]
    assert names(build_order(models)) == ["m", "z", "a"]


def test_diamond_builds_the_shared_root_first_and_the_join_last(make_model):
    models = [
        make_model("report", "left", "right"),
        make_model("right", "base"),
        make_model("left", "base"),
        make_model("base"),
    ]
    assert names(build_order(models)) == ["base", "left", "right", "report"]


def test_silver_reads_do_not_order_the_build(make_model):
    models = [make_model("b", silver=("a",)), make_model("a", silver=("b",))]
    assert names(build_order(models)) == ["a", "b"]


def test_select_adds_everything_upstream_and_nothing_downstream(make_model):
    models = [
        make_model("base"),
        make_model("left", "base"),
        make_model("right", "base"),
        make_model("report", "left", "right"),
        make_model("unrelated"),
    ]
    assert names(build_order(models, select=["left"])) == ["base", "left"]
    assert names(build_order(models, select={"report"})) == ["base", "left", "right", "report"]
    assert names(build_order(models, select=["gold.right", "unrelated"])) == [
        "base",
        "right",
        "unrelated",
    ]


def test_select_accepts_a_single_name_given_as_a_string(make_model):
    models = [make_model("base"), make_model("top", "base")]
    assert names(build_order(models, select="top")) == ["base", "top"]


def test_empty_selection_builds_nothing(make_model):
    assert build_order([make_model("a")], select=[]) == []


def test_unknown_selected_name_is_not_found_and_lists_the_models(make_model):
    models = [make_model("alpha"), make_model("beta")]
    with pytest.raises(ModelNotFound) as caught:
        build_order(models, select=["alpha", "gamma"])
    assert isinstance(caught.value, NotFound)
    assert "gamma" in caught.value.message
    assert caught.value.hint == "Select one of: alpha, beta."
    assert caught.value.details["unknown"] == ["gamma"]


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": ["a"]}, "a → a"),
        ({"a": ["b"], "b": ["a"]}, "a → b → a"),
        ({"b": ["a"], "a": ["b"]}, "a → b → a"),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, "a → b → c → a"),
        ({"c": ["b"], "b": ["a"], "a": ["c"]}, "a → c → b → a"),
    ],
)
def test_cycles_are_named_each_model_reading_the_next(make_model, edges, expected):
    models = [make_model(name, *reads) for name, reads in edges.items()]
    with pytest.raises(ModelCycleError) as caught:
        build_order(models)
    assert isinstance(caught.value, InvalidInput)
    assert f": {expected}." in caught.value.message
    assert " → ".join(caught.value.cycle) == expected


def test_a_cycle_is_named_without_the_models_that_merely_read_it(make_model):
    models = [
        make_model("base"),
        make_model("x", "base", "y"),
        make_model("y", "x"),
        make_model("aa_reader", "x"),
    ]
    with pytest.raises(ModelCycleError) as caught:
        build_order(models)
    assert caught.value.cycle == ("x", "y", "x")


def test_a_cycle_outside_the_selection_does_not_stop_it(make_model):
    models = [make_model("a", "b"), make_model("b", "a"), make_model("c")]
    assert names(build_order(models, select=["c"])) == ["c"]
    with pytest.raises(ModelCycleError):
        build_order(models, select=["c", "a"])


def test_reading_a_gold_table_no_model_builds_names_the_model_and_the_table(make_model):
    models = [make_model("report", "daily_sales"), make_model("weekly")]
    with pytest.raises(ModelDependencyError) as caught:
        build_order(models)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.model == "report"
    assert error.missing == "gold.daily_sales"
    assert "report" in error.message
    assert "gold.daily_sales" in error.message
    assert error.file is not None
    assert error.file.endswith("report.sql")


def test_two_models_with_one_name_are_refused(make_model):
    with pytest.raises(ModelError, match="Two models are named a"):
        build_order([make_model("a"), make_model("a")])


@st.composite
def dags(draw):
    count = draw(st.integers(min_value=0, max_value=12))
    labels = draw(
        st.lists(
            st.text("abcdefgh", min_size=1, max_size=3),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    reads = {
        label: draw(st.sets(st.sampled_from(labels[:index]))) if index else set()
        for index, label in enumerate(labels)
    }
    select = draw(st.none() | st.sets(st.sampled_from(labels)) if labels else st.none())
    shuffled = draw(st.permutations(labels))
    return reads, select, shuffled


def closure(reads, roots):
    seen = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(reads[name])
    return seen


@settings(max_examples=200, deadline=None)
@given(dags())
def test_build_order_is_a_topological_order_of_exactly_the_closure(make_model, case):
    reads, select, shuffled = case
    models = [make_model(name, *sorted(reads[name])) for name in shuffled]
    order = names(build_order(models, select=select))
    expected = set(reads) if select is None else closure(reads, select)
    assert sorted(order) == sorted(expected)
    position = {name: index for index, name in enumerate(order)}
    for name in order:
        for upstream in reads[name]:
            assert position[upstream] < position[name]
    for index, name in enumerate(order):
        ready = [
            other
            for other in order[index:]
            if all(position[upstream] < index for upstream in reads[other])
        ]
        assert name == min(ready), "the alphabetically first ready model must come next"


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_a_back_edge_is_reported_as_a_real_cycle(make_model, case, data):
    reads, _, shuffled = case
    edges = [(name, upstream) for name in reads for upstream in reads[name]]
    if not edges:
        reads = {**reads, "selfish": {"selfish"}}
        shuffled = [*shuffled, "selfish"]
    else:
        reader, upstream = data.draw(st.sampled_from(edges))
        reads = {**reads, upstream: {*reads[upstream], reader}}
    models = [make_model(name, *sorted(reads[name])) for name in shuffled]
    with pytest.raises(ModelCycleError) as caught:
        build_order(models)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1]
    assert cycle[0] == min(cycle)
    assert len(set(cycle[:-1])) == len(cycle) - 1
    for name, upstream in itertools.pairwise(cycle):
        assert upstream in reads[name]
