"""Starting or adopting a Spark session, and turning Spark's errors into gnomon's kinds.

pyspark enters only through :func:`gnomon.optional.require` and imports inside functions, so
importing :mod:`gnomon.engine` never needs pyspark or Java.

Session policy: the session time zone is UTC (timestamps are stored in UTC and DuckDB's session
is UTC too, so ``date_trunc`` and labels agree), SQL on files (``parquet.`/path```) is off, so a
query can only read the views the engine made, and console progress bars are off.
"""

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from gnomon.engine.errors import EngineUnavailable, QueryError
from gnomon.errors import ConfigError, GnomonError, InternalError
from gnomon.optional import require

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

SESSION_CONF: Final[Mapping[str, str]] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.runSQLOnFiles": "false",
}
"""Settings the engine holds every session it uses to, started or adopted."""
_START_CONF: Final[Mapping[str, str]] = {
    "spark.ui.showConsoleProgress": "false",
}
"""Defaults for a session the engine starts; ``conf`` may override them."""
_JAVA_HINT: Final = (
    "Install a Java 17 runtime (for example: apt-get install openjdk-17-jre-headless) "
    "and put it on PATH or set JAVA_HOME."
)
_OUT_OF_MEMORY: Final = ("java.lang.OutOfMemoryError", "UNABLE_TO_ACQUIRE_MEMORY")
_GONE: Final = ("stopped SparkContext", "SparkContext was shut down", "Connection refused")


def start_session(
    master: str, *, app_name: str, conf: Mapping[str, str]
) -> tuple["SparkSession", bool]:
    """The session for ``master``, and whether this call started it.

    An already running Spark context in this process is reused (Spark allows one per process),
    whatever its master; only a session this call started should be stopped by its caller.

    Raises:
        MissingDependency: pyspark is not installed.
        EngineUnavailable: Java is missing, or Spark could not start or reach the cluster.
    """
    require("pyspark", extra="spark")
    from py4j.protocol import Py4JError
    from pyspark import SparkContext
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # A laptop's host name often resolves to an address Spark cannot bind; local mode
        # needs nothing but the loopback interface.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python work on the executors (scoring series in grouped pandas UDFs) needs this
        # interpreter, with gnomon and its libraries, not whatever "python3" is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    running = SparkContext._active_spark_context is not None  # noqa: SLF001 - no public probe
    if not running:
        _check_java()
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**_START_CONF, **conf, **SESSION_CONF}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except (PySparkException, Py4JError, OSError) as exc:
        raise EngineUnavailable(
            f"Spark could not start with master {master!r}: {first_line(exc)}",
            hint="Check engine.spark.master and that the cluster is reachable; "
            f"locally, check Java. {_JAVA_HINT}",
            master=master,
            engine_message=str(exc).strip(),
        ) from exc
    if running and session.sparkContext.master != master:
        log.warning(
            "reusing the running Spark context on %s instead of %s",
            session.sparkContext.master,
            master,
        )
    prepare_session(session)
    return session, not running


def prepare_session(session: "SparkSession") -> None:
    """Hold the session to :data:`SESSION_CONF`.

    Raises:
        ConfigError: Spark refused one of the settings.
    """
    from pyspark.errors import PySparkException

    for key, value in SESSION_CONF.items():
        try:
            session.conf.set(key, value)
        except PySparkException as exc:
            raise ConfigError(
                f"Spark refused the setting {key}={value}: {first_line(exc)}",
                hint="Use a Spark 4 session whose SQL settings can be changed at run time.",
                setting=key,
            ) from exc


def spark_errors() -> tuple[type[BaseException], ...]:
    """The exception classes :func:`translate` understands (pyspark must be importable)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError, ConnectionError)


def translate(exc: BaseException, sql: str) -> GnomonError:
    """The gnomon error for something Spark raised while planning or running ``sql``.

    Spark's analysis, parse and ANSI runtime errors (bad cast, division by zero …) carry an
    error condition and are the query's fault; errors raised inside tasks arrive wrapped in a
    Java ``SparkException``, so the cause chain is searched for the first such error.
    """
    captured = _captured(exc)
    text = str(captured if captured is not None else exc).strip()
    full = f"{text}\n{exc}"
    if any(marker in full for marker in _OUT_OF_MEMORY):
        return EngineUnavailable(
            f"The query ran out of memory: {first_line(captured or exc)}",
            hint="Filter or aggregate earlier, or give Spark more memory "
            "(spark.driver.memory, spark.executor.memory in engine.spark.conf).",
            engine_message=text,
        )
    if captured is not None:
        condition = captured.getCondition() or ""
        if not condition.startswith("INTERNAL_ERROR"):
            return QueryError(
                f"The query failed: {first_line(captured)}",
                hint="Check table, column and function names and the types compared or cast.",
                engine_message=text,
                condition=condition,
                sql=sql,
            )
    if _is_connection_loss(exc) or any(marker in full for marker in _GONE):
        return EngineUnavailable(
            f"The Spark session is not available: {first_line(exc)}",
            hint="Check that the Spark driver and cluster are running, then retry.",
            engine_message=text,
        )
    return InternalError(
        f"The Spark engine failed: {first_line(captured or exc)}",
        hint="Report this as a bug together with the query.",
        engine_message=text,
        sql=sql,
    )


def first_line(exc: BaseException) -> str:
    """The first non-empty line of the error's text, ending in a full stop."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return line if line.endswith((".", "!", "?")) else line + "."


def _captured(exc: BaseException) -> "CapturedException | None":
    """The first error with a Spark error condition: ``exc`` itself or in its Java causes."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import (
        CapturedException,
        UnknownException,
        convert_exception,
    )

    if isinstance(exc, CapturedException) and not isinstance(exc, UnknownException):
        return exc
    if not isinstance(exc, Py4JJavaError):
        return None
    cause = exc.java_exception
    for _ in range(16):  # cause chains are short; the bound only guards against cycles
        if cause is None:
            return None
        converted = convert_exception(cause)
        if not isinstance(converted, UnknownException):
            return converted
        cause = cause.getCause()
    return None


def _is_connection_loss(exc: BaseException) -> bool:
    from py4j.protocol import Py4JNetworkError

    return isinstance(exc, Py4JNetworkError | ConnectionError)


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return
    if shutil.which("java") is None:
        raise EngineUnavailable(
            "Spark needs Java, and none was found: java is not on PATH and JAVA_HOME is "
            f"{'unset' if not home else 'not a Java installation'}.",
            hint=_JAVA_HINT,
        )


if TYPE_CHECKING:
    from pyspark.errors.exceptions.captured import CapturedException
