"""The sweep reads the bench's report and stops at the first saturated rate."""

from bench import rate_sweep

REPORT = """
intake -> dispatch, open model: 50 requests/s offered for 60 s; 170 technicians, 3400 slots
  accepted/s                    48.0   (2880 ok, 0 errors)
  request latency p50           13.8 ms
  request latency p99           66.5 ms
  received->offered p50          9.0 ms (3000 offered)
  received->offered p99         55.0 ms
  CPU s/order dispatch#0        3.01 ms
  CPU s/order store             9.99 ms
"""


def test_a_run_is_read_from_the_bench_report(monkeypatch):
    class Done:
        stdout = REPORT

    monkeypatch.setattr(rate_sweep.subprocess, "run", lambda *a, **k: Done())
    run = rate_sweep.run_once(50)
    assert (run.accepted, run.errors, run.p99_ms, run.offered_p99_ms) == (48.0, 0, 66.5, 55.0)
    assert run.cpu_ms == 3.01 + 9.99
    assert not run.saturated  # 48 of 50 is within 95 %


def test_saturation_is_falling_behind_errors_or_slow_answers():
    base = dict(rate=100.0, accepted=99.0, errors=0, p50_ms=10, p99_ms=100,
                offered_p99_ms=50, cpu_ms=20)
    assert not rate_sweep.Run(**base).saturated
    assert rate_sweep.Run(**{**base, "accepted": 90.0}).saturated
    assert rate_sweep.Run(**{**base, "errors": 1}).saturated
    assert rate_sweep.Run(**{**base, "p99_ms": 1500}).saturated
