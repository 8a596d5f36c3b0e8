"""Group commit on its own: every item written exactly once, each caller gets its own outcome,
and items that arrive while a write is in flight share the next write."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.group_commit import GroupCommit


class Recorder:
    """A write that doubles each item, remembers its batches, and can be held open."""

    def __init__(self, fail_on: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.entered.set()
        assert self.release.wait(30)
        return [ValueError(item) if item in self.fail_on else item * 2 for item in items]


def wait_until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.001)


def submit_all(group: GroupCommit[int, int], items: list[int]) -> dict[int, object]:
    outcomes: dict[int, object] = {}

    def run(item: int) -> None:
        try:
            outcomes[item] = group.submit(item)
        except BaseException as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_a_lone_item_is_written_at_once_by_its_own_thread() -> None:
    write = Recorder()
    group: GroupCommit[int, int] = GroupCommit(write)
    assert group.submit(21) == 42
    assert write.batches == [[21]]


def test_items_arriving_during_a_write_share_the_next_one() -> None:
    write = Recorder()
    write.release.clear()
    group: GroupCommit[int, int] = GroupCommit(write)
    first = threading.Thread(target=group.submit, args=(1,))
    first.start()
    assert write.entered.wait(30)  # the first write is in flight
    waiting = threading.Thread(target=lambda: submit_all(group, [2, 3, 4]))
    waiting.start()
    wait_until(lambda: len(group._queue) == 3)
    write.release.set()
    first.join(30)
    waiting.join(30)
    assert write.batches[0] == [1]
    assert sorted(write.batches[1]) == [2, 3, 4] and len(write.batches) == 2


def test_one_refused_item_fails_only_its_own_caller() -> None:
    write = Recorder(fail_on=frozenset({3}))
    write.release.clear()
    group: GroupCommit[int, int] = GroupCommit(write)
    first = threading.Thread(target=group.submit, args=(1,))
    first.start()
    assert write.entered.wait(30)
    outcomes: dict[int, object] = {}
    waiting = threading.Thread(target=lambda: outcomes.update(submit_all(group, [2, 3, 4])))
    waiting.start()
    wait_until(lambda: len(group._queue) == 3)
    write.release.set()
    first.join(30)
    waiting.join(30)
    assert outcomes[2] == 4 and outcomes[4] == 8
    assert isinstance(outcomes[3], ValueError)


def test_a_write_that_raises_fails_every_caller_of_that_write_and_the_next_still_runs() -> None:
    calls: list[list[int]] = []

    def broken(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("database gone")
        return [item for item in items]

    group: GroupCommit[int, int] = GroupCommit(broken)
    with pytest.raises(ConnectionError):
        group.submit(1)
    assert group.submit(2) == 2  # the group is not left "writing"


def test_a_write_with_the_wrong_number_of_outcomes_is_an_error_for_its_callers() -> None:
    group: GroupCommit[int, int] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="outcomes"):
        group.submit(1)


@settings(max_examples=25, deadline=None)
@given(
    items=st.lists(
        st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12, unique=True
    ),
    max_items=st.integers(min_value=1, max_value=5),
    fail_on=st.frozensets(st.integers(min_value=0, max_value=10_000), max_size=3),
)
def test_every_item_is_written_exactly_once_and_answered_with_its_own_outcome(
    items: list[int], max_items: int, fail_on: frozenset[int]
) -> None:
    write = Recorder(fail_on=fail_on)
    group: GroupCommit[int, int] = GroupCommit(write, max_items=max_items)
    outcomes = submit_all(group, items)
    written = [item for batch in write.batches for item in batch]
    assert sorted(written) == sorted(items)
    assert all(len(batch) <= max_items for batch in write.batches)
    for item in items:
        if item in fail_on:
            assert isinstance(outcomes[item], ValueError)
        else:
            assert outcomes[item] == item * 2
