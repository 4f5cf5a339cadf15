"""The thread governor: fair shares from /proc/stat, on fakes with known numbers and once
against a real CPU hog."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sentinet.runtime import threads
from sentinet.runtime.threads import ThreadGovernor, busy_seconds, fair_threads

TICK = os.sysconf("SC_CLK_TCK")


def stat_file(path: Path, per_cpu: list[tuple[int, int]]) -> Path:
    """A /proc/stat with (busy ticks, idle ticks) per CPU, busy split over user and system."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    for i, (busy, idle) in enumerate(per_cpu):
        lines.append(f"cpu{i} {busy - busy // 3} 0 {busy // 3} {idle} 0 0 0 0 0 0")
    lines.append("intr 1 2 3")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


@pytest.mark.parametrize("others, wall, cores, most, expected", [
    (0.0, 1.0, 2, 2, 2),    # quiet machine: every core
    (1.0, 1.0, 2, 2, 1),    # another process on one of two cores
    (2.0, 1.0, 2, 2, 1),    # both cores taken: still one thread, never zero
    (0.4, 1.0, 2, 2, 2),    # a light neighbour (40% of a core) leaves 1.6 → 2
    (0.7, 1.0, 2, 2, 2),    # under 3/4 of a core busy: still both
    (0.8, 1.0, 2, 2, 1),
    (2.5, 1.0, 8, 4, 4),    # capped at torch's default
    (3.0, 1.0, 8, 8, 5),
    (-0.2, 1.0, 2, 2, 2),   # own time read a tick late: never more than the cores
    (1.0, 0.0, 2, 2, 2),    # no time passed: keep the most
])
def test_fair_threads(others, wall, cores, most, expected):
    assert fair_threads(others, wall, cores, most) == expected


def test_busy_seconds_counts_only_the_allowed_cpus(tmp_path):
    stat = stat_file(tmp_path / "stat", [(300, 100), (50, 350), (9000, 0)])
    assert busy_seconds({0, 1}, stat) == pytest.approx(350 / TICK)
    assert busy_seconds({2}, stat) == pytest.approx(9000 / TICK)
    assert busy_seconds({7}, stat) is None  # none of ours listed
    assert busy_seconds({0}, tmp_path / "missing") is None
    (tmp_path / "bad").write_text("cpu0 1 2 x 4\n", encoding="ascii")
    assert busy_seconds({0}, tmp_path / "bad") is None


def test_governor_follows_the_other_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: {0, 1})
    clock, own, chosen = [0.0], [0.0], []
    stat = stat_file(tmp_path / "stat", [(0, 0), (0, 0)])
    gov = ThreadGovernor(chosen.append, interval=1.0, stat=stat, clock=lambda: clock[0], own=lambda: own[0])
    assert chosen == [2]

    def second(busy_per_cpu: float, own_cpu: float) -> None:
        """One second passes: the machine used busy_per_cpu of each CPU, we used own_cpu."""
        lines = stat.read_text(encoding="ascii").splitlines()
        before = [int(line.split()[1]) + int(line.split()[3]) for line in lines[1:3]]
        stat_file(stat, [(b + int(busy_per_cpu * TICK), 0) for b in before])
        clock[0] += 1.0
        own[0] += own_cpu
        gov.tick()

    second(1.0, 1.0)   # we use one core, another process the other
    assert chosen == [2, 1] and gov.threads == 1
    clock[0] += 0.5
    gov.tick()          # within the interval: not re-read
    assert chosen == [2, 1]
    second(0.5, 1.0)   # only we run: back to two
    assert chosen == [2, 1, 2]
    assert gov.changes == 2 and gov.fewest == 1
    assert gov.describe() == "1-2 threads, fewer while other processes were busy"


def test_governor_without_proc_stat_keeps_its_count(tmp_path):
    chosen = []
    gov = ThreadGovernor(chosen.append, most=1, stat=tmp_path / "none", interval=0.0)
    gov.tick()
    assert chosen == [1] and gov.describe() == "1 thread"


def cpu_ticks(pid: int) -> int:
    """User and system CPU ticks a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of the whole line


@pytest.mark.skipif(not Path("/proc/stat").is_file() or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux /proc/stat and 2 or more CPUs")
def test_governor_sees_a_real_cpu_hog():
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        chosen = []
        gov = ThreadGovernor(chosen.append, interval=0.5)
        deadline = time.monotonic() + 120  # a safety net: the hog spins within a second
        while cpu_ticks(hog.pid) < TICK // 10:  # the hog spinning (its own 0.1 s of CPU), not starting
            assert time.monotonic() < deadline, "the hog never ran"
            time.sleep(0.05)
        gov._mark = gov._read()
        time.sleep(1.0)
        gov.tick()
        assert gov.threads <= gov.cores - 1, (chosen, gov.cores)
    finally:
        hog.kill()
        hog.wait()
