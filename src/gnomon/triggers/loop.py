"""The trigger loop: judges events as they arrive and moves time on, until told to stop.

It waits on the service's ``wake`` (set when events are published in this process) or polls, so
an event sent through the API is judged within milliseconds, while events written by other
processes (a load, a scan) are seen within ``poll_interval``. Time moves on (absences, quiet
alerts resolving, repeats, escalation, groups and digests falling due) every ``tick_interval``,
and rules on KPI values are judged after each load or build, and every ``kpi_interval`` as well.

A failure of one round is logged and the loop goes on: a catalog that cannot be reached now may
be reachable at the next poll, and nothing of a failed round was stored.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from gnomon.context import RequestContext
from gnomon.errors import GnomonError
from gnomon.triggers.service import ProcessReport, TriggerService

__all__ = ["LoopReport", "TriggerLoop"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LoopReport:
    """What a loop did over its life."""

    rounds: int = 0
    failures: int = 0
    work: ProcessReport | None = None


class TriggerLoop:
    """Runs :class:`TriggerService` rounds until stopped.

    Args:
        service: the rules to judge.
        poll_interval: longest wait for new events, in seconds.
        tick_interval: how often time moves on, in seconds.
        kpi_interval: how often rules on KPI values are judged anyway, in seconds (``None``:
            only after loads and builds).
        on_notified: called after a round that queued notifications (wakes a dispatcher).
        tenants: the tenants whose KPI rules are judged on the interval.
    """

    def __init__(
        self,
        service: TriggerService,
        *,
        poll_interval: float = 1.0,
        tick_interval: float = 5.0,
        kpi_interval: float | None = 300.0,
        on_notified: Callable[[], None] | None = None,
        tenants: Callable[[], list[str]] | None = None,
    ) -> None:
        if poll_interval <= 0 or tick_interval <= 0:
            raise ValueError("TriggerLoop intervals must be positive")
        self._service = service
        self._poll = poll_interval
        self._tick = tick_interval
        self._kpi = kpi_interval
        self._on_notified = on_notified
        self._tenants = tenants or (lambda: [])

    async def run(self, stop: asyncio.Event) -> LoopReport:
        """Judge, tick and wait, round after round, until ``stop`` is set.

        A round judges one micro-batch; while events keep coming, the next round starts at
        once, and the notifications of each batch are handed on as soon as it is committed.
        """
        report = LoopReport(work=ProcessReport())
        last_tick = last_kpi = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            due_tick = now - last_tick >= self._tick
            due_kpi = self._kpi is not None and now - last_kpi >= self._kpi
            self._service.wake.clear()
            work = ProcessReport()
            try:
                work = await asyncio.to_thread(self.round, tick=due_tick, kpis=due_kpi)
            except GnomonError as exc:
                report.failures += 1
                log.warning("trigger round failed, trying again: %s", exc)
            except Exception:  # a worker loop outlives one bad round; logged
                report.failures += 1
                log.exception("trigger round failed, trying again")
            else:
                assert report.work is not None  # noqa: S101 - set above
                report.work.add(work)
                if work.notifications and self._on_notified is not None:
                    self._on_notified()
            report.rounds += 1
            last_tick = now if due_tick else last_tick
            last_kpi = now if due_kpi else last_kpi
            if work.events == 0:
                await asyncio.to_thread(self._service.wake.wait, self._poll)
        return report

    def round(self, *, tick: bool = True, kpis: bool = False, limit: int = 1000) -> ProcessReport:
        """One round, in the calling thread: a batch of events, then time, then KPI rules."""
        work = self._service.process(limit=limit, rounds=1)
        if tick:
            work.add(self._service.tick())
        if kpis:
            for tenant in self._tenants():
                work.add(self._service.evaluate_kpis(ctx=RequestContext.system(tenant)))
        return work
