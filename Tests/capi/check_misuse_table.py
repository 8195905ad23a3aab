#!/usr/bin/env python3
"""Checks test_misuse.c's table against the header: every function declared in include/grlhf.h
has exactly one row, every parameter of it a descriptor, pointers pointer kinds and numbers
number kinds.      check_misuse_table.py PREPROCESSED_HEADER  (the table on stdin: test_misuse --list)"""
import re
import sys

NUMBER_KINDS = {"count", "index", "capacity", "int32", "capacity32", "nonnegative"}
# Pointer parameters whose every value is valid, by name (NULL is documented as allowed and the
# pointee is caller data the library only reads).
ANY_POINTERS = {"data", "user_data", "images", "complete"}


def declarations(text):
    out = {}
    for statement in " ".join(text.split()).split(";"):
        m = re.match(r"^\s*(?:extern\s+)?(.*?)\b(grlhf_[a-z0-9_]+)\s*\((.*)\)\s*$", statement)
        if not m or "typedef" in m.group(1):
            continue
        returns, name, params = m.group(1).strip(), m.group(2), m.group(3).strip()
        plist = [] if params in ("", "void") else [p.strip() for p in params.split(",")]
        out[name] = (returns, plist)
    return out


def main():
    header = declarations(open(sys.argv[1]).read())
    rows, errors = {}, []
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        name, kind = parts[0], parts[1]
        if name in rows:
            errors.append(f"{name}: two rows")
        rows[name] = (kind, [(int(p.split(":")[0]), p.split(":")[1]) for p in parts[2:]])
    for name in sorted(set(header) - set(rows)):
        errors.append(f"{name}: declared in the header but has no row in test_misuse.c")
    for name in sorted(set(rows) - set(header)):
        errors.append(f"{name}: a row in test_misuse.c but not declared in the header")
    for name in sorted(set(header) & set(rows)):
        returns, params = header[name]
        kind, described = rows[name]
        status = returns == "grlhf_status"
        if name.endswith("_free"):
            if kind != "free" or returns != "void" or len(params) != 1:
                errors.append(f"{name}: a free function needs a free row (and returns void, one handle)")
            continue
        if kind == "plain":
            if status:
                errors.append(f"{name}: returns grlhf_status, so it needs a call row with descriptors")
            continue
        if kind != "call" or not status:
            errors.append(f"{name}: row kind {kind} for a function returning {returns}")
            continue
        positions = {p for p, _ in described}
        missing = sorted(set(range(len(params))) - positions)
        extra = sorted(positions - set(range(len(params))))
        if missing:
            errors.append(f"{name}: no descriptor for parameter(s) {', '.join(params[i] for i in missing)}")
        if extra:
            errors.append(f"{name}: descriptors for parameter positions {extra} it does not have")
        for pos, k in described:
            if pos >= len(params):
                continue
            param = params[pos]
            pname = re.findall(r"[A-Za-z_0-9]+", param)[-1]
            pointer = "*" in param or re.search(r"\bgrlhf_[a-z_]+_fn\b", param) is not None
            if pointer and k in NUMBER_KINDS:
                errors.append(f"{name}: pointer parameter '{param}' described as {k}")
            if not pointer and k not in NUMBER_KINDS | {"any"}:
                errors.append(f"{name}: number parameter '{param}' described as {k}")
            if pointer and k == "any" and pname not in ANY_POINTERS:
                errors.append(f"{name}: pointer parameter '{param}' described as any (not one of {sorted(ANY_POINTERS)})")
    if errors:
        print("FAIL: the misuse table does not cover the header:")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print(f"ok   every one of the {len(header)} header functions has a misuse row covering each parameter")


main()
