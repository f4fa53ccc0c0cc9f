#!/usr/bin/env python3
"""Run doxygen, then drop the man pages it makes for struct fields ("msgs.3",
"pending.3"): names outside the streamlog_/STREAMLOG_ prefix would clash with
other packages' pages in man3.
usage: run_doxygen.py DOXYGEN DOXYFILE MAN3_DIR"""
import os
import subprocess
import sys

doxygen, doxyfile, man3 = sys.argv[1:4]
subprocess.run([doxygen, doxyfile], check=True)
for name in os.listdir(man3):
    if not name.lower().startswith("streamlog"):
        os.remove(os.path.join(man3, name))
