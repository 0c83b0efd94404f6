"""The order models are built in, from the gold tables each one reads.

Only gold → gold edges order the build: silver tables are inputs that already exist. The order is
a topological one made stable by always taking the alphabetically first model that is ready, so
the same project builds in the same order every time and logs can be compared.
"""

import heapq
from collections.abc import Collection, Mapping, Sequence
from typing import NoReturn

from gnomon.pipeline.errors import ModelCycleError, ModelDependencyError, ModelError, ModelNotFound
from gnomon.pipeline.models import GOLD, ModelSpec

__all__ = ["build_order", "index_models"]


def index_models(models: Sequence[ModelSpec]) -> dict[str, ModelSpec]:
    """The models by name.

    Raises:
        ModelError: two models share a name.
    """
    by_name: dict[str, ModelSpec] = {}
    for model in models:
        if model.name in by_name:
            raise ModelError(
                f"Two models are named {model.name}: {by_name[model.name].path} and {model.path}.",
                hint="Give every model file a unique name.",
                file=model.path,
            )
        by_name[model.name] = model
    return by_name


def build_order(
    models: Sequence[ModelSpec], *, select: Collection[str] | None = None
) -> list[ModelSpec]:
    """The models to build, each after every gold table it reads.

    Args:
        models: every model of the project (or at least a set closed under dependencies).
        select: build only these models (``"name"`` or ``"gold.name"``) and everything they
            read, directly or not; ``None`` builds all.

    Raises:
        ModelNotFound: a selected name is not a model; the message lists the models.
        ModelDependencyError: a model reads ``gold.x`` and no model builds ``x``.
        ModelCycleError: models read each other in a loop; the message names it, e.g.
            ``a → b → a`` where each model reads the next.
        ModelError: two models share a name.
    """
    by_name = index_models(models)
    wanted = _upstream_closure(by_name, _selected(by_name, select))
    return [by_name[name] for name in _topological(by_name, wanted)]


def _selected(by_name: Mapping[str, ModelSpec], select: Collection[str] | None) -> list[str]:
    if select is None:
        return sorted(by_name)
    requested = [select] if isinstance(select, str) else list(select)
    names = [item.removeprefix(f"{GOLD}.") for item in requested]
    unknown = sorted({name for name in names if name not in by_name})
    if unknown:
        known = ", ".join(sorted(by_name)) or "(none)"
        raise ModelNotFound(
            f"No model named {', '.join(unknown)}: there is no such file in the models folder.",
            hint=f"Select one of: {known}.",
            unknown=unknown,
            models=sorted(by_name),
        )
    return sorted(set(names))


def _upstream_closure(by_name: Mapping[str, ModelSpec], roots: Sequence[str]) -> set[str]:
    wanted: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        model = by_name[name]
        for upstream in model.upstream_models:
            if upstream not in by_name:
                raise ModelDependencyError(
                    f"Model {name} reads {GOLD}.{upstream}, but no model builds it.",
                    hint=f"Add models/{upstream}.sql, or fix the reference in {model.path}. "
                    f"Models: {', '.join(sorted(by_name))}.",
                    model=name,
                    missing=f"{GOLD}.{upstream}",
                    file=model.path,
                )
            pending.append(upstream)
    return wanted


def _topological(by_name: Mapping[str, ModelSpec], wanted: set[str]) -> list[str]:
    waiting_on = {name: set(by_name[name].upstream_models) for name in wanted}
    readers: dict[str, list[str]] = {name: [] for name in wanted}
    for name, upstream in waiting_on.items():
        for dependency in upstream:
            readers[dependency].append(name)
    ready = [name for name, upstream in waiting_on.items() if not upstream]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for reader in readers[name]:
            waiting_on[reader].discard(name)
            if not waiting_on[reader]:
                heapq.heappush(ready, reader)
    if len(order) < len(wanted):
        _raise_cycle({name: deps for name, deps in waiting_on.items() if deps})
    return order


def _raise_cycle(blocked: Mapping[str, set[str]]) -> NoReturn:
    """Name one cycle among the models that never became ready.

    Every blocked model still waits on another blocked model, so walking "reads" edges from any
    of them must come back to a model already seen. Starting from the smallest name and
    rotating the loop to its smallest member makes the message deterministic.
    """
    current = min(blocked)
    path: list[str] = []
    position: dict[str, int] = {}
    while current not in position:
        position[current] = len(path)
        path.append(current)
        current = min(blocked[current])
    loop = path[position[current] :]
    start = loop.index(min(loop))
    cycle = (*loop[start:], *loop[:start], min(loop))
    text = " → ".join(cycle)
    raise ModelCycleError(
        f"Models read each other in a cycle, so none of them can be built first: {text}.",
        hint="Each model in the cycle reads the next; remove one of those references (in the SQL "
        "or in the front matter's depends_on) to break it.",
        cycle=cycle,
    )
