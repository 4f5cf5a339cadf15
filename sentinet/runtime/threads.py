"""CPU threads that share a busy machine fairly.

Two measures, because torch's OpenMP threads meet at a barrier after every op:

- ``quiet_spin()``: an idle thread spins ~300,000 times at a barrier before it sleeps
  (libgomp's default), holding the core its descheduled partner needs. On a busy 2-core
  machine a 2-thread forward pass ran 20x slower than a 1-thread one; a BiGRU epoch took 357 s
  instead of ~10 s. 10,000 spins cost ~6% on an idle machine and do not collapse on a busy one
  (never spinning, OMP_WAIT_POLICY=PASSIVE, cost 40%). libgomp reads it once, when torch
  loads, so every command sets it before importing torch.
- ``ThreadGovernor``: even with short spins, N processes with C threads each on C cores wait
  on each other's descheduled threads. Every second or so the governor reads how much CPU the
  *other* processes used (``/proc/stat`` minus this process's own time) and gives torch the
  cores they left: C threads on a quiet machine, 1 when the others fill it. Linux only;
  elsewhere the count stays as it was.

No torch import here: the caller passes ``torch.set_num_threads``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


SPINCOUNT = "10000"
PROC_STAT = Path("/proc/stat")


def quiet_spin() -> None:
    """Short OpenMP spins, unless the user tuned OpenMP's waiting already."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", SPINCOUNT)


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (its affinity mask, e.g. under taskset or a cgroup)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def busy_seconds(cpus: set[int], stat: Path = PROC_STAT) -> float | None:
    """CPU seconds all processes have used on ``cpus`` since boot (the per-CPU lines, so a
    container on a bigger host counts only its own CPUs), or None where /proc/stat is missing
    or unreadable."""
    try:
        lines = stat.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    total, seen = 0, 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        try:
            ticks = [int(x) for x in rest.split()]
        except ValueError:
            return None
        if len(ticks) < 4:
            return None
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        total += sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal
        seen += 1
    return total / os.sysconf("SC_CLK_TCK") if seen else None


def own_seconds() -> float:
    """CPU seconds this process (every thread) has used."""
    t = os.times()
    return t.user + t.system


def fair_threads(others_busy: float, wall: float, cores: int, most: int) -> int:
    """The cores the other processes left free over ``wall`` seconds, as a thread count in
    1..most: 2 cores with another process busy on one → 1 thread. A core counts as taken
    from 3/4 of it busy: with short spins a light neighbour costs less than a lost thread."""
    if wall <= 0:
        return most
    taken = int(max(0.0, others_busy) / wall + 0.25)
    return max(1, min(most, cores - taken))


class ThreadGovernor:
    """Re-chooses the torch thread count from the other processes' CPU use, at most once per
    ``interval`` seconds of wall time; ``tick()`` is cheap enough to call after every batch
    (training subscribes it through callbacks.GovernedThreads, predict calls it between batches)."""

    def __init__(self, set_threads: Callable[[int], None], most: int | None = None,
                 interval: float = 1.0, stat: Path = PROC_STAT,
                 clock: Callable[[], float] = time.monotonic, own: Callable[[], float] = own_seconds):
        self.set_threads, self.interval, self.stat = set_threads, interval, stat
        self.clock, self.own = clock, own
        self.cpus = usable_cpus()
        self.cores = len(self.cpus)
        self.most = min(most or self.cores, self.cores)
        self.threads = self.most
        self.changes, self.fewest = 0, self.most
        self._mark = self._read()
        set_threads(self.threads)

    def _read(self) -> tuple[float, float, float] | None:
        machine = busy_seconds(self.cpus, self.stat)
        return None if machine is None else (self.clock(), machine, self.own())

    def tick(self) -> None:
        if self._mark is None or self.clock() - self._mark[0] < self.interval:
            return
        now = self._read()
        if now is None:
            return
        wall, machine, own = (b - a for a, b in zip(self._mark, now))
        self._mark = now
        threads = fair_threads(machine - own, wall, self.cores, self.most)
        if threads != self.threads:
            self.threads = threads
            self.changes += 1
            self.fewest = min(self.fewest, threads)
            self.set_threads(threads)

    def describe(self) -> str:
        """How many threads ran, for the run's ``machine`` line."""
        if self.fewest == self.most:
            return f"{self.most} thread{'s' if self.most > 1 else ''}"
        return f"{self.fewest}-{self.most} threads, fewer while other processes were busy"
