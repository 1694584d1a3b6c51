#!/usr/bin/env python3
"""The plugin crate's module graph from its source: which module (file) names
which other module through `crate::`, `super::` or `self::` paths, outside
comments and `#[cfg(test)]` modules; then the import circles (strongly
connected components). `mod` declarations are not edges: a parent owning a
child, or naming it (re-exports), is not a dependency; a path from one
module to another that does not own it is.

    python3 tests/module_graph.py            # circles, per file and per top-level module
    python3 tests/module_graph.py --edges    # and every edge
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(rel):
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return "::".join(parts) or "crate"


def files():
    for d, _, names in os.walk(ROOT):
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), ROOT)
            if n.endswith(".rs") and not rel.startswith("bin" + os.sep):
                yield rel


def code(text):
    # Stop at the unit tests; drop comments.
    text = text.split("#[cfg(test)]")[0]
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def expand(path):
    """`a::{b, c::d}` → [`a::b`, `a::c::d`] (one level of braces is enough here)."""
    m = re.match(r"^(.*?)\{(.*)\}$", path)
    if not m:
        return [path]
    out = []
    for part in m.group(2).split(","):
        part = part.strip()
        if part:
            out += expand(m.group(1) + part) if "{" not in part else [m.group(1) + part.split("{")[0]]
    return out


def main():
    mods = {module_of(r): r for r in files()}
    edges = {m: set() for m in mods}
    for m, rel in mods.items():
        text = code(open(os.path.join(ROOT, rel), encoding="utf-8").read())
        here = m.split("::") if m != "crate" else []
        # The module a `super::` path starts from: a file's parent module.
        paths = re.findall(r"\buse\s+((?:crate|super|self)::[^;]+);", text)
        paths += re.findall(r"\b((?:crate|super|self)::[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)", text)
        for p in paths:
            for q in expand(re.sub(r"\s+", "", p)):
                segs = q.split("::")
                if segs[0] == "crate":
                    base, segs = [], segs[1:]
                elif segs[0] == "self":
                    base, segs = list(here), segs[1:]
                else:
                    base = list(here)
                    while segs and segs[0] == "super":
                        base, segs = base[:-1], segs[1:]
                full = base + segs
                # The longest prefix that is a module of ours.
                for k in range(len(full), -1, -1):
                    target = "::".join(full[:k]) or "crate"
                    if target in mods:
                        break
                # A parent naming its own child (a re-export, a call into
                # it) is ownership, not a dependency.
                if target != m and target != "crate" and not target.startswith(m + "::"):
                    edges[m].add(target)
    if "--edges" in sys.argv:
        for m in sorted(edges):
            print(f"{m} -> {', '.join(sorted(edges[m])) or '(nothing)'}")
        print()
    report("files", edges)
    top = {}
    for m, ts in edges.items():
        a = m.split("::")[0]
        top.setdefault(a, set()).update(t.split("::")[0] for t in ts if t.split("::")[0] != a)
    report("top-level modules", top)


def report(what, edges):
    """Tarjan's strongly connected components of size > 1: the circles."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    print(f"circles among {what}: {len(out)}")
    for c in out:
        print("  " + " <-> ".join(c))


if __name__ == "__main__":
    main()
