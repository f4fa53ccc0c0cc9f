"""The multiprocessing and asyncio examples, run for real."""
import asyncio
import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

import asyncio_tail  # noqa: E402
import streamlog  # noqa: E402
import work_queue  # noqa: E402


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_work_queue_with_worker_processes(tmp_path, start_method, request):
    if start_method == "fork":
        request.getfixturevalue("fork_safe_runtime")
    njobs, nworkers = 200, 3
    per_worker = work_queue.run(str(tmp_path / "store"), njobs, nworkers, start_method)
    everything = sorted(seq for seqs in per_worker for seq in seqs)
    # each job done once, by one of the workers
    assert everything == list(range(1, njobs + 1))
    with streamlog.open(str(tmp_path / "store")) as store:
        jobs = store.channel("jobs")
        # the group's state survived its members closing: nothing left to deliver
        with jobs.subscribe(durable="billing", queue="workers") as sub:
            assert sub.next(timeout=0) is None


def test_asyncio_receives_through_fileno(tmp_path):
    with streamlog.open(str(tmp_path / "store")) as store:
        ch = store.channel("events", create=True)
        with ch.subscribe(start="first") as sub:
            ch.append(b"already there")

            def writer():
                for i in range(50):
                    ch.append(f"event {i}")

            t = threading.Thread(target=writer)
            t.start()
            got = asyncio.run(asyncio.wait_for(asyncio_tail.receive(sub, 51), timeout=60))
            t.join()
    assert [m.data for m in got] == [b"already there"] + [f"event {i}".encode() for i in range(50)]
