"""Fixtures shared by the package's tests."""
import os

import pytest


@pytest.fixture
def fork_safe_runtime():
    """Skips a test that forks from a multi-threaded process when a sanitizer's runtime is
    preloaded (meson's sanitized builds): the runtime is not fork-safe. Seen under
    AddressSanitizer: a thread of the forked child waited for ever on an allocator lock that
    another thread of the parent held at the fork. test/subs skips its fork tests there too."""
    preload = os.environ.get("LD_PRELOAD", "")
    for runtime, name in (("libasan", "AddressSanitizer"), ("libtsan", "ThreadSanitizer")):
        if runtime in preload:
            pytest.skip(f"forks from a multi-threaded process, which {name}'s runtime does not survive")
