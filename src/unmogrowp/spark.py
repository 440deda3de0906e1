"""One Spark session per process: ``local[*]`` here, a cluster master or Spark Connect in production.

``UNMOGROWP_SPARK_MASTER`` (e.g. ``spark://host:7077`` or ``yarn``) or ``SPARK_REMOTE``
(``sc://host:15002``) select the cluster; by default Spark runs in this process.
"""

from __future__ import annotations

import os
import sys
import threading

_lock = threading.Lock()
_session = None


def get_spark():
    """The shared session (starting one costs ~15 s, so it is reused across assets and tests)."""
    global _session
    from pyspark.sql import SparkSession

    with _lock:
        if _session is not None and not _session_stopped(_session):
            return _session
        remote = os.environ.get("SPARK_REMOTE")
        builder = SparkSession.builder.appName("unmogrowp")
        if remote:
            builder = builder.remote(remote)
        else:
            # Python UDF workers run in this environment (pandas, pyarrow), not the system's python3
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = (builder.master(os.environ.get("UNMOGROWP_SPARK_MASTER", "local[*]"))
                       .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                       .config("spark.driver.memory", os.environ.get("UNMOGROWP_SPARK_DRIVER_MEMORY", "6g"))
                       .config("spark.sql.shuffle.partitions", "8")
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                       .config("spark.driver.extraJavaOptions", "-Dlog4j.rootLogger=ERROR"))
        builder = builder.config("spark.sql.session.timeZone", "UTC")
        _session = builder.getOrCreate()
        if not remote:
            _session.sparkContext.setLogLevel("ERROR")
        return _session


def _session_stopped(session) -> bool:
    try:
        return session.sparkContext._jsc is None  # noqa: SLF001  (no public "is stopped" API)
    except Exception:  # Spark Connect sessions have no SparkContext
        return False
