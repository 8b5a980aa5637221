"""The daemon process tunes the garbage collector (controller.daemon.tune_gc)."""

from __future__ import annotations

import gc

from controller.daemon import GC_THRESHOLDS, tune_gc


def test_the_daemon_process_collects_its_old_generation_rarely() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[2] > before[2]
    finally:
        gc.set_threshold(*before)
