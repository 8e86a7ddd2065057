"""The full bench's reference of the machine's speed: CPU time of a fixed loop, not wall time."""

from __future__ import annotations

from tools.bench import __main__ as bench


def test_the_cpu_reference_counts_cpu_time_not_time_spent_waiting(monkeypatch):
    real_loop = bench.cpu_reference(repeat=1)
    assert 0 < real_loop < 30
    # A statement that only waits (select on no file: a pause the tests' sleep patch does not
    # touch) costs almost no CPU: the reference must not count the wait.
    monkeypatch.setattr(bench, "CPU_REFERENCE_LOOP", "__import__('select').select([], [], [], 0.2)")
    assert bench.cpu_reference(repeat=2) < 0.05
