#!/usr/bin/env python3
"""The layering rule of src/, checked: `make lint` runs this.

The layers are read from the table in src/lib.rs's opening comment (the one
place they are written down). Each top-level module of src/ may use modules
of its own layer or of the layers below it, never one above, and the uses
must not form a circle. Uses are the `crate::NAME` paths in each file, in
`use` lines or inline. Prints each violation and exits 1; prints a summary
and exits 0 when the rule holds.

    python3 tests/support/layers.py [SRC_DIR]
"""
import os
import re
import sys


def modules(src):
    names = set()
    for entry in os.listdir(src):
        path = os.path.join(src, entry)
        if entry.endswith(".rs") and entry not in ("main.rs", "lib.rs"):
            names.add(entry[:-3])
        elif os.path.isdir(path):
            names.add(entry)
    return names


def layers(src, known):
    text = open(os.path.join(src, "lib.rs"), encoding="utf-8").read()
    block = re.search(r"//! ```text\n(.*?)//! ```", text, re.S)
    if not block:
        sys.exit("layers.py: no ```text table of layers in src/lib.rs")
    order = {}
    level = 0
    for line in block.group(1).splitlines():
        words = line[len("//!"):].split()
        names = []
        for w in words:
            if w in known:
                names.append(w)
            else:
                break
        if names:
            for n in names:
                order[n] = level
            level += 1
    return order


def uses(src, module):
    found = set()
    root = os.path.join(src, module)
    files = [root + ".rs"] if os.path.isfile(root + ".rs") else []
    for dirpath, _, filenames in os.walk(root):
        files += [os.path.join(dirpath, f) for f in filenames if f.endswith(".rs")]
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                code = line.split("//", 1)[0]
                for m in re.finditer(r"\bcrate::(\w+)", code):
                    found.add(m.group(1))
                # `use crate::{a, b::c}`
                for m in re.finditer(r"\bcrate::\{([^}]*)\}", code):
                    for part in m.group(1).split(","):
                        name = part.strip().split("::")[0]
                        if name:
                            found.add(name)
    found.discard(module)
    return found


def circle(graph):
    state = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    known = modules(src)
    order = layers(src, known)
    problems = []
    for m in sorted(known - set(order)):
        problems.append(f"{m}: not in the table of layers in src/lib.rs")
    graph = {}
    for m in sorted(known):
        graph[m] = {u for u in uses(src, m) if u in known}
        for u in sorted(graph[m]):
            if m in order and u in order and order[u] < order[m]:
                problems.append(f"{m} uses {u}, which is in a layer above it")
    loop = circle(graph)
    if loop:
        problems.append("circle: " + " -> ".join(loop))
    for p in problems:
        print(f"layers: {p}")
    if problems:
        return 1
    edges = sum(len(v) for v in graph.values())
    print(f"layers: {len(known)} modules, {edges} uses, rule holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
