#!/usr/bin/env python3
"""Lists the public symbols of lms-agent's library modules that have no `///` doc comment.

    scripts/undocumented.py [--check] [--quiet] [MODULE ...]

MODULE is a folder of Sources/ (default: every module whose public surface is documented, DOCUMENTED
below). Prints `path:line: declaration` for each symbol without a doc comment, then one summary line
per module. With --check it exits 1 when any symbol lacks one (scripts/test.sh runs it so);
--quiet prints only the summary lines.

A symbol is a declaration marked `public` or `open` (not `public import` or `public extension`), a
`case` of a public enum, a requirement of a public protocol, or a member of a `public extension`
that has no access modifier of its own. It is documented when the line above it (attribute lines
such as `@discardableResult` skipped) is a `///` comment or the end of a `/** */` block.

This reads Swift line by line rather than parsing it: a declaration is found by its first line, and
braces are counted outside strings and comments to know which type a line is in. That is enough for
this code base, which puts one declaration on a line; it is a check, not a documentation tool.
"""
import os
import re
import sys

# The modules whose every public symbol has a doc comment; scripts/test.sh keeps them so.
DOCUMENTED = ["Extract", "Buffer", "Stores", "Agent", "SampleExtract", "SQLiteDB", "PostgresDB", "Folders"]

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources")

ATTRIBUTES = r"(?:@\w+(?:\([^)]*\))?\s+)*"
MODIFIERS = (r"(?:(?:public|open|internal|fileprivate|private|package|final|static|class|override|mutating|"
             r"nonmutating|indirect|convenience|required|lazy|weak|unowned|nonisolated|dynamic)"
             r"(?:\((?:set|unsafe)\))?\s+)*")
KINDS = r"(func|var|let|init[?!]?|subscript|case|struct|enum|class|actor|protocol|extension|typealias|associatedtype|import)\b"
DECLARATION = re.compile(r"^" + ATTRIBUTES + "(" + MODIFIERS + ")" + KINDS)
ACCESS = re.compile(r"\b(public|open|internal|fileprivate|private|package)\b(?!\()")


def code_of(line, in_string):
    """The line without string contents and comments, and whether a multi-line string is still open."""
    out, i = [], 0
    while i < len(line):
        if in_string:
            end = line.find('"""', i)
            if end < 0:
                return "".join(out), True
            i, in_string = end + 3, False
        elif line.startswith('"""', i):
            i, in_string = i + 3, True
        elif line.startswith("//", i) or line.startswith("/*", i):
            break
        elif line[i] == '"':
            i += 1
            while i < len(line) and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
        else:
            out.append(line[i])
            i += 1
    return "".join(out), in_string


def is_documented(lines, n):
    k = n - 1
    while k >= 0 and lines[k].strip().startswith("@"):
        k -= 1
    above = lines[k].strip() if k >= 0 else ""
    return above.startswith("///") or above.endswith("*/")


def symbols(path):
    """Every public symbol of one file: (line number, declaration, documented)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    scopes = []      # for each open brace, the declaration that opened it: 'public enum', 'public protocol', ...
    opening = None   # the scope the next `{` opens
    in_string = False
    for n, raw in enumerate(lines):
        started_in_string = in_string
        code, in_string = code_of(raw, in_string)
        text = raw.strip()
        m = None if started_in_string else DECLARATION.match(text)
        if m:
            modifiers, kind = m.group(1), m.group(2)
            access = ACCESS.search(modifiers)
            access = access.group(1) if access else None
            scope = scopes[-1] if scopes else None
            public = access in ("public", "open")
            if kind in ("import", "extension"):
                symbol = False
            elif kind == "case":
                symbol = scope == "public enum"
            else:
                symbol = public or scope == "public protocol" or (scope == "public extension" and access is None)
            if symbol:
                found.append((n + 1, re.split(r"\s*[{=]\s*$|\s+\{", text)[0], is_documented(lines, n)))
            opening = ("public " if public else "") + kind
        for c in code:
            if c == "{":
                scopes.append(opening)
                opening = None
            elif c == "}" and scopes:
                scopes.pop()
    return found


def main(argv):
    check = "--check" in argv
    quiet = "--quiet" in argv
    modules = [a for a in argv if not a.startswith("--")] or DOCUMENTED
    root = os.path.relpath(ROOT)
    missing_total = 0
    summaries = []
    for module in modules:
        base = os.path.join(root, module)
        if not os.path.isdir(base):
            sys.exit(f"undocumented.py: no module {module} in {root}")
        total, missing = 0, []
        for folder, _, files in sorted(os.walk(base)):
            for name in sorted(f for f in files if f.endswith(".swift")):
                path = os.path.join(folder, name)
                for line, declaration, documented in symbols(path):
                    total += 1
                    if not documented:
                        missing.append(f"{path}:{line}: {declaration}")
        if not quiet:
            for m in missing:
                print(m)
        summaries.append(f"{module}: {len(missing)} undocumented of {total} public symbols")
        missing_total += len(missing)
    for s in summaries:
        print(s)
    if check and missing_total:
        print(f"undocumented.py: {missing_total} public symbol(s) without a /// doc comment", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
