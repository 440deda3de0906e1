"""One Spark session per process: ``local[*]`` here, a cluster master or Spark Connect in production
(:class:`unmogrowp.config.SparkSettings`: ``UNMOGROWP_SPARK_MASTER``, e.g. ``spark://host:7077`` or
``yarn``, or ``SPARK_REMOTE``, ``sc://host:15002``); by default Spark runs in this process.
"""

from __future__ import annotations

import os
import sys
import threading

from unmogrowp.config import SparkSettings

_lock = threading.Lock()
_session = None


def session_builder(settings: SparkSettings | None = None):
    """The builder of the session ``settings`` describe (default: in-process ``local[*]``), not started:
    Spark Connect when ``remote`` is set (the cluster's own configuration applies: executors, the Delta
    jars), else a master with this process as the driver."""
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    builder = SparkSession.builder.appName("unmogrowp")
    if settings.remote:
        # getOrCreate marks the process Connect-only (pyspark.sql.functions then builds Connect columns),
        # and refuses if a local session runs here: one kind of session per process
        builder = builder.remote(settings.remote)
    else:
        # Configures Spark's children, not this process's settings: the JVM starts its Python UDF
        # workers with PYSPARK_PYTHON, which must be this environment (pandas, pyarrow), not python3.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (builder.master(settings.master)
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.memory", settings.driver_memory)
                   .config("spark.sql.shuffle.partitions", "8")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.driver.extraJavaOptions", "-Dlog4j.rootLogger=ERROR"))
    return builder.config("spark.sql.session.timeZone", "UTC")


def get_spark(settings: SparkSettings | None = None):
    """The shared session (starting one costs ~15 s, so it is reused across assets and tests);
    ``settings`` (default: in-process ``local[*]``) apply when it is started."""
    global _session
    settings = settings or SparkSettings()
    with _lock:
        if _session is not None and not _session_stopped(_session):
            return _session
        _session = session_builder(settings).getOrCreate()
        if not settings.remote:
            _session.sparkContext.setLogLevel("ERROR")
        return _session


def _session_stopped(session) -> bool:
    try:
        return session.sparkContext._jsc is None  # noqa: SLF001  (no public "is stopped" API)
    except Exception:  # Spark Connect sessions have no SparkContext
        return False
