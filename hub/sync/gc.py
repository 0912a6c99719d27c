"""Garbage-collector settings for bulk work.

A sync allocates millions of short-lived dicts and models, and CPython's default
collector thresholds (a young-generation pass every 700 net allocations, a full pass
over every object now and then) make it walk the interpreter's whole long-lived heap,
the imported modules, SQLAlchemy's and pydantic's caches, again and again: about a tenth
of a sync's CPU in the benchmark. For the length of a run the objects alive at its start
are moved out of the collector's sight (:func:`gc.freeze`) and collections are made
rarer; nothing is disabled, so reference cycles made during the run are still freed.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: young-generation threshold and the two older ones during bulk work (defaults 700, 10, 10)
BULK_THRESHOLDS = (50_000, 20, 100)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Tune the collector for the duration of the block (re-entrant, thread-safe)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*BULK_THRESHOLDS)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                gc.unfreeze()
                _saved = None
