#!/usr/bin/env python3
"""meson test --suite python: the package's pytest suite, or exit 77 (skip) without pytest."""
import os
import sys

try:
    import pytest
except ImportError:
    print("skipped: pytest is missing (Debian: apt-get install python3-pytest)")
    sys.exit(77)

# guarded: multiprocessing's "spawn" children import this file again
if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.exit(pytest.main([os.path.join(here, "tests"), "-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
