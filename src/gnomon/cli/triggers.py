"""``gnomon triggers``, ``gnomon alerts`` and ``gnomon events``: rules, what they raised, input."""

import asyncio
import dataclasses
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, err_console, render
from gnomon.errors import InvalidInput
from gnomon.specfiles import parse_duration
from gnomon.triggers.loop import TriggerLoop
from gnomon.triggers.service import rule_row

if TYPE_CHECKING:
    from gnomon.app import Gnomon

__all__ = ["register"]

_STATES = ("pending", "firing", "resolved")


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{option} is not JSON: {exc.msg} (column {exc.colno}).",
            hint=f"""Quote it for the shell: {option} '{{"amount": 1200, "country": "DE"}}'.""",
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{option} must be a JSON object.", hint=f"""For example: {option} '{{"amount": 1}}'."""
        )
    return value


def triggers_list(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the applied trigger rules (apply triggers/*.yaml with `gnomon apply`)."""
    with open_project(project) as app:
        rules = app.triggers.rules(ctx=app.context(tenant))
    rows = [rule_row(r) for r in rules]
    render(rows, fmt, title="Trigger rules", empty="No trigger rules applied yet.")


def triggers_show(
    name: Annotated[str, typer.Argument(help="The rule.")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show a rule in full, as checked (a template expanded)."""
    with open_project(project) as app:
        rule = app.triggers.rule(name, ctx=app.context(tenant))
    spec = rule.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    row = {"name": rule.name, **spec, "source": rule.source}
    if fmt is OutputFormat.table:
        render([{"field": k, "value": v} for k, v in row.items()], fmt, title=f"Rule {name}")
        return
    render([row], fmt)


def triggers_test(
    name: Annotated[str, typer.Argument(help="The rule.")],
    event: Annotated[
        str,
        typer.Option("--event", "-e", help="""The event's data as JSON: '{"amount": 1200}'."""),
    ],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Say whether a rule's condition holds for an event; nothing is stored or sent."""
    data = _json_object(event, "--event")
    with open_project(project) as app:
        result = app.triggers.test(name, data, ctx=app.context(tenant))
    render([result], fmt, title=f"Rule {name}")


def triggers_run(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Judge the rules now: waiting events, the latest KPI values, and time (absences, repeats)."""
    with open_project(project) as app:
        events = app.triggers.process()
        kpis = app.triggers.evaluate_kpis(ctx=app.context(tenant))
        ticked = app.triggers.tick()
    rows = [
        {"step": "events", **events.to_dict()},
        {"step": "kpis", **kpis.to_dict()},
        {"step": "time", **ticked.to_dict()},
    ]
    render(rows, fmt, title="Trigger evaluation")


def alerts_list(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option("--state", help=f"Only alerts {' or '.join(_STATES)}.")
    ] = None,
    rule: Annotated[str | None, typer.Option("--rule", "-r", help="Only this rule's.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 100,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List alerts, newest first, with their deliveries; `ack`, `silence` act on them."""
    if ctx.invoked_subcommand is not None:
        return
    if state is not None and state not in _STATES:
        raise InvalidInput(
            f"--state {state!r} is not an alert state.", hint=f"Use one of {', '.join(_STATES)}."
        )
    with open_project(project) as app:
        rows = app.triggers.alerts(ctx=app.context(tenant), state=state, rule=rule, limit=limit)
    if fmt is OutputFormat.table:
        rows = [
            {
                "id": r["id"],
                "rule": r["rule"],
                "state": r["state"],
                "severity": r["severity"],
                "key": ", ".join(r["key"]),
                "started_at": r["started_at"],
                "resolved_at": r["resolved_at"],
                "deliveries": ", ".join(
                    f"{d['channel']}: {d['status']} ({d['attempts']})" for d in r["deliveries"]
                ),
            }
            for r in rows
        ]
    render(rows, fmt, title="Alerts", empty="No alerts.")


def alerts_show(
    alert: Annotated[int, typer.Argument(help="The alert's id (see `gnomon alerts`).")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show an alert with every delivery attempt of its notifications."""
    with open_project(project) as app:
        row = app.triggers.alert(alert, ctx=app.context(tenant))
    if fmt is OutputFormat.table:
        attempts = [
            {"channel": d["channel"], "state": d["state"], **a}
            for d in row["deliveries"]
            for a in d["log"]
        ]
        render(attempts, fmt, title=f"Alert {alert}: {row['rule']} {row['state']}")
        return
    render([row], fmt)


def alerts_ack(
    alert: Annotated[int, typer.Argument(help="The alert's id (see `gnomon alerts`).")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Acknowledge a firing alert: its repeats and escalation stop; its channels are told."""
    with open_project(project) as app:
        row = app.triggers.acknowledge(alert, ctx=app.context(tenant))
    render([{k: v for k, v in row.items() if k != "deliveries"}], fmt, title="Acknowledged")


def alerts_silence(
    matcher: Annotated[
        list[str],
        typer.Argument(help="Label matchers, all of which must match: rule=x, region!=EU, a=~re."),
    ],
    duration: Annotated[
        str, typer.Option("--for", help="How long: 30m, 2h, 1d (units s, m, h, d, w).")
    ] = "2h",
    comment: Annotated[str, typer.Option("--comment", help="Why (shown in listings).")] = "",
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Silence alerts whose labels match: they still fire and resolve, but nobody is told."""
    try:
        span = parse_duration(duration)
    except ValueError as exc:
        raise InvalidInput(f"--for: {exc}.", hint="For example: --for 2h.") from None
    with open_project(project) as app:
        row = app.triggers.silence(matcher, duration=span, comment=comment, ctx=app.context(tenant))
    render([row], fmt, title="Silence")


def alerts_silences(
    active: Annotated[bool, typer.Option("--active", help="Only those in force now.")] = False,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List silences, newest first."""
    with open_project(project) as app:
        rows = app.triggers.silences(ctx=app.context(tenant), active=active)
    render(rows, fmt, title="Silences", empty="No silences.")


def alerts_unsilence(
    silence: Annotated[str, typer.Argument(help="The silence id (`gnomon alerts silences`).")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """End a silence now."""
    with open_project(project) as app:
        row = app.triggers.expire_silence(silence, ctx=app.context(tenant))
    render([row], fmt, title="Silence ended")


def events_send(
    event_type: Annotated[str, typer.Argument(help="The event type, e.g. shop.order.created.")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="""The event's data as JSON: '{"amount": 1200}'.""")
    ] = "{}",
    process: Annotated[
        bool, typer.Option("--process/--no-process", help="Judge the rules on it right away.")
    ] = True,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Send an event to the bus; trigger rules `on: event` judge it."""
    payload = _json_object(data, "--data")
    with open_project(project) as app:
        row = app.triggers.publish(event_type, payload, ctx=app.context(tenant))
        if process:
            row |= app.triggers.process().to_dict()
    render([row], fmt, title="Event sent")


def alerting(
    once: Annotated[
        bool,
        typer.Option("--once", help="One round: judge, move time on, deliver what is due."),
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.01, help="Seconds between looks for new work.")
    ] = 1.0,
    project: ProjectOption = Path(),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Judge trigger rules and deliver their notifications (channels.yaml) until stopped.

    `gnomon serve` does the same beside the API; run this where no API runs, or with --once
    from a scheduler.
    """
    with open_project(project) as app:
        if once:
            rows = asyncio.run(_once(app))
            render(rows, fmt, title="Alerting round")
            return
        stop = asyncio.Event()

        async def main() -> None:
            running = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                running.add_signal_handler(sig, stop.set)
            await app.run_alerting(stop, poll_interval=poll)

        err_console.print("alerting: judging rules and delivering notifications (Ctrl-C stops)")
        asyncio.run(main())
        err_console.print("stopped")


async def _once(app: "Gnomon") -> list[dict[str, Any]]:
    tenants = await asyncio.to_thread(app.tenant_ids)
    loop = TriggerLoop(app.triggers, tenants=lambda: tenants)
    work = await asyncio.to_thread(loop.round, tick=True, kpis=True)
    channels = app.channels()
    try:
        sent = await app.dispatcher(channels).run_once(limit=1000)
    finally:
        for channel in channels.values():
            await channel.aclose()
    return [{**work.to_dict(), **dataclasses.asdict(sent)}]


def register(app: typer.Typer) -> None:
    """Add the command groups to the root app."""
    triggers = typer.Typer(help="Trigger rules: list, show, test one on an event, run them.")
    triggers.command("list")(triggers_list)
    triggers.command("show")(triggers_show)
    triggers.command("test")(triggers_test)
    triggers.command("run")(triggers_run)
    app.add_typer(triggers, name="triggers")
    alerts = typer.Typer(help="Alerts raised by trigger rules, and silences.")
    alerts.callback(invoke_without_command=True)(alerts_list)
    alerts.command("list")(alerts_list)
    alerts.command("show")(alerts_show)
    alerts.command("ack")(alerts_ack)
    alerts.command("silence")(alerts_silence)
    alerts.command("silences")(alerts_silences)
    alerts.command("unsilence")(alerts_unsilence)
    app.add_typer(alerts, name="alerts")
    app.command("alerting")(alerting)
    events = typer.Typer(help="Events for trigger rules.")
    events.command("send")(events_send)
    app.add_typer(events, name="events")
