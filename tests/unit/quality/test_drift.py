"""Schema drift between a file, its contract and the previous load."""

from typing import Any

from gnomon.quality import ContractSpec, DriftReport, detect_drift


def contract(**extra: Any) -> ContractSpec:
    return ContractSpec.model_validate(
        {
            "dataset": "orders",
            "version": 1,
            "columns": {
                "order_id": {"type": "string"},
                "customer_id": {"type": "string", "source": "Customer ID"},
                "quantity": {"type": "integer"},
            },
            **extra,
        }
    )


def test_matching_file_has_no_drift() -> None:
    observed = {"order_id": "string", "Customer ID": "string", "quantity": "integer"}

    report = detect_drift(contract(), observed=observed, previous=observed)

    assert report.empty
    assert report.describe() == "no schema drift"
    assert report.to_dict() == {"new": [], "missing": [], "retyped": []}


def test_new_and_missing_columns_use_source_names() -> None:
    observed = {
        "order_id": "string",
        "customer_id": "string",
        "coupon": "string",
        "_row": "integer",
    }

    report = detect_drift(contract(), observed=observed, previous=None)

    assert report.new == ("customer_id", "coupon")
    assert report.missing == ("customer_id", "quantity")
    assert report.retyped == ()
    assert not report.empty


def test_retyped_columns_compare_with_the_previous_load() -> None:
    previous = {"order_id": "string", "Customer ID": "string", "quantity": "integer", "x": "date"}
    observed = {"order_id": "string", "Customer ID": "INTEGER", "quantity": "float", "x": "date"}

    report = detect_drift(contract(), observed=observed, previous=previous)

    assert report.retyped == (
        ("Customer ID", "string", "integer"),
        ("quantity", "integer", "float"),
    )
    assert report.new == ("x",)


def test_type_names_are_normalised_before_comparing() -> None:
    previous = {"quantity": "decimal(10, 2)", "when": "Timestamp"}
    observed = {"quantity": "DECIMAL(10,2)", "when": "timestamp", "_ingested_at": "string"}

    report = detect_drift(contract(), observed=observed, previous=previous)

    assert report.retyped == ()


def test_unknown_inferred_types_still_compare() -> None:
    report = detect_drift(
        contract(), observed={"quantity": "null"}, previous={"quantity": "integer"}
    )

    assert report.retyped == (("quantity", "integer", "null"),)


def test_first_load_has_no_retyping() -> None:
    report = detect_drift(contract(), observed={"quantity": "string"}, previous=None)

    assert report.retyped == ()


def test_report_reads_well_and_serialises() -> None:
    report = DriftReport(
        new=("coupon", "channel"),
        missing=("quantity",),
        retyped=(("price", "integer", "string"),),
    )

    assert report.describe() == (
        "new columns: coupon, channel; missing columns: quantity; "
        "retyped columns: price (integer → string)"
    )
    assert report.to_dict() == {
        "new": ["coupon", "channel"],
        "missing": ["quantity"],
        "retyped": [{"column": "price", "before": "integer", "after": "string"}],
    }


def test_merge_lists_each_finding_once() -> None:
    first = DriftReport(new=("a",), missing=("b",))
    second = DriftReport(new=("a", "c"), retyped=(("d", "integer", "string"),))

    assert first.merge(second) == DriftReport(
        new=("a", "c"), missing=("b",), retyped=(("d", "integer", "string"),)
    )
