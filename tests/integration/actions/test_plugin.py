"""Plugin channels: real subprocesses running a plugin module written for each test.

The plugin module lives in ``tmp_path``, which is put on ``PYTHONPATH`` for the child only (the
test process never imports it), as a user's package on a deployment's path would be.
"""

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gnomon.actions import build_channel
from gnomon.actions.protocols import Channel
from tests.unit.actions.samples import notification

pytestmark = pytest.mark.anyio

PLUGIN = '''
import asyncio
import json
import os
import subprocess
import sys
import time

from gnomon.actions import PluginRetry


def record(notification, config):
    """Writes what it was given, with noise on stdout from Python, the fd and a child process."""
    print("hello from the plugin", flush=True)
    print("{\\"outcome\\": \\"failed\\", \\"error\\": \\"forged\\"}", flush=True)
    os.write(1, b"raw bytes on fd 1\\n")
    subprocess.run(["echo", "a child process writes too"], check=True)
    sys.stderr.write("and on stderr\\n")
    with open(config["out"], "w") as out:
        json.dump(
            {"notification": notification, "config": config, "env": dict(os.environ)}, out
        )
    return {"reference": "TICKET-" + notification["key"], "url": "https://tickets.test/1"}


def nothing(notification, config):
    return None


def boom(notification, config):
    raise ValueError("the tracker refused token " + config["token"])


def busy(notification, config):
    raise PluginRetry("the tracker is in maintenance", retry_after_s=45)


def sleepy(notification, config):
    with open(config["pids"], "w") as out:
        helper = subprocess.Popen(["sleep", "300"])
        out.write(f"{os.getpid()} {helper.pid}")
    time.sleep(60)
    with open(config["done"], "w") as out:
        out.write("finished")


def leaves_a_process(notification, config):
    helper = subprocess.Popen(["sleep", "300"])  # holds the output pipes open
    with open(config["pids"], "w") as out:
        out.write(f"{os.getpid()} {helper.pid}")
    return {}


def hog(notification, config):
    block = bytearray(config["mb"] * 1024 * 1024)
    return {"allocated": len(block)}


def spin(notification, config):
    while True:
        pass


def self_kill(notification, config):
    os.kill(os.getpid(), 9)


def not_a_dict(notification, config):
    return ["a", "list"]


def exits(notification, config):
    sys.exit(3)


LOADED = True
'''

DIST_INFO = {
    "METADATA": "Metadata-Version: 2.1\nName: acme-actions\nVersion: 1.0\n",
    "entry_points.txt": "[gnomon.actions]\nacme-record = acme_actions:record\n",
}


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plugin module and an installed distribution declaring an entry point, on PYTHONPATH."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "acme_actions.py").write_text(PLUGIN, encoding="utf-8")
    dist = root / "acme_actions-1.0.dist-info"
    dist.mkdir()
    for name, content in DIST_INFO.items():
        (dist / name).write_text(content, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(root))
    monkeypatch.setenv("GNOMON_TEST_DB_PASSWORD", "must-not-leak")
    monkeypatch.setenv("ACME_REGION", "eu-1")
    return tmp_path


def plugin(function: str, *, entry_point: bool = False, **spec: object) -> Channel:
    target = {"entry_point": function} if entry_point else {"callable": f"acme_actions:{function}"}
    return build_channel("tickets", {"kind": "plugin", **target, **spec})


def gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


def wait_until_gone(pid: int) -> bool:
    """Waits for the kernel to finish a kill; the condition decides, not the clock."""
    for _ in range(200):
        if gone(pid):
            return True
        time.sleep(0.05)
    return gone(pid)


async def test_a_plugin_runs_with_the_notification_and_its_config(plugins: Path) -> None:
    out = plugins / "received.json"
    channel = build_channel(
        "tickets",
        {
            "kind": "plugin",
            "callable": "acme_actions:record",
            "config": {"out": str(out), "token": "${ACME_TOKEN}", "project": "OPS"},
            "pass_env": ["ACME_REGION"],
        },
        env={"ACME_TOKEN": "tok-abcdef"},
    )
    assert channel.endpoint == "plugin:acme_actions:record"

    attempt = await channel.send(notification())
    await channel.aclose()

    assert attempt.outcome == "delivered", attempt
    assert attempt.reference == "TICKET-ntf-0001"
    assert attempt.error is None
    assert json.loads(attempt.response_excerpt)["url"] == "https://tickets.test/1"
    received = json.loads(out.read_text(encoding="utf-8"))
    assert received["notification"] == json.loads(json.dumps(notification().to_dict()))
    assert received["config"] == {"out": str(out), "token": "tok-abcdef", "project": "OPS"}
    env = received["env"]
    assert env["ACME_REGION"] == "eu-1", "pass_env lets a variable through"
    assert "GNOMON_TEST_DB_PASSWORD" not in env, "the dispatcher's environment stays out"


async def test_noise_on_stdout_does_not_break_the_answer(plugins: Path) -> None:
    """The plugin prints text, a forged answer, raw bytes on fd 1, and a child's output."""
    attempt = await plugin("record", config={"out": str(plugins / "r.json")}).send(notification())
    assert attempt.outcome == "delivered", attempt
    assert attempt.reference == "TICKET-ntf-0001"


async def test_returning_none_is_delivered_without_a_reference(plugins: Path) -> None:
    attempt = await plugin("nothing").send(notification())
    assert attempt.outcome == "delivered"
    assert attempt.reference is None
    assert attempt.response_excerpt == ""


async def test_an_entry_point_is_found_in_its_group(plugins: Path) -> None:
    channel = plugin("acme-record", entry_point=True, config={"out": str(plugins / "r.json")})
    assert channel.endpoint == "plugin:acme-record"
    attempt = await channel.send(notification(key="k-2"))
    assert attempt.outcome == "delivered", attempt
    assert attempt.reference == "TICKET-k-2"


async def test_an_unknown_entry_point_fails_naming_the_installed_ones(plugins: Path) -> None:
    attempt = await plugin("jira", entry_point=True).send(notification())
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "'jira'" in attempt.error
    assert "gnomon.actions" in attempt.error
    assert "acme-record" in attempt.error


async def test_an_exception_fails_with_its_last_line_and_secrets_masked(plugins: Path) -> None:
    channel = build_channel(
        "tickets",
        {"kind": "plugin", "callable": "acme_actions:boom", "config": {"token": "${TOKEN}"}},
        env={"TOKEN": "tok-98765"},
    )
    attempt = await channel.send(notification())
    assert attempt.outcome == "failed"
    assert attempt.error == "ValueError: the tracker refused token ***"
    assert "tok-98765" not in attempt.response_excerpt
    assert "Traceback" in attempt.response_excerpt, "the traceback is kept for debugging"


async def test_plugin_retry_means_retry_with_its_delay(plugins: Path) -> None:
    attempt = await plugin("busy").send(notification())
    assert attempt.outcome == "retry"
    assert attempt.transient
    assert attempt.retry_after_s == 45
    assert attempt.error is not None
    assert "maintenance" in attempt.error


async def test_a_timeout_kills_the_process_group_and_retries(plugins: Path) -> None:
    pids, done = plugins / "pids", plugins / "done"
    channel = plugin("sleepy", timeout_s=1, config={"pids": str(pids), "done": str(done)})
    attempt = await channel.send(notification())

    assert attempt.outcome == "retry"
    assert attempt.error is not None
    assert "timeout_s = 1 s" in attempt.error
    host, helper = map(int, pids.read_text(encoding="ascii").split())
    assert gone(host), "the host is killed and reaped before send returns"
    assert wait_until_gone(helper), "a process the plugin started is killed with it"
    assert not done.exists(), "the plugin was stopped, not allowed to finish"


async def test_nothing_a_plugin_starts_outlives_its_attempt(plugins: Path) -> None:
    pids = plugins / "pids"
    attempt = await plugin("leaves_a_process", config={"pids": str(pids)}).send(notification())
    assert attempt.outcome == "delivered", attempt
    _, helper = map(int, pids.read_text(encoding="ascii").split())
    assert wait_until_gone(helper)


async def test_exceeding_the_memory_limit_fails_naming_memory_mb(plugins: Path) -> None:
    attempt = await plugin("hog", memory_mb=48, config={"mb": 96}).send(notification())
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "memory_mb = 48" in attempt.error
    assert "MemoryError" in attempt.error


async def test_the_same_plugin_runs_with_more_memory(plugins: Path) -> None:
    """The limit is what stopped the plugin above: with room for the block it finishes."""
    attempt = await plugin("hog", memory_mb=256, config={"mb": 96}).send(notification())
    assert attempt.outcome == "delivered", attempt
    assert attempt.response_excerpt == '{"allocated": 100663296}'


async def test_a_killed_process_fails_naming_the_signal_and_memory_mb(plugins: Path) -> None:
    attempt = await plugin("self_kill", memory_mb=300).send(notification())
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert signal.SIGKILL.name in attempt.error
    assert "memory_mb = 300" in attempt.error


@pytest.mark.parametrize(
    ("function", "words"),
    [
        ("not_a_dict", "returned list, not a dict or None"),
        ("exits", "SystemExit: 3"),
        ("no_such_function", "could not be loaded: AttributeError"),
    ],
)
async def test_other_mistakes_fail(plugins: Path, function: str, words: str) -> None:
    attempt = await plugin(function).send(notification())
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert words in attempt.error


async def test_a_missing_module_fails_to_load(plugins: Path) -> None:
    channel = build_channel("t", {"kind": "plugin", "callable": "no_such_module:act"})
    attempt = await channel.send(notification())
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "ModuleNotFoundError" in attempt.error


async def test_the_test_process_never_imports_the_plugin(plugins: Path) -> None:
    attempt = await plugin("nothing").send(notification())
    assert attempt.outcome == "delivered"
    assert "acme_actions" not in sys.modules


async def test_a_cancelled_send_kills_the_process_group(plugins: Path) -> None:
    pids, done = plugins / "pids", plugins / "done"
    channel = plugin("sleepy", timeout_s=120, config={"pids": str(pids), "done": str(done)})
    task = asyncio.ensure_future(channel.send(notification()))
    for _ in range(400):
        if pids.exists() and pids.read_text(encoding="ascii"):
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    host, helper = map(int, pids.read_text(encoding="ascii").split())
    assert wait_until_gone(host)
    assert wait_until_gone(helper)
    assert not done.exists()


def test_the_host_stops_a_spinning_plugin_at_its_cpu_limit(plugins: Path) -> None:
    """The kernel's limit holds even with no parent to kill the process (read as ``retry``)."""
    request = {
        "plugin": {"callable": "acme_actions:spin"},
        "notification": notification().to_dict(),
        "config": {},
        "memory_mb": 64,
        "cpu_s": 1,
    }
    done = subprocess.run(
        [sys.executable, "-m", "gnomon.actions._plugin_host"],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGXCPU
    assert done.stdout == b""
