"""One fault in the middle of a stream, and what is measured around it: how long until the
backlog the fault left is processed, then, with the stream stopped and everything settled,
what became of every accepted submission and whether the aggregates equal a rebuild."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.faults.checks import (
    Outcome,
    RebuildComparison,
    compare_with_rebuild,
    outcome,
    wait_settled,
)
from tests.faults.stack import Stack
from tests.faults.stream import SubmissionStream, Template

# Margin over the sweeper's own delay (grace, then the next sweep) for a slow, shared machine.
RECOVERY_MARGIN = 60.0


def recovery_bound(stack: Stack) -> float:
    return stack.config.sweep_grace + stack.config.sweep_interval + RECOVERY_MARGIN


@dataclass
class Result:
    name: str
    fault_seconds: float  # how long the fault itself took (a restart, a kill and a new worker)
    recovered_seconds: float  # from the fault's start until its backlog was processed
    outcome: Outcome
    statuses: dict[int | str, int]
    server_errors: dict[int, int]
    unaccepted: int
    rebuild: RebuildComparison | None

    def summary(self) -> str:
        o = self.outcome
        return (
            f"{self.name}: accepted {o.accepted}, processed {o.processed}, failed {o.failed}, "
            f"lost {len(o.lost)}, duplicated {len(o.duplicated)}, 5xx {self.server_errors}, "
            f"never accepted {self.unaccepted}; fault took {self.fault_seconds:.1f}s, recovered "
            f"{self.recovered_seconds:.1f}s after it began; statuses {self.statuses}"
        )


def run(
    stack: Stack,
    stream: SubmissionStream,
    name: str,
    fault: Callable[[], None],
    before: float = 5.0,
    after: float = 5.0,
    rebuild: bool = True,
) -> Result:
    """Start the fault `before` seconds into the running stream; once it is over, wait for
    everything accepted until then to be processed (the stream going on meanwhile), stream
    `after` seconds more, stop, settle and check."""
    time.sleep(before)
    began = time.monotonic()
    fault()
    over = time.monotonic()
    backlog = stream.accepted()
    wait_settled(stack, backlog, recovery_bound(stack))
    recovered = time.monotonic() - began
    time.sleep(after)
    stream.stop()
    accepted = stream.accepted()
    wait_settled(stack, accepted, recovery_bound(stack))
    return Result(
        name=name,
        fault_seconds=over - began,
        recovered_seconds=recovered,
        outcome=outcome(stack, accepted),
        statuses=stream.statuses(),
        server_errors=stream.server_errors(),
        unaccepted=len(stream.unaccepted()),
        rebuild=compare_with_rebuild(stack) if rebuild else None,
    )


def assert_recovered(result: Result, kinds_failed: int = 0) -> None:
    """Every accepted submission processed exactly once (poison ones failed), no 5xx but 503,
    nothing left unsent, the aggregates equal to a rebuild."""
    print(result.summary())
    o = result.outcome
    assert result.server_errors == {}, result.summary()
    assert result.unaccepted == 0, result.summary()
    assert o.lost == [] and o.duplicated == [], result.summary()
    assert o.waiting == 0 and o.failed == kinds_failed, result.summary()
    assert o.processed == o.accepted - kinds_failed, result.summary()
    assert o.flattened_wrong == [], result.summary()
    assert result.rebuild is not None and result.rebuild.differences == [], (
        result.rebuild.differences[:20] if result.rebuild else None
    )


def new_stream(stack: Stack, pool: list[Template], rate: float = 12) -> SubmissionStream:
    return SubmissionStream(stack, pool, rate=rate).start()
