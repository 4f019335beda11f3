"""Replaces one `## ` section of a Markdown file, keeping the others: how bench scripts write
their figures into docs/benchmarks.md without touching each other's."""

import os

HEADER = "# Benchmarks\n\nEvery figure on this page is written by a script in `bench/`; none is typed by hand.\n"


def replace(path, heading, text):
    """Puts `text` (which starts with `heading`) in place of the section `heading`, or appends it."""
    old = open(path).read() if os.path.exists(path) else HEADER
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == heading), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + text.rstrip("\n") + "\n" + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    with open(path, "w") as f:
        f.write(new)
