"""Retries of transient failures only: a lost connection to ClickHouse, S3, MLflow or the Spark driver,
or a server refusing work under load, is retried with exponential backoff; anything else (bad data,
a failed check, a bug, a syntax error) fails the step at once, since running it again would fail the same way."""

import functools
import inspect
import re
from contextlib import contextmanager

import dagster as dg

MAX_RETRIES = 3
BACKOFF_SECONDS = 5  # 5, 10, 20 s: long enough for a restarting server or a throttled bucket

# exception types (by name: their libraries are imported where they are used) that are transient
_TRANSIENT_TYPES = {
    "OperationalError",  # clickhouse_connect: the server could not be reached or dropped the connection
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",  # botocore
    "NewConnectionError", "ProtocolError", "MaxRetryError",  # urllib3
    "Py4JNetworkError",  # the Spark driver's gateway
}
# text of errors that cross a process boundary (dbt's, delta-rs', Spark's) as a message only
_TRANSIENT_TEXT = re.compile(
    r"Connection refused|Connection reset|connection aborted|Broken pipe|timed out|Temporary failure in name "
    r"resolution|Code: (159|202|209|210|241)\b|TOO_MANY_SIMULTANEOUS_QUERIES|SOCKET_TIMEOUT|NETWORK_ERROR|"
    r"MEMORY_LIMIT_EXCEEDED|SlowDown|RequestTimeout|ServiceUnavailable|503 Service Unavailable|UNAVAILABLE",
    re.IGNORECASE)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) is a connection, timeout or overload error."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ConnectionError, TimeoutError)) or type(error).__name__ in _TRANSIENT_TYPES:
            return True
        if _TRANSIENT_TEXT.search(str(error)):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def transient_retries(context):
    """Turns a transient error inside the block into a Dagster retry of the step (with backoff)."""
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as e:
        if not is_transient(e):
            raise
        attempt = getattr(context, "retry_number", 0)
        wait = BACKOFF_SECONDS * 2 ** attempt
        context.log.warning(f"transient error (attempt {attempt + 1} of {MAX_RETRIES + 1}), retrying in {wait} s: "
                            f"{type(e).__name__}: {str(e)[:300]}")
        raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=wait) from e


def retry_transient(fn):
    """Decorates an asset's compute function (plain or generator) with ``transient_retries``."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(context, *args, **kwargs):
            with transient_retries(context):
                yield from fn(context, *args, **kwargs)
        return generator

    @functools.wraps(fn)
    def plain(context, *args, **kwargs):
        with transient_retries(context):
            return fn(context, *args, **kwargs)
    return plain
