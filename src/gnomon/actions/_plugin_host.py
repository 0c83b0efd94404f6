"""The child side of ``kind: plugin``: run one plugin call under limits and answer in JSON.

Started as ``python -m gnomon.actions._plugin_host`` in a process group of its own, once per
attempt, by :class:`gnomon.actions.channels.plugin.PluginChannel`.

Protocol. The request is one JSON object on stdin: ``plugin`` (``{"entry_point": name}`` or
``{"callable": "module:function"}``), ``notification``, ``config``, ``memory_mb`` and ``cpu_s``.
The answer is one JSON object on what was stdout when the host started: ``{"outcome":
"delivered", "result": {...}}``, ``{"outcome": "retry", "error": ..., "retry_after_s": ...}`` or
``{"outcome": "failed", "error": ..., "memory": bool}``. Before anything else runs the host keeps
that descriptor for itself and points descriptor 1 at stderr, so whatever the plugin prints, from
Python or from C, lands in stderr and cannot corrupt the answer.

Limits are set after the request is read and before the plugin is imported, so that importing
it counts: ``RLIMIT_AS`` at the address space in use plus ``memory_mb`` (an allocation beyond it
raises ``MemoryError``), and ``RLIMIT_CPU`` at the CPU time used plus ``cpu_s`` (the kernel stops
a plugin that spins even if the parent that would kill it is gone). Both are lowered as hard
limits too, so the plugin cannot raise them again.
"""

import functools
import importlib
import json
import math
import os
import resource
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final

from gnomon.errors import GnomonError

__all__ = ["GROUP", "main"]

GROUP: Final = "gnomon.actions"
"""The entry-point group action plugins register in."""

_RESERVE_BYTES: Final = 1 << 20

Answer = dict[str, Any]
Plugin = Callable[[dict[str, Any], dict[str, Any]], object]


def main() -> int:
    """Read the request, run the plugin once, write the answer; the exit code is always 0."""
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        request = json.load(sys.stdin)
        plugin = request["plugin"]
        notification = request["notification"]
        config = request["config"]
        _limit(memory_mb=int(request["memory_mb"]), cpu_s=float(request["cpu_s"]))
    except (ValueError, KeyError, TypeError) as exc:
        answer: Answer = _failed(f"the plugin host received no valid request: {_last_line(exc)}")
    else:
        answer = _run(plugin, notification, config)
    _write(answer_fd, answer)
    return 0


def _limit(*, memory_mb: int, cpu_s: float) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    try:
        in_use = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[0]) * page
    except OSError:
        in_use = 0
    _lower(resource.RLIMIT_AS, in_use + memory_mb * 1024 * 1024)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # The soft CPU limit sends SIGXCPU, which the parent reads as "too long"; the hard one, two
    # seconds later, SIGKILL for a plugin that catches SIGXCPU.
    _lower(resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime + cpu_s), slack=2)


def _lower(which: int, limit: int, *, slack: int = 0) -> None:
    """Lower the soft limit to ``limit`` and the hard one to ``limit + slack``, never raising."""
    soft, hard = limit, limit + slack
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _run(plugin: object, notification: object, config: object) -> Answer:
    reserve = bytearray(_RESERVE_BYTES)  # freed on MemoryError, so that the answer can be built
    described = json.dumps(plugin)
    try:
        function = _load(plugin)
    except MemoryError:
        del reserve
        return _out_of_memory("while importing the plugin")
    except BaseException as exc:  # noqa: BLE001 - the plugin's import is user code; any failure is an answer
        traceback.print_exc()
        return _failed(f"the plugin {described} could not be loaded: {_last_line(exc)}")
    try:
        result = function(
            notification if isinstance(notification, dict) else {},
            config if isinstance(config, dict) else {},
        )
    except MemoryError:
        del reserve
        return _out_of_memory("while running")
    except BaseException as exc:  # noqa: BLE001 - the plugin is user code; any failure is an answer
        traceback.print_exc()
        if isinstance(exc, GnomonError) and exc.retryable:
            after = getattr(exc, "retry_after_s", None)
            retry_after_s = float(after) if isinstance(after, int | float) else None
            return {"outcome": "retry", "error": _last_line(exc), "retry_after_s": retry_after_s}
        return _failed(_last_line(exc))
    if result is not None and not isinstance(result, dict):
        return _failed(f"the plugin returned {type(result).__name__}, not a dict or None")
    return {"outcome": "delivered", "result": result or {}}


def _load(plugin: object) -> Plugin:
    if not isinstance(plugin, dict):
        raise TypeError("the request names no plugin")
    if "entry_point" in plugin:
        name = str(plugin["entry_point"])
        found = entry_points(group=GROUP, name=name)
        if not found:
            known = sorted(ep.name for ep in entry_points(group=GROUP)) or ["none"]
            raise LookupError(
                f"no entry point {name!r} in the group {GROUP}; installed: {', '.join(known)}"
            )
        loaded: object = next(iter(found)).load()
    else:
        module_name, _, attributes = str(plugin["callable"]).partition(":")
        module = importlib.import_module(module_name)
        loaded = functools.reduce(getattr, attributes.split("."), module)
    if not callable(loaded):
        raise TypeError(f"{type(loaded).__name__} is not callable")
    function: Plugin = loaded
    return function


def _failed(error: str, *, memory: bool = False) -> Answer:
    return {"outcome": "failed", "error": error, "memory": memory}


def _out_of_memory(when: str) -> Answer:
    return _failed(f"MemoryError {when}", memory=True)


def _last_line(exc: BaseException) -> str:
    """The last line of the exception's traceback: its type and message, nothing of the stack."""
    return traceback.format_exception_only(exc)[-1].strip()


def _write(fd: int, answer: Answer) -> None:
    try:
        data = json.dumps(answer, default=str).encode("utf-8")
    except (TypeError, ValueError) as exc:
        data = json.dumps(
            _failed(f"the plugin's result cannot be written as JSON: {_last_line(exc)}")
        ).encode("utf-8")
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
