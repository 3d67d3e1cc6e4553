"""Just enough shell to read what a kickstart script does: statements with their lines, here-documents, literal
file writes (cat/tee here-documents, echo, printf, truncation). The sed edits are in builder.importer.sed.

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
