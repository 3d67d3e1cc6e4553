"""Just enough shell to read what a kickstart script does: statements with their lines, here-documents, literal
file writes (cat/tee here-documents, echo, printf, truncation), and a small sed for `s///` edits.

Nothing here runs a script. Anything this module cannot read with certainty (an expansion, a pipe, a loop, an
option it does not know) is `None` to the caller, which then keeps the statement in the script as written.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

_OPENERS = {"if", "case", "for", "while", "until", "select", "{", "("}
_CLOSERS = {"fi", "esac", "done", "}", ")"}
_HEREDOC = re.compile(r"<<(?P<dash>-?)\s*(?:'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\"|\\?(?P<bare>[A-Za-z0-9_.-]+))")
# A function definition's first line: `name() {`, `name()` (its `{` on the next line), `function name {`.
_FUNCTION = re.compile(r"^\s*(?:function\s+[A-Za-z_][A-Za-z0-9_-]*\s*(?:\(\))?|[A-Za-z_][A-Za-z0-9_-]*\s*\(\))"
                       r"\s*\{?\s*$")


@dataclass(frozen=True)
class Statement:
    """One top-level statement of a script body: lines `first`..`last` (0-based, inclusive)."""

    first: int
    last: int
    command: str             # the command line, continuation lines joined, here-document body left out
    heredoc: str | None = None
    heredoc_literal: bool = True  # the body is taken as written (quoted delimiter, or nothing to expand)
    compound: bool = False   # if/for/while/case/function/{ }/( ): read as a whole, never looked into
    comments: tuple[int, ...] = ()  # comment lines directly above, removed with the statement

    @property
    def line_range(self) -> range:
        return range(self.first, self.last + 1)


def _strip_quotes(line: str) -> str:
    return re.sub(r"'[^']*'|\"(?:\\.|[^\"\\])*\"", " ", line)


def _words(line: str) -> list[str]:
    text = _strip_quotes(line)
    text = text.split(" #", 1)[0] if not text.lstrip().startswith("#") else ""
    return re.split(r"[\s;&|]+", text.strip())


def _depth_change(line: str) -> int:
    """Blocks opened minus blocks closed on `line`; a function's name() opens nothing, its `{` body does."""
    words = [w for w in _words(line) if w]
    opened = sum(1 for w in words if w in _OPENERS)
    closed = sum(1 for w in words if w in _CLOSERS)
    return opened - closed


def _heredoc(line: str) -> tuple[str, bool, bool] | None:
    """(delimiter, literal, strip tabs) of a here-document started on `line`, outside quotes."""
    match = _HEREDOC.search(line)
    if match is None or "<<<" in line:
        return None
    before = line[: match.start()]
    if before.count("'") % 2 or before.count('"') % 2:
        return None
    word = match["single"] if match["single"] is not None else match["double"] if match["double"] is not None \
        else match["bare"]
    quoted = match["single"] is not None or match["double"] is not None or line[match.start() + 2:].lstrip(
        "-").lstrip().startswith("\\")
    return word, quoted, bool(match["dash"])


def _skip_heredoc(lines: list[str], index: int, delimiter: str, strip_tabs: bool) -> int:
    """Index of the delimiter line of a here-document whose body starts at `index` (len(lines) when missing)."""
    while index < len(lines):
        text = lines[index].lstrip("\t") if strip_tabs else lines[index]
        if text == delimiter:
            return index
        index += 1
    return len(lines)


def split_statements(body: str) -> list[Statement]:
    """The top-level statements of a script, in order, each with the comment lines directly above it."""
    lines = body.splitlines()
    statements: list[Statement] = []
    comments: list[int] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped:
            comments = []
            index += 1
            continue
        if stripped.startswith("#"):
            comments.append(index)
            index += 1
            continue
        first = index
        command = line
        while command.endswith("\\") and not command.endswith("\\\\") and index + 1 < len(lines):
            index += 1
            command = command[:-1] + " " + lines[index].strip()
        words = [w for w in _words(command) if w]
        compound = bool(words) and (words[0] in _OPENERS or bool(_FUNCTION.match(command)) or
                                    words[0].startswith("(") or words[0].endswith("()"))
        heredoc_text: str | None = None
        literal = True
        if compound:
            depth = _depth_change(command)
            # `name()` alone: the body's `{` is on a line below, and the statement goes on to its `}`.
            body_below = depth == 0 and bool(_FUNCTION.match(command))
            depth += body_below
            while depth > 0 and index + 1 < len(lines):
                found = _heredoc(lines[index])
                index += 1
                if found is not None:
                    index = _skip_heredoc(lines, index, found[0], found[2]) + 1
                    if index >= len(lines):
                        break
                change = _depth_change(lines[index])
                if body_below and lines[index].strip():
                    change -= 1  # that `{` is the one counted with the name
                    body_below = False
                depth += change
            if depth > 0:
                index = len(lines) - 1
        else:
            found = _heredoc(command)
            if found is not None:
                delimiter, quoted, strip_tabs = found
                end = _skip_heredoc(lines, index + 1, delimiter, strip_tabs)
                body_lines = lines[index + 1:end]
                if strip_tabs:
                    body_lines = [text.lstrip("\t") for text in body_lines]
                heredoc_text = "".join(f"{text}\n" for text in body_lines)
                literal = quoted or not re.search(r"[$`\\]", heredoc_text)
                index = min(end, len(lines) - 1)
        statements.append(Statement(first, index, command.strip(), heredoc_text, literal, compound,
                                    tuple(comments)))
        comments = []
        index += 1
    return statements


# -- literal commands -----------------------------------------------------------------------------------------


def is_literal(text: str) -> bool:
    """No expansion, substitution or glob outside single quotes: the words mean what they say."""
    quote = ""
    for char in text:
        if quote == "'":
            if char == "'":
                quote = ""
            continue
        if char == "'" and quote == "":
            quote = "'"
        elif char == '"':
            quote = "" if quote == '"' else '"'
        elif char in "$`\\" or (quote == "" and char in "*?[~"):
            return False
    return True


def words_of(command: str) -> list[str] | None:
    """The words of a simple command with redirection operators as words of their own; None when it has more
    than one command (`;`, `&&`, `||`, `|`, `&`) or cannot be split."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
    except ValueError:
        return None
    if any(word in ("|", "||", "&", "&&", ";", ";;") or word.startswith(("|", "&", ";")) for word in words):
        return None
    return words


@dataclass(frozen=True)
class Write:
    """A file a statement writes with known content: `append` adds to it, otherwise it replaces it."""

    path: str
    content: str
    append: bool


def resolve(path: str, cwd: str | None) -> str | None:
    if path.startswith("/"):
        return posixpath.normpath(path)
    if cwd is None:
        return None
    return posixpath.normpath(posixpath.join(cwd, path))


def _redirect(words: list[str]) -> tuple[list[str], str | None, bool, bool] | None:
    """(command words, target, append, has here-document) with the output redirection taken out."""
    rest: list[str] = []
    target = None
    append = False
    heredoc = False
    index = 0
    while index < len(words):
        word = words[index]
        if word in (">", ">>", ">|"):
            if index + 1 >= len(words) or target is not None:
                return None
            target, append = words[index + 1], word == ">>"
            index += 2
            continue
        if word in ("<<", "<<-"):
            heredoc = True
            index += 2
            continue
        descriptor = word.isascii() and word.isdigit()
        if word.startswith(("<", ">")) or (descriptor and index + 1 < len(words) and words[index + 1] in (">", ">>")):
            return None
        rest.append(word)
        index += 1
    return rest, target, append, heredoc


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "r": "\r", "'": "'", '"': '"'}


def _unescape(text: str) -> str | None:
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            if nxt not in _ESCAPES:
                return None
            out.append(_ESCAPES[nxt])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _printf(fmt: str, args: list[str]) -> str | None:
    """printf FORMAT ARGS... for %s, %% and backslash escapes; the format is reused while arguments remain."""
    pieces = re.split(r"(%%|%s)", fmt)
    if any(re.search(r"%", piece) for piece in pieces if piece not in ("%%", "%s")):
        return None
    slots = pieces.count("%s")
    out = []
    remaining = list(args)
    while True:
        for piece in pieces:
            if piece == "%%":
                out.append("%")
            elif piece == "%s":
                out.append(remaining.pop(0) if remaining else "")
            else:
                text = _unescape(piece)
                if text is None:
                    return None
                out.append(text)
        if not remaining or slots == 0:
            break
    return "".join(out)


def file_write(statement: Statement, cwd: str | None) -> Write | None:
    """The file `statement` writes and its content, when both are certain."""
    if statement.compound or not is_literal(statement.command.split("<<", 1)[0]):
        return None
    words = words_of(statement.command)
    if words is None:
        return None
    parsed = _redirect(words)
    if parsed is None:
        return None
    rest, target, append, heredoc = parsed
    if heredoc:
        if statement.heredoc is None or not statement.heredoc_literal:
            return None
        if rest[:1] == ["cat"] and len(rest) == 1 and target is not None:
            path = resolve(target, cwd)
            return Write(path, statement.heredoc, append) if path else None
        if rest[:1] == ["tee"] and target is None and len(rest) in (2, 3):
            tee_append = rest[1:2] == ["-a"]
            if len(rest) == 3 and not tee_append:
                return None
            path = resolve(rest[-1], cwd)
            return Write(path, statement.heredoc, tee_append) if path else None
        return None
    if target is None:
        return None
    path = resolve(target, cwd)
    if path is None:
        return None
    if not rest or rest in (["true"], [":"]):
        return Write(path, "", append)
    if rest[0] == "echo":
        args = rest[1:]
        newline = True
        escapes = False
        while args and args[0] in ("-n", "-e", "-en", "-ne", "-E"):
            newline = newline and "n" not in args[0]
            escapes = escapes or "e" in args[0].replace("-E", "")
            args = args[1:]
        text = " ".join(args)
        if escapes:
            unescaped = _unescape(text)
            if unescaped is None:
                return None
            text = unescaped
        return Write(path, text + ("\n" if newline else ""), append)
    if rest[0] == "printf" and len(rest) >= 2:
        content = _printf(rest[1], rest[2:])
        return Write(path, content, append) if content is not None else None
    return None


# -- a small sed: s/// and /re/s///, the edits kickstarts make to config files ---------------------------------


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
