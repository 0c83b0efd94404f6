"""Narratives: a feed for 50 metrics in each language and tone, vs. a neural generator.

    python -m benchmarks.narratives [--metrics 50] [--repeats 5] [--seed 0]

The findings are generated here (seeded): per metric one Explanation with three causes (over
country, channel and device; volume, rate or mix effects; one moving against the total) and two
Insights of kinds taken in turn from all nine. Metrics mix currencies, percentages and counted
units, and both directions, so every branch of the templates is used.

gnomon: ``narrate_feed`` over the 150 findings, as Markdown and as plain text, for each language
(en, de, es) and tone (executive, casual, technical); the median of ``--repeats`` runs, after
one untimed warm-up per language that compiles the templates (timed apart as "first render").
No charts. Every output is checked for template leftovers ("{{", "None").

End to end: the feed as ``gnomon insights`` makes it from series: 50 daily series of two years
(weekly season, noise, and for some a trend, a level shift or a spike at the end, seeded) through
``find_insights`` (every test, correction, scoring, merging) and ``narrate_feed`` (Markdown,
English, executive); the median of ``--repeats`` runs after one warm-up (imports, compiling).

Baseline: "a neural generator needs 2-5 s per feed": a model that writes the same feed takes
at least 2 s, so the lower bound BASELINE_S = 2.0 is used and the ratio printed is baseline /
ours (how many feeds gnomon renders in the time the model needs for one).
"""

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from typing import get_args

import numpy as np

from benchmarks._setup import machine, report
from gnomon.insights.findings import (
    Cause,
    Effect,
    Explanation,
    Insight,
    InsightKind,
    MetricFacts,
)
from gnomon.insights.narrate import LANGUAGES, TONES, narrate_feed
from gnomon.insights.patterns import SeriesInput, find_insights

BASELINE_S = 2.0
"""A neural generator needs 2-5 s per feed; the lower bound."""

FORMATS = ("md", "text")
TODAY = date(2025, 3, 7)
COUNTRIES = ("DE", "FR", "ES", "IT", "NL", "AT", "PL", "GB")
CHANNELS = ("web", "app", "store", "marketplace")
DEVICES = ("desktop", "mobile", "tablet")


def _metric(index: int) -> MetricFacts:
    shape = index % 4
    if shape == 0:
        return MetricFacts(f"revenue_{index}", unit="EUR", format="currency")
    if shape == 1:
        return MetricFacts(f"return_rate_{index}", format="percent", direction="down")
    if shape == 2:
        return MetricFacts(f"orders_{index}", unit="orders", format="integer")
    return MetricFacts(
        f"aov_{index}", label=f"average order value {index}", unit="USD", format="currency"
    )


def _explanation(metric: MetricFacts, rng: random.Random) -> Explanation:
    before = rng.uniform(100, 50_000) if metric.format != "percent" else rng.uniform(0.01, 0.2)
    after = before * rng.uniform(0.6, 1.4)
    effects: tuple[Effect, ...] = (
        ("rate", "mix", "both") if metric.name.startswith("aov") else ("volume",)
    )
    shares = (rng.uniform(0.4, 0.8), rng.uniform(0.05, 0.2), -rng.uniform(0.01, 0.1))
    causes = tuple(
        Cause(
            segment={
                "country": rng.choice(COUNTRIES),
                **({"channel": rng.choice(CHANNELS)} if i == 0 else {}),
                **({"device": rng.choice(DEVICES)} if i == 2 else {}),
            },
            contribution=share,
            before=before * rng.uniform(0.1, 0.5),
            after=after * rng.uniform(0.1, 0.5),
            confidence=rng.uniform(0.5, 0.99),
            effect=rng.choice(effects),
            surprise=rng.uniform(0, 0.5) if i == 0 else None,
        )
        for i, share in enumerate(shares)
    )
    focus = TODAY - timedelta(days=rng.randint(0, 10))
    return Explanation(
        metric=metric,
        focus=(focus, focus + timedelta(days=1)),
        baseline=(focus - timedelta(days=7), focus - timedelta(days=6)),
        before=before,
        after=after,
        causes=causes,
        dimensions=("country", "channel", "device"),
    )


def _insight(
    metric: MetricFacts, kind: InsightKind, other: MetricFacts, rng: random.Random
) -> Insight:
    correlation = kind.startswith("correlation")
    start = TODAY - timedelta(days=rng.randint(0, 30))
    magnitude = rng.uniform(0.05, 0.9) * (-1 if kind in ("drop", "record_low") else 1)
    value = rng.uniform(0.5, 0.95) if correlation else rng.uniform(10, 5_000)
    return Insight(
        kind=kind,
        metric=metric,
        segment={"country": rng.choice(COUNTRIES)} if rng.random() < 0.5 else {},
        start=start,
        end=start if kind in ("spike", "drop", "record_high", "record_low") else TODAY,
        value=value,
        reference=value / (1 + magnitude) if not correlation else value - magnitude,
        magnitude=magnitude,
        test="mann-kendall" if kind == "trend" else "t-test",
        statistic=rng.uniform(2, 8),
        p_value=rng.uniform(0.00001, 0.04),
        other_metric=other if correlation else None,
        details={"lag": rng.randint(0, 3)} if correlation else {},
    )


def feed(metrics: int, seed: int) -> list[Explanation | Insight]:
    """Per metric: an explanation with three causes and two insights (kinds in turn)."""
    rng = random.Random(seed)
    kinds: tuple[InsightKind, ...] = get_args(InsightKind)
    facts = [_metric(i) for i in range(metrics)]
    items: list[Explanation | Insight] = []
    for i, metric in enumerate(facts):
        items.append(_explanation(metric, rng))
        for j in range(2):
            kind = kinds[(2 * i + j) % len(kinds)]
            items.append(_insight(metric, kind, facts[(i + 1) % len(facts)], rng))
    return items


def _check(text: str, where: str) -> None:
    for leftover in ("{{", "{%", "None"):
        if leftover in text:
            print(f"FAILED: {where}: {leftover!r} in the output", file=sys.stderr)
            sys.exit(1)


def _series(metrics: int, seed: int) -> list[SeriesInput]:
    """Two years of daily values per metric, with a pattern at the end of some."""
    rng = np.random.default_rng(seed)
    days = np.arange(np.datetime64("2023-03-08"), np.datetime64("2025-03-07"))
    week = 1.0 + 0.15 * np.sin(2 * np.pi * np.arange(days.size) / 7)
    found = []
    for index in range(metrics):
        values = 1000.0 * week * rng.normal(1.0, 0.05, days.size)
        shape = index % 5
        if shape == 1:
            values *= np.linspace(1.0, 1.3, days.size)
        elif shape == 2:
            values[-20:] *= 0.8
        elif shape == 3:
            values[-1] *= 1.6
        found.append(SeriesInput(_metric(index), days, values))
    return found


def end_to_end(metrics: int, seed: int, repeats: int) -> tuple[float, int]:
    """Median seconds to find the patterns of ``metrics`` series and narrate them; insights."""
    series = _series(metrics, seed)
    found = find_insights(series)
    narrate_feed(found, lang="en", tone="executive", fmt="md", today=TODAY)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        found = find_insights(series)
        text = narrate_feed(found, lang="en", tone="executive", fmt="md", today=TODAY)
        seconds.append(time.perf_counter() - started)
    _check(text, "end to end")
    return statistics.median(seconds), len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    items = feed(args.metrics, args.seed)
    first: dict[str, float] = {}
    rows: list[dict[str, object]] = []
    for lang in LANGUAGES:
        started = time.perf_counter()
        narrate_feed(items, lang=lang, tone=TONES[0], fmt=FORMATS[0], today=TODAY)
        first[lang] = time.perf_counter() - started
        for tone in TONES:
            for fmt in FORMATS:
                seconds = []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    text = narrate_feed(items, lang=lang, tone=tone, fmt=fmt, today=TODAY)
                    seconds.append(time.perf_counter() - started)
                _check(text, f"{lang}/{tone}/{fmt}")
                median = statistics.median(seconds)
                rows.append(
                    {
                        "lang": lang,
                        "tone": tone,
                        "fmt": fmt,
                        "median_ms": round(median * 1000, 1),
                        "chars": len(text),
                        "ratio": round(BASELINE_S / median, 1),
                    }
                )

    info = machine()
    print(
        f"\nNarrative feed: {args.metrics} metrics, {len(items)} findings; median of "
        f"{args.repeats}; {info['date']}, {info['cpu']} ({info['cores']} cores), "
        f"Python {info['python']}, commit {info['commit']}\n"
    )
    print("| lang | tone | fmt | median (ms) | chars | baseline 2.0 s / ours |")
    print("|---|---|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['lang']} | {row['tone']} | {row['fmt']} | {row['median_ms']} | "
            f"{row['chars']:,} | {row['ratio']:,}x |"
        )
    whole, insights = end_to_end(args.metrics, args.seed, args.repeats)
    print(
        f"\nEnd to end (patterns of {args.metrics} two-year daily series, then the feed as "
        f"Markdown): median {whole * 1000:.0f} ms, {insights} insights; baseline 2.0 s / ours "
        f"{BASELINE_S / whole:.1f}x"
    )
    firsts = ", ".join(f"{lang} {seconds * 1000:.0f} ms" for lang, seconds in first.items())
    print(f"\nFirst render per language (compiles the templates): {firsts}\n")
    slowest = max(float(str(row["median_ms"])) for row in rows) / 1000
    report(
        "narratives",
        {
            "metrics": args.metrics,
            "findings": len(items),
            "repeats": args.repeats,
            "baseline": "a neural generator needs 2-5 s per feed",
            "baseline_s": BASELINE_S,
            "first_render_ms": {lang: round(s * 1000, 1) for lang, s in first.items()},
            "rows": rows,
            "slowest_median_ms": round(slowest * 1000, 1),
            "worst_ratio": round(BASELINE_S / slowest, 1),
            "target": "well under 1 s per feed",
            "end_to_end_ms": round(whole * 1000, 1),
            "end_to_end_insights": insights,
            "end_to_end_ratio": round(BASELINE_S / whole, 1),
        },
    )


if __name__ == "__main__":
    main()
