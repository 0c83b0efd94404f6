"""Rule templates: the common rules, written once, filled in with a few parameters.

```yaml
rules:
  revenue_below_target:
    template: kpi_below_target
    params: {metric: revenue, target: 120000, tolerance: 0.1}
    overrides: {notify: [ops-slack]}
```

A template expands into an ordinary rule (the same checks apply); ``overrides`` then replace
any of its fields. :func:`expand` says which parameter is missing or unknown.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["TEMPLATES", "RuleTemplate", "TemplateError", "expand"]

Params = Mapping[str, object]


class TemplateError(ValueError):
    """A template use names no template, or gives it wrong parameters."""

    def __init__(self, message: str, *, path: str = "", valid: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.valid = valid


@dataclass(frozen=True, slots=True)
class RuleTemplate:
    """A template: its parameters (required and optional, with defaults) and its expansion."""

    name: str
    description: str
    required: tuple[str, ...]
    optional: Mapping[str, object]
    build: Callable[[Params], dict[str, object]]


def _number(params: Params, name: str) -> float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateError(f"{name} must be a number, not {value!r}", path=f"params.{name}")
    return float(value)


def _word(params: Params, name: str) -> str:
    value = params[name]
    if not isinstance(value, str) or not value.replace("_", "").isalnum():
        raise TemplateError(
            f"{name} must be a name (letters, digits, _), not {value!r}", path=f"params.{name}"
        )
    return value


def _kpi_below_target(params: Params) -> dict[str, object]:
    metric = _word(params, "metric")
    target = _number(params, "target")
    tolerance = _number(params, "tolerance")
    if not 0 <= tolerance < 1:
        raise TemplateError("tolerance is a fraction from 0 to 1", path="params.tolerance")
    return {
        "description": f"{metric} below its target of {target:g} (tolerance {tolerance:.0%})",
        "on": "kpi",
        "metrics": [metric],
        "condition": f"{metric} < {target!r} * {1 - tolerance!r}",
        "severity": params["severity"],
        "for": params["for"],
    }


def _kpi_spike(params: Params) -> dict[str, object]:
    metric = _word(params, "metric")
    score = _number(params, "min_score")
    if not 0 < score < 1:
        raise TemplateError("min_score is between 0 and 1, e.g. 0.999", path="params.min_score")
    direction = params["direction"]
    if direction not in ("up", "down", "any"):
        raise TemplateError(
            f"direction must be up, down or any, not {direction!r}",
            path="params.direction",
            valid=("up", "down", "any"),
        )
    condition = f"score >= {score!r}"
    if direction != "any":
        condition += f" AND direction = '{direction}'"
    return {
        "description": f"{metric} moved unusually ({direction})",
        "on": "anomaly",
        "metrics": [metric],
        "condition": condition,
        "key": ["segment"],
        "severity": params["severity"],
    }


def _missing_data(params: Params) -> dict[str, object]:
    event = params["event"]
    if not isinstance(event, str) or not event:
        raise TemplateError("event is an event type such as gnomon.ingest.*", path="params.event")
    key = params["key"]
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise TemplateError("key is a list of field names", path="params.key")
    return {
        "description": f"no {event} for {params['within']}",
        "on": "event",
        "match": [event],
        "absence": {"within": params["within"]},
        "key": key,
        "severity": params["severity"],
    }


def _quality_failure(params: Params) -> dict[str, object]:
    datasets = params["datasets"]
    if not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets):
        raise TemplateError("datasets is a list of dataset names", path="params.datasets")
    return {
        "description": "a data-quality check failed"
        + (f" on {', '.join(datasets)}" if datasets else ""),
        "on": "quality",
        "datasets": datasets,
        "condition": "status = 'failed'",
        "key": ["dataset", "check"],
        "severity": params["severity"],
    }


TEMPLATES: dict[str, RuleTemplate] = {
    t.name: t
    for t in (
        RuleTemplate(
            "kpi_below_target",
            "A metric below its target (by more than a tolerance), for a while.",
            ("metric", "target"),
            {"tolerance": 0.0, "severity": "warning", "for": None},
            _kpi_below_target,
        ),
        RuleTemplate(
            "kpi_spike",
            "An anomaly in a metric (any segment) at least this sure, in one direction or both.",
            ("metric",),
            {"min_score": 0.999, "direction": "any", "severity": "warning"},
            _kpi_spike,
        ),
        RuleTemplate(
            "missing_data",
            "No event of a type (per key) for a while: a feed stopped.",
            ("event", "within"),
            {"key": [], "severity": "critical"},
            _missing_data,
        ),
        RuleTemplate(
            "quality_failure",
            "A data-quality check failed (on the given datasets, or any).",
            (),
            {"datasets": [], "severity": "warning"},
            _quality_failure,
        ),
    )
}


def expand(template: str, params: Params, overrides: Params) -> dict[str, object]:
    """The rule a template use stands for, as a rule's fields (not yet checked).

    Raises:
        TemplateError: an unknown template, a missing or unknown parameter, or a bad value.
    """
    found = TEMPLATES.get(template)
    if found is None:
        raise TemplateError(
            f"unknown template {template!r}", path="template", valid=tuple(sorted(TEMPLATES))
        )
    known = (*found.required, *found.optional)
    for name in params:
        if name not in known:
            raise TemplateError(
                f"{template} has no parameter {name!r}", path=f"params.{name}", valid=known
            )
    missing = [name for name in found.required if name not in params]
    if missing:
        raise TemplateError(
            f"{template} needs {', '.join(missing)}", path="params", valid=tuple(found.required)
        )
    filled = {**found.optional, **params}
    fields = {k: v for k, v in found.build(filled).items() if v is not None}
    return {**fields, **overrides}
