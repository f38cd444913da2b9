"""Wall time and peak memory of a command in a child process, measured from outside.

`ru_maxrss` is no good for this on Linux: a child started from a large parent inherits the parent's high-water
mark at fork/exec, so a benchmark that built its data in memory first would report that. Here the child's
process tree (the child and every process it starts, e.g. annotate's workers) is sampled with psutil every
0.1 s: the peak resident set of any one process and the peak of their sum. A spike shorter than the interval can
be missed.
"""

from __future__ import annotations

import subprocess
import threading
import time

import psutil

__all__ = ["run_measured"]


def run_measured(
    command: list[str], env: dict[str, str] | None = None, interval: float = 0.1
) -> dict[str, float | str]:
    """Run `command`; return wall_s, peak_rss_mib (largest single process), peak_rss_sum_mib (the tree) and
    its stdout. Raises CalledProcessError if it fails."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak_one = peak_sum = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_one, peak_sum
        root = psutil.Process(child.pid)
        while not done.is_set():
            try:
                rss = [p.memory_info().rss for p in [root, *root.children(recursive=True)]]
            except psutil.Error:  # a process ended between listing and reading: take the next sample
                rss = []
            if rss:
                peak_one, peak_sum = max(peak_one, max(rss)), max(peak_sum, sum(rss))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command, stdout)
    return {"wall_s": wall, "peak_rss_mib": peak_one / 2**20, "peak_rss_sum_mib": peak_sum / 2**20, "stdout": stdout}
