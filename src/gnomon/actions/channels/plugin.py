"""Plugin actions: a Python function of the user's, run once per attempt in a limited subprocess.

Why a subprocess per attempt rather than a call in the dispatcher: a plugin is code gnomon does
not control. In a process of its own it cannot take the dispatcher down with a crash, a leak or
a blocking call; the kernel enforces its memory and CPU limits; a timeout kills it outright,
which a thread cannot be; and a fresh process carries nothing over from the previous attempt.
The price is a Python start per attempt (see docs/actions.md), acceptable for alerts.

The child runs :mod:`gnomon.actions._plugin_host` in a new session, so the plugin and every
process it starts share one process group; the group is killed when the attempt ends, on a
timeout, on cancellation, and also after a clean answer, so nothing a plugin starts outlives its
attempt. The child gets only the environment a process needs (``PATH``, ``HOME``, locale,
``PYTHON*``) and the variables named in ``pass_env``: the dispatcher's own secrets stay out.

Outcomes: a return is ``delivered`` (``reference`` from ``result["reference"]``); an exception is
``failed`` with its last traceback line, except :class:`gnomon.actions.PluginRetry` (and any
other retryable :class:`gnomon.errors.GnomonError`), which is ``retry``; a timeout or the CPU
limit is ``retry``; running out of memory, or being killed by a signal, is ``failed`` with a
message naming ``memory_mb``. Every value from ``config`` that came from ``${NAME}`` is masked in
errors and excerpts.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import SecretStr

import gnomon
from gnomon.actions.channels._http import redact
from gnomon.actions.models import EXCERPT_CHARS, Attempt
from gnomon.actions.specs import secret_values
from gnomon.errors import InternalError

if TYPE_CHECKING:
    from gnomon.actions.models import Notification
    from gnomon.actions.specs import PluginSpec
    from gnomon.clock import Clock

__all__ = ["HOST_MODULE", "PluginChannel", "build", "child_environment"]

logger = logging.getLogger(__name__)

HOST_MODULE: Final = "gnomon.actions._plugin_host"
"""The module the child runs with ``python -m``."""

_ANSWER_LIMIT: Final = 1024 * 1024
_NOISE_LIMIT: Final = 16 * 1024
_DRAIN_S: Final = 5.0
"""How long to wait for the exit and the pipes to close once the process group is killed; only
a process the plugin moved out of the group (``setsid``) can make it last."""

_BASE_ENV: Final = frozenset(
    {"PATH", "HOME", "USER", "LANG", "LANGUAGE", "TZ", "TMPDIR", "VIRTUAL_ENV"}
    | {"SSL_CERT_FILE", "SSL_CERT_DIR"}
)
_BASE_PREFIXES: Final = ("LC_", "PYTHON")


def child_environment(env: Mapping[str, str], pass_env: Sequence[str] = ()) -> dict[str, str]:
    """The environment a plugin runs in: the few variables a process needs, and ``pass_env``.

    The directory gnomon is imported from is appended to ``PYTHONPATH``, so that the child runs
    the same gnomon as the dispatcher.

    >>> child_environment({"PATH": "/bin", "DB_PASSWORD": "x", "TOKEN": "t"}, ["TOKEN"])["TOKEN"]
    't'
    >>> "DB_PASSWORD" in child_environment({"PATH": "/bin", "DB_PASSWORD": "x"})
    False
    """
    wanted = set(_BASE_ENV) | set(pass_env)
    child = {
        name: value
        for name, value in env.items()
        if name in wanted or name.startswith(_BASE_PREFIXES)
    }
    root = str(Path(gnomon.__file__).resolve().parent.parent)
    paths = [path for path in child.get("PYTHONPATH", "").split(os.pathsep) if path]
    if root not in paths:
        child["PYTHONPATH"] = os.pathsep.join([*paths, root])
    return child


def _revealed(value: object) -> Any:
    """The config as plain JSON-able data: secrets unwrapped, for the child only."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Mapping):
        return {str(key): _revealed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_revealed(item) for item in value]
    return value


class PluginChannel:
    """Runs one plugin function per attempt in a fresh, limited subprocess."""

    kind = "plugin"

    def __init__(self, name: str, spec: "PluginSpec", *, clock: "Clock") -> None:
        self.name = name
        self.endpoint = f"plugin:{spec.plugin}"
        self._spec = spec
        self._clock = clock
        self._secrets = tuple(secret_values(spec))
        self._config = _revealed(spec.config)
        self._env = child_environment(os.environ, spec.pass_env)
        target = "entry_point" if spec.entry_point is not None else "callable"
        self._plugin = {target: spec.plugin}

    def __repr__(self) -> str:
        return f"PluginChannel({self.name!r}, endpoint={self.endpoint!r})"

    async def send(self, notification: "Notification", /) -> Attempt:
        """Run the plugin once on the notification and say how it went."""
        started = time.perf_counter()
        request = json.dumps(
            {
                "plugin": self._plugin,
                "notification": notification.to_dict(),
                "config": self._config,
                "memory_mb": self._spec.memory_mb,
                "cpu_s": self._spec.timeout_s + 1,
            },
            default=str,
        ).encode("utf-8")
        attempt = await self._attempt(request)
        attempt = replace(
            attempt,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=None if attempt.error is None else redact(attempt.error, self._secrets),
            response_excerpt=redact(attempt.response_excerpt, self._secrets)[-EXCERPT_CHARS:],
        )
        logger.debug(
            "plugin attempt",
            extra={
                "endpoint": self.endpoint,
                "outcome": attempt.outcome,
                "latency_ms": attempt.latency_ms,
                "idempotency_key": notification.key,
            },
        )
        return attempt

    async def aclose(self) -> None:
        """Nothing is pooled: every attempt's process is gone when its send returns."""

    async def _attempt(self, request: bytes) -> Attempt:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            HOST_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            start_new_session=True,
        )
        if process.stdin is None or process.stdout is None or process.stderr is None:
            raise InternalError("the plugin host was started without its pipes")
        noise = asyncio.ensure_future(_tail(process.stderr, _NOISE_LIMIT))
        timed_out = False
        try:
            async with asyncio.timeout(self._spec.timeout_s):
                # The answer's end (the host closes it after writing) ends the attempt; the exit
                # is not awaited here: asyncio reports it only once every pipe is closed, and a
                # process the plugin started may hold stderr open.
                answer, _ = await asyncio.gather(
                    _head(process.stdout, _ANSWER_LIMIT), _feed(process.stdin, request)
                )
        except TimeoutError:
            timed_out = True
            answer = b""
        finally:
            _kill_group(process.pid)
            exited = asyncio.ensure_future(process.wait())
            await asyncio.wait({noise, exited}, timeout=_DRAIN_S)
            noise.cancel()
            exited.cancel()
        finished = noise.done() and not noise.cancelled() and noise.exception() is None
        output = noise.result().decode("utf-8", errors="replace") if finished else ""
        if timed_out:
            return Attempt(
                outcome="retry",
                error=f"the plugin did not finish within timeout_s = {self._spec.timeout_s:g} s "
                "and was killed",
                response_excerpt=output,
            )
        return self._read(answer, process.returncode, output)

    def _read(self, answer: bytes, returncode: int | None, output: str) -> Attempt:
        if not answer:
            return self._unanswered(returncode, output)
        try:
            parsed = json.loads(answer)
            outcome = parsed["outcome"]
        except (ValueError, KeyError, TypeError):
            return Attempt(
                outcome="failed",
                error="the plugin host answered something that is not its protocol",
                response_excerpt=output,
            )
        if outcome == "delivered":
            result = parsed.get("result")
            result = result if isinstance(result, dict) else {}
            reference = result.get("reference")
            return Attempt(
                outcome="delivered",
                response_excerpt=json.dumps(result, default=str)[:EXCERPT_CHARS] if result else "",
                reference=None if reference is None else str(reference),
            )
        error = str(parsed.get("error") or "the plugin failed")
        if outcome == "retry":
            after = parsed.get("retry_after_s")
            return Attempt(
                outcome="retry",
                error=error,
                response_excerpt=output,
                retry_after_s=float(after) if isinstance(after, int | float) else None,
            )
        if parsed.get("memory"):
            error = self._memory(error)
        return Attempt(outcome="failed", error=error, response_excerpt=output)

    def _unanswered(self, returncode: int | None, output: str) -> Attempt:
        lines = output.strip().splitlines()
        last = lines[-1] if lines else ""
        if returncode is not None and returncode < 0:
            signum = -returncode
            name = _signal_name(signum)
            if signum == signal.SIGXCPU:
                return Attempt(
                    outcome="retry",
                    error=f"the plugin used more CPU time than timeout_s = "
                    f"{self._spec.timeout_s:g} s allows and was stopped ({name})",
                    response_excerpt=output,
                )
            return Attempt(
                outcome="failed",
                error=f"the plugin's process was killed by {name} before it answered, as a "
                f"plugin over its memory limit is (memory_mb = {self._spec.memory_mb} MB beyond "
                "the host process). Raise memory_mb in the channel spec or make the plugin use "
                "less, unless something else killed it",
                response_excerpt=output,
            )
        if last.startswith("MemoryError"):
            return Attempt(outcome="failed", error=self._memory(last), response_excerpt=output)
        detail = f": {last}" if last else ""
        return Attempt(
            outcome="failed",
            error=f"the plugin host exited with code {returncode} without answering{detail}",
            response_excerpt=output,
        )

    def _memory(self, detail: str) -> str:
        return (
            f"the plugin ran out of memory ({detail}): it may use memory_mb = "
            f"{self._spec.memory_mb} MB beyond the host process. Raise memory_mb in the channel "
            "spec, or make the plugin use less"
        )


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _kill_group(pid: int) -> None:
    """Kill the plugin's process group: the host and anything the plugin started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    """Write the request and close stdin; a child that died early is reported by its exit."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(data)
        await stdin.drain()
    stdin.close()


async def _head(stream: asyncio.StreamReader, limit: int) -> bytes:
    """The first ``limit`` bytes of ``stream``, read to its end so that the writer never blocks.

    An answer longer than ``limit`` is cut, which makes it invalid JSON: reported as not the
    protocol rather than held in memory.
    """
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


async def _tail(stream: asyncio.StreamReader, limit: int) -> bytes:
    """The last ``limit`` bytes of ``stream``: where a traceback or the last message is."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk
        if len(kept) > limit:
            del kept[: len(kept) - limit]
    return bytes(kept)


def build(name: str, spec: "PluginSpec", *, clock: "Clock") -> PluginChannel:
    """The registry's factory for ``kind: plugin``."""
    return PluginChannel(name, spec, clock=clock)
