from gnomon.pipeline import model_lineage


def test_lineage_has_one_sorted_edge_per_table_read(make_model):
    models = [
        make_model("weekly", "daily", silver=()),
        make_model("daily", silver=("orders", "customers")),
    ]
    assert model_lineage(models) == [
        ("gold.daily", "gold.weekly"),
        ("silver.customers", "gold.daily"),
        ("silver.orders", "gold.daily"),
    ]


def test_lineage_of_no_models_is_empty():
    assert model_lineage([]) == []
