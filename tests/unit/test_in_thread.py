"""Student work in a worker thread hands the heap its thread's allocator arena kept back to the OS."""

from __future__ import annotations

import asyncio
import platform

import psutil
import pytest

from evoforge.graphs.runtime import in_thread


def _fragment(keep: list[bytearray]) -> int:
    blocks = [bytearray(64 * 1024) for _ in range(4000)]  # 256 MB in this thread's malloc arena
    keep.extend(blocks[::50])  # every 50th stays alive, so the arena cannot simply shrink from its top
    return len(blocks)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas and malloc_trim are glibc's")
def test_in_thread_returns_the_result_and_releases_what_the_thread_freed() -> None:
    process, kept = psutil.Process(), []

    async def scenario() -> tuple[int, int, int, int]:
        start = process.memory_info().rss
        await asyncio.to_thread(_fragment, kept)  # what a plain worker thread leaves behind
        plain = process.memory_info().rss
        count = await in_thread(_fragment, kept)
        return start, plain, process.memory_info().rss, count

    start, plain, trimmed, count = asyncio.run(scenario())
    assert count == 4000 and len(kept) == 160
    assert plain - start > 150e6  # the freed blocks stay resident in the arena
    assert trimmed - start < 100e6  # both threads' free blocks went back


def test_in_thread_raises_what_the_work_raised() -> None:
    def fail() -> None:
        raise ValueError("bad chunk")

    with pytest.raises(ValueError, match="bad chunk"):
        asyncio.run(in_thread(fail))
