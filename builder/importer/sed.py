"""A small sed for the edits kickstarts make to config files: `sed -i` with `s///`, `/re/s///` and `/re/d`, basic
or extended (-E/-r) regular expressions read as GNU sed reads them.

Nothing here runs sed. An expression, flag or regex this module cannot translate with certainty is `None` to the
caller, which then keeps the statement in the script as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from builder.importer.shell import Statement, is_literal, resolve, words_of


@dataclass(frozen=True)
class SedEdit:
    """`sed -i` with its expressions and the files it edits (cwd-resolved); `extended` for -E/-r."""

    expressions: tuple[str, ...]
    paths: tuple[str, ...]
    extended: bool = False


def sed_edit(statement: Statement, cwd: str | None) -> SedEdit | None:
    if statement.compound or not is_literal(statement.command):
        return None
    words = words_of(statement.command)
    if not words or words[0] != "sed":
        return None
    expressions: list[str] = []
    paths: list[str] = []
    in_place = False
    extended = False
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("-i", "--in-place"):
            in_place = True
        elif word == "-e" and index + 1 < len(words):
            expressions.append(words[index + 1])
            index += 1
        elif word in ("-r", "-E", "--regexp-extended"):
            extended = True
        elif word == "--follow-symlinks":
            pass
        elif word.startswith("-"):
            return None
        elif not expressions and not paths and "-e" not in words:
            expressions.append(word)
        else:
            path = resolve(word, cwd)
            if path is None:
                return None
            paths.append(path)
        index += 1
    if not in_place or not expressions or not paths:
        return None
    return SedEdit(tuple(expressions), tuple(paths), extended)


# POSIX bracket classes for ASCII text (apply_sed reads nothing else, so no locale can change their meaning).
_POSIX_CLASSES = {
    "alpha": "A-Za-z", "digit": "0-9", "alnum": "0-9A-Za-z", "upper": "A-Z", "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "punct": "!-/:-@\\[-`{-~", "print": " -~", "graph": "!-~",
    "cntrl": "\\x00-\\x1f\\x7f", "xdigit": "0-9A-Fa-f",
}
# GNU sed's escapes for word and buffer (here: line) boundaries, as Python writes them.
_ANCHOR_ESCAPES = {"<": r"\b(?=\w)", ">": r"\b(?<=\w)", "`": r"\A", "'": r"\Z", "b": r"\b", "B": r"\B"}
_INTERVAL = re.compile(r"[0-9]+(,[0-9]*)?|,[0-9]+")


def _bracket(pattern: str, start: int) -> tuple[str, int] | None:
    """The bracket expression at pattern[start] ('[') as a Python class, and the index after its ']'."""
    index = start + 1
    negate = index < len(pattern) and pattern[index] == "^"
    index += negate
    items: list[str] = []
    while True:
        if index >= len(pattern):
            return None
        char = pattern[index]
        if char == "]" and items:
            break
        if char == "\\":
            return None  # literal in POSIX, an escape in GNU sed: not certain
        if pattern.startswith(("[:", "[.", "[="), index):
            close = pattern.find(pattern[index + 1] + "]", index + 2)
            name = pattern[index + 2:close] if close > 0 else ""
            if pattern[index + 1] != ":" or name not in _POSIX_CLASSES:
                return None
            items.append(_POSIX_CLASSES[name])
            index = close + 2
            continue
        if index + 2 < len(pattern) and pattern[index + 1] == "-" and pattern[index + 2] != "]":
            high = pattern[index + 2]
            if high in "[\\" or high < char:
                return None
            items.append(f"{re.escape(char)}-{re.escape(high)}")
            index += 3
            continue
        items.append(re.escape(char))
        index += 1
    return "[" + ("^" if negate else "") + "".join(items) + "]", index + 1


def _sed_regex(pattern: str, extended: bool) -> str | None:
    """A sed regular expression (basic, or extended with -E/-r) as a Python one; None when its meaning in sed is
    not certain to be the Python one's (GNU escapes this does not know, a quantifier after a quantifier ...)."""
    out: list[str] = []
    index = 0
    depth = 0
    start = True         # at the start of the expression, a group or an alternative
    repeatable = False   # the last item can take a quantifier
    while index < len(pattern):
        char = pattern[index]
        index += 1
        operator = None
        if char == "\\":
            if index >= len(pattern):
                return None
            char = pattern[index]
            index += 1
            if not extended and char in "(){}+?|":
                operator = char
            elif char in _ANCHOR_ESCAPES:
                out.append(_ANCHOR_ESCAPES[char])
                start, repeatable = False, False
                continue
            elif char in "wWsS":
                out.append("\\" + char)
                start, repeatable = False, True
                continue
            elif char in "123456789":
                out.append(f"(?:\\{char})")
                start, repeatable = False, True
                continue
            elif char in "nt":
                out.append("\\" + char)
                start, repeatable = False, True
                continue
            elif char.isalnum() or not char.isascii():
                return None
            else:
                out.append(re.escape(char))
                start, repeatable = False, True
                continue
        elif char in "*^$" or (extended and char in "(){}+?|"):
            operator = char
        elif char == "[":
            bracket = _bracket(pattern, index - 1)
            if bracket is None:
                return None
            out.append(bracket[0])
            index = bracket[1]
            start, repeatable = False, True
            continue
        if operator is None:
            out.append("." if char == "." else re.escape(char))
            start, repeatable = False, True
            continue
        if operator == "(":
            out.append("(")
            depth += 1
            start, repeatable = True, False
        elif operator == ")":
            depth -= 1
            if depth < 0:
                return None
            out.append(")")
            start, repeatable = False, True
        elif operator == "|":
            out.append("|")
            start, repeatable = True, False
        elif operator == "^":
            if extended or start:
                out.append("^")       # an anchor (BRE: only first in the expression or a group)
                repeatable = False
            else:
                out.append(r"\^")
                start, repeatable = False, True
        elif operator == "$":
            rest = pattern[index:]
            if extended or not rest or rest.startswith(("\\)", "\\|")):
                out.append("$")
                start, repeatable = False, False
            else:
                out.append(r"\$")
                start, repeatable = False, True
        elif operator in "*+?":
            if repeatable:
                out.append(operator)
                repeatable = False    # a second quantifier (`a**`, Python's lazy `a*?`): not certain
            elif operator == "*" and start and not extended:
                out.append(r"\*")     # BRE: a leading * is a literal
                start, repeatable = False, True
            else:
                return None
        elif operator == "{":
            close = pattern.find("\\}" if not extended else "}", index)
            if close < 0 or not repeatable or not _INTERVAL.fullmatch(pattern[index:close]):
                return None
            out.append("{" + pattern[index:close] + "}")
            index = close + (1 if extended else 2)
            repeatable = False
        else:
            return None  # a stray } or \}
    return "".join(out) if depth == 0 else None


# Characters that mean something in a sed regex: as the delimiter written escaped inside one, GNU sed versions
# disagree on whether they stay literal.
_REGEX_CHARS = ".*[]^$+?(){}|"


def _delimited(text: str, start: int, sep: str) -> tuple[str, int, bool] | None:
    """The part of `text` from `start` up to the next unescaped `sep` (`\\sep` read as `sep`), the index after
    that `sep`, and whether an escaped `sep` was read; None when no `sep` ends it."""
    current: list[str] = []
    escaped_sep = False
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            if text[index + 1] == sep:
                current.append(sep)
                escaped_sep = True
            else:
                current.append(text[index:index + 2])
            index += 2
            continue
        if char == sep:
            return "".join(current), index + 1, escaped_sep
        current.append(char)
        index += 1
    return None


def _split_s(expression: str) -> tuple[str, str, str] | None:
    """(pattern, replacement, flags) of `s/RE/REPL/FLAGS`; flags only g and I, each at most once."""
    if len(expression) < 4 or expression[0] != "s":
        return None
    sep = expression[1]
    if sep.isalnum() or sep.isspace() or sep in "\\&":
        return None
    pattern = _delimited(expression, 2, sep)
    if pattern is None or (pattern[2] and sep in _REGEX_CHARS):
        return None
    replacement = _delimited(expression, pattern[1], sep)
    if replacement is None:
        return None
    flags = expression[replacement[1]:]
    if not re.fullmatch(r"[gI]*", flags) or len(set(flags)) != len(flags):
        return None
    return pattern[0], replacement[0], flags


def _replacement(text: str) -> str | None:
    """A sed replacement as Python's: & is the match, \\N a group, \\& a literal &, \\n and \\t; None for GNU's
    case conversions (\\U \\L \\u \\l \\E) and other escapes this does not know."""
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            if nxt in "0123456789":
                out.append(f"\\g<{nxt}>")
            elif nxt in "nt":
                out.append("\\" + nxt)
            elif nxt.isalnum() or not nxt.isascii():
                return None
            else:
                out.append(nxt.replace("\\", "\\\\"))
            index += 2
            continue
        out.append("\\g<0>" if char == "&" else char.replace("\\", "\\\\"))
        index += 1
    return "".join(out)


def _compile(pattern: str, extended: bool, flags: int = 0) -> re.Pattern[str] | None:
    python = _sed_regex(pattern, extended) if pattern else None  # an empty RE reuses the last one: not followed
    if python is None:
        return None
    try:
        return re.compile(python, flags | re.ASCII)
    except (re.error, RecursionError, OverflowError):
        return None


def apply_sed(expressions: tuple[str, ...], text: str, extended: bool = False) -> str | None:
    """`text` after the expressions (s/RE/REPL/[gI], /RE/s/.../, /RE/d); None for anything else, and for text
    that is not ASCII (whose classes and case would depend on the locale sed runs in)."""
    if not text.isascii() or not all(expression.isascii() for expression in expressions):
        return None
    lines = text.splitlines()
    for expression in expressions:
        address = None
        body = expression.strip()
        if body.startswith("/"):
            found = _delimited(body, 1, "/")
            if found is None:
                return None
            address = _compile(found[0], extended)
            if address is None:
                return None
            body = body[found[1]:].strip()
        if body == "d" and address is not None:
            lines = [line for line in lines if not address.search(line)]
            continue
        parts = _split_s(body)
        if parts is None:
            return None
        pattern, replacement, flags = parts
        regex = _compile(pattern, extended, re.IGNORECASE if "I" in flags else 0)
        python_repl = _replacement(replacement)
        if regex is None or python_repl is None:
            return None
        count = 0 if "g" in flags else 1
        new = []
        for line in lines:
            if address is not None and not address.search(line):
                new.append(line)
                continue
            try:
                new.append(regex.sub(python_repl, line, count=count))
            except (re.error, IndexError):
                return None
        lines = new
    return "".join(f"{line}\n" for line in lines)
