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
_FUNCTION = re.compile(r"^\s*(function\s+)?[A-Za-z_][A-Za-z0-9_-]*\s*\(\)\s*\{?\s*$")


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
    words = [w for w in _words(line) if w]
    opened = sum(1 for w in words if w in _OPENERS or w.endswith("()") or w == "(")
    closed = sum(1 for w in words if w in _CLOSERS)
    if _FUNCTION.match(line) and "{" not in words:
        opened += 0
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
            while depth > 0 and index + 1 < len(lines):
                found = _heredoc(lines[index])
                index += 1
                if found is not None:
                    index = _skip_heredoc(lines, index, found[0], found[2]) + 1
                    if index >= len(lines):
                        break
                depth += _depth_change(lines[index])
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
        if word.startswith(("<", ">")) or (word.isdigit() and index + 1 < len(words) and words[index + 1] in (
                ">", ">>")):
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
    """`sed -i` with its expressions and the files it edits (cwd-resolved)."""

    expressions: tuple[str, ...]
    paths: tuple[str, ...]


def sed_edit(statement: Statement, cwd: str | None) -> SedEdit | None:
    if statement.compound or not is_literal(statement.command):
        return None
    words = words_of(statement.command)
    if not words or words[0] != "sed":
        return None
    expressions: list[str] = []
    paths: list[str] = []
    in_place = False
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("-i", "--in-place"):
            in_place = True
        elif word == "-e" and index + 1 < len(words):
            expressions.append(words[index + 1])
            index += 1
        elif word in ("--follow-symlinks", "-r", "-E"):
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
    return SedEdit(tuple(expressions), tuple(paths))


def _bre_to_python(pattern: str, extended: bool) -> str:
    """A sed basic regular expression as a Python one (\\( \\) \\{ \\} \\+ \\? \\| are the operators)."""
    if extended:
        return pattern
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            nxt = pattern[index + 1]
            out.append(nxt if nxt in "(){}+?|" else "\\" + nxt)
            index += 2
            continue
        out.append("\\" + char if char in "(){}+?|" else char)
        index += 1
    return "".join(out)


def _split_s(expression: str) -> tuple[str, str, str] | None:
    if len(expression) < 4 or expression[0] != "s":
        return None
    sep = expression[1]
    parts: list[str] = []
    current = []
    index = 2
    while index < len(expression):
        char = expression[index]
        if char == "\\" and index + 1 < len(expression) and expression[index + 1] == sep:
            current.append(sep)
            index += 2
            continue
        if char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    if len(parts) != 3 or not re.fullmatch(r"[gI0-9]*", parts[2]):
        return None
    return parts[0], parts[1], parts[2]


def _replacement(text: str) -> str:
    """A sed replacement as Python's: & is the match, \\N a group, \\& a literal &; Python's own escapes quoted."""
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            out.append(f"\\g<{nxt}>" if nxt.isdigit() else "\\n" if nxt == "n" else nxt.replace("\\", "\\\\"))
            index += 2
            continue
        out.append("\\g<0>" if char == "&" else char.replace("\\", "\\\\"))
        index += 1
    return "".join(out)


def apply_sed(expressions: tuple[str, ...], text: str) -> str | None:
    """`text` after the expressions (s/RE/REPL/[g], /RE/s/.../, /RE/d); None for anything else."""
    lines = text.splitlines()
    for expression in expressions:
        address = None
        body = expression.strip()
        if body.startswith("/"):
            end = body.find("/", 1)
            if end < 0:
                return None
            address = re.compile(_bre_to_python(body[1:end], False))
            body = body[end + 1:].strip()
        if body == "d" and address is not None:
            lines = [line for line in lines if not address.search(line)]
            continue
        parts = _split_s(body)
        if parts is None:
            return None
        pattern, replacement, flags = parts
        try:
            regex = re.compile(_bre_to_python(pattern, False), re.IGNORECASE if "I" in flags else 0)
        except re.error:
            return None
        python_repl = _replacement(replacement)
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
