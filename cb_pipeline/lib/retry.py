"""Retry policy for the assets that do I/O (landing files, the warehouse, the returns folder).

Belongs here: the one `RetryPolicy` those assets share, and `permanent_errors()`, which marks the
failures a retry cannot fix (bad configuration, a refused delivery, a return that has no figures)
as not retryable, so that only transient faults are retried: a warehouse that refuses connections
for a minute, a DuckDB file still locked by a run that is ending, a network share that blinks.
Does not: decide what is transient inside the warehouse wrapper (lib/warehouse.py already retries
connection attempts itself; this is the coarser, whole-step retry on top of it).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from cb_pipeline.lib.settings import ConfigurationError

# Three more attempts, 15 s then 30 s then 60 s (plus jitter): long enough for a PostgreSQL
# fail-over or another process to let go of the DuckDB file, short enough for a nightly run.
IO_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL,
                                 jitter=dg.Jitter.PLUS_MINUS)


def _permanent_types() -> tuple[type[BaseException], ...]:
    # imported lazily: the return renderer imports openpyxl, which this module should not pull in
    from cb_pipeline.bcf_return.render import ReturnNotProduced
    from cb_pipeline.lib.ingest import DeliveryRejected

    return (ConfigurationError, ReturnNotProduced, DeliveryRejected)


@contextmanager
def permanent_errors() -> Iterator[None]:
    """Re-raise errors no retry can fix as a non-retryable `dg.Failure` chained to the original.

    The original stays the cause, so the CLI still finds a ConfigurationError in the chain (exit 2)
    and the UI shows the real message.
    """
    try:
        yield
    except _permanent_types() as exc:
        raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc
