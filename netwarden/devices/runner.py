"""Run one job per device on a bounded thread pool; one device's failure never stops the others."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 8


def run_each(
    items: Sequence[T],
    job: Callable[[T], R],
    on_error: Callable[[T, Exception], R],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[R], None] | None = None,
) -> list[R]:
    """``job(item)`` for every item, at most ``concurrency`` at once; results in input order.

    Jobs report expected failures in their result. An unexpected exception (a bug)
    becomes ``on_error(item, exc)`` for that item alone, logged with its traceback.
    ``on_done`` is called in the caller's thread as each result arrives (progress).
    """
    if not items:
        return []
    results: dict[int, R] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:
        futures = {pool.submit(job, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                logger.exception("unexpected error on %r", items[index])
                result = on_error(items[index], exc)
            results[index] = result
            if on_done is not None:
                on_done(result)
    return [results[i] for i in range(len(items))]
