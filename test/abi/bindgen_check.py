#!/usr/bin/env python3
"""Run Rust's bindgen on streamlog.h (as a binding author would) and check that
nothing is dropped: every integer macro becomes a constant (an expression
such as ((int64_t)1 << 30) would not), every enum a type, every struct and
function a declaration. Exits 77 (skip) without bindgen.

    bindgen_check.py streamlog.h INCLUDE_DIR...
"""
import re
import shutil
import subprocess
import sys

header, includes = sys.argv[1], sys.argv[2:]
bindgen = shutil.which("bindgen")
if not bindgen:
    print("skipped: bindgen is missing (Debian: apt-get install bindgen)")
    sys.exit(77)
out = subprocess.run([bindgen, header, "--", *[f"-I{d}" for d in includes]], capture_output=True, text=True,
                     check=True).stdout
text = open(header).read()

expected = {
    "constant": [n for n in re.findall(r"^#define (STREAMLOG_\w+)\s+\S", text, re.M) if n != "STREAMLOG_H"],
    "enum": re.findall(r"^enum (streamlog_\w+) \{", text, re.M),
    "struct": re.findall(r"^typedef struct (streamlog_\w+) \{", text, re.M),
    "function": re.findall(r"^\s*[\w ]+?\**\s*\b(streamlog_\w+)\(", text, re.M),
}
# bindgen formats its output with rustfmt when it finds one (Debian's bindgen does
# not depend on it): spacing differs between the two forms
patterns = {
    "constant": r"pub const {}\s*:",
    "enum": r"pub type {}\s*=",
    "struct": r"pub struct {}\s*\{{",
    "function": r"pub fn {}\s*\(",
}
missing = []
for kind, names in expected.items():
    for name in names:
        if not re.search(patterns[kind].format(re.escape(name)), out):
            missing.append(f"{kind} {name}")
counts = ", ".join(f"{len(v)} {k}s" for k, v in expected.items())
if missing:
    print(f"bindgen dropped or changed: {', '.join(missing)} (of {counts})")
    sys.exit(1)
if min(len(v) for v in expected.values()) == 0:
    print(f"found too little in {header} ({counts}): has its form changed?")
    sys.exit(1)
print(f"bindgen kept all of {counts}")
