"""Explanations, drivers, impact and the insight feed from the command line (a subprocess each).

The project has seventy days of orders in three regions and two channels with an outage of the
EMEA web shop (see ``tests.projects.explain_orders``). Output formats are what scripts rely on:
JSON arrays of row objects; narratives in the language asked for; mistakes exit 2 with a hint.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gnomon.app import Gnomon
from tests.projects import EXPLAIN_OUTAGE, write_explain_project

OUTAGE = EXPLAIN_OUTAGE.isoformat()


def run(project: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
    proc = subprocess.run(
        [sys.executable, "-m", "gnomon.cli", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def rows(project: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = run(project, *args, "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    assert isinstance(found, list)
    return found


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_explain_project(tmp_path_factory.mktemp("explain-cli") / "project")
    with Gnomon.open(root) as app:
        ctx = app.context()
        app.ingest.ingest("orders", ctx=ctx)
        app.semantic.apply(ctx=ctx)
    return root


def test_explain_prints_ranked_rows_with_segment_objects(project: Path) -> None:
    found = rows(project, "explain", "orders", "--at", OUTAGE)
    assert found, "the outage is explained"
    assert set(found[0]) >= {"rank", "segment", "contribution", "before", "after", "confidence"}
    assert found[0]["segment"] == {"region": "EMEA", "channel": "web"}
    assert found[0]["after"] == 0.0
    assert [r["rank"] for r in found] == list(range(1, len(found) + 1))


def test_explain_narrates_in_the_language_asked(project: Path) -> None:
    code, english, err = run(project, "explain", "orders", "--at", OUTAGE, "--format", "text")
    assert code == 0, err
    assert "EMEA" in english and "web" in english
    code, german, err = run(
        project, "explain", "orders", "--at", OUTAGE, "--format", "md", "--lang", "de"
    )
    assert code == 0, err
    assert german.startswith("#") and german != english
    assert "gesunken" in german or "gefallen" in german
    code, page, err = run(project, "explain", "orders", "--at", OUTAGE, "--format", "html")
    assert code == 0, err
    assert '<img src="data:image/png;base64,' in page, "the chart of the causes is embedded"


def test_explain_mistakes_exit_2_with_a_hint(project: Path) -> None:
    code, _, err = run(project, "explain", "orders")
    assert code == 2 and "--at" in err and "Traceback" not in err
    code, _, err = run(project, "explain", "orders", "--at", "yesterday")
    assert code == 2 and "not a date" in err
    code, _, err = run(project, "explain", "median_price", "--at", OUTAGE)
    assert code == 2 and "median" in err
    code, _, err = run(project, "explain", "orders", "--at", OUTAGE, "--lang", "xx")
    assert code == 2 and "Traceback" not in err
    code, _, err = run(project, "explain", "orders", "--at", OUTAGE, "--segment", "region")
    assert code == 2 and "dimension=value" in err


def test_drivers_and_impact(project: Path) -> None:
    found = rows(project, "drivers", "orders", "--with", "revenue", "--max-lag", "3")
    assert [r["candidate"] for r in found] == ["revenue"]
    assert found[0]["pearson"] is not None and found[0]["pearson"] > 0.5
    change = (EXPLAIN_OUTAGE - timedelta(days=10)).isoformat()
    impact = rows(
        project,
        "impact",
        "orders",
        "--change",
        change,
        "--treated",
        "region=EMEA",
        "--control",
        "region=AMER",
    )
    assert len(impact) == 1
    assert impact[0]["treated"] == {"region": "EMEA"} and impact[0]["control"] == {"region": "AMER"}
    assert impact[0]["ci_low"] <= impact[0]["estimate"] <= impact[0]["ci_high"]
    code, _, err = run(
        project, "impact", "orders", "--change", change, "--treated", "region=EMEA",
        "--control", "region=EMEA",
    )  # fmt: skip
    assert code == 2 and "same" in err


def test_the_insight_feed_as_rows_and_as_a_document(project: Path) -> None:
    found = rows(project, "insights", "--metric", "orders")
    for row in found:
        assert row["metric"] == "orders" and 0 <= row["p_value"] <= 1 and row["narrative"]
        assert row["p_value"] <= row["q_value"] < 0.05 and 0 < row["share"] <= 1
        assert all(seen["kind"] and "segment" in seen for seen in row["also"])
    scores = [r["score"] for r in found]
    assert scores == sorted(scores, reverse=True) or len(found) <= 1
    code, out, err = run(project, "insights", "--metric", "orders", "--format", "html")
    assert code == 0, err
    assert out.lstrip().lower().startswith("<!doctype html")
    code, _, err = run(project, "insights", "--role", "intern")
    assert code == 2 and "executive" in err
