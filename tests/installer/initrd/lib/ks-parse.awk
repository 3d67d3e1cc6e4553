# Splits a kickstart into commands, %packages and scripts, reading it the way pykickstart does:
# commands are shlex words (quotes removed, an unquoted # starts a comment), sections run from their
# header to %end (or to the next section header), %include is followed.
#
# Usage: awk -v ks=FILE -v out=DIR -v mode=pre|full -f ks-parse.awk
#   mode=pre  reads the %pre scripts only and skips %include, like anaconda's pass before %pre runs
#   mode=full reads everything; %include files must exist
# Writes in DIR, fields separated by US (\037, which is not shell IFS whitespace, so empty fields survive
# `read`):
#   commands   LINENO US WORD US WORD...      one command a line
#   packages   one %packages entry a line
#   scripts    SEQ US TYPE US LINENO US INTERPRETER US LOG US NOCHROOT US ERRORONFAIL
#   addons     LINENO US NAME US WORD...          one %addon header a line (bodies are not kept)
#   script.SEQ the body of script SEQ
#   error      LINENO US MESSAGE, and exit status 1, when the kickstart cannot be read

function fail(lineno, message) {
    printf "%s\037%s\n", lineno, message > (out "/error")
    close(out "/error")
    failed = 1
    return 0
}

# shlex.split with comments, as pykickstart splits command lines; returns -1 on an open quote.
function tokenize(line, words,    n, i, c, word, inword, quote, len) {
    n = 0
    word = ""
    inword = 0
    quote = ""
    len = length(line)
    for (i = 1; i <= len; i++) {
        c = substr(line, i, 1)
        if (quote != "") {
            if (c == quote) {
                quote = ""
            } else if (c == "\\" && quote == "\"" && i < len) {
                i++
                word = word substr(line, i, 1)
            } else {
                word = word c
            }
            continue
        }
        if (c == "\"" || c == "'") {
            quote = c
            inword = 1
        } else if (c == "\\" && i < len) {
            i++
            word = word substr(line, i, 1)
            inword = 1
        } else if (c == "#") {
            break
        } else if (c == " " || c == "\t") {
            if (inword) {
                words[++n] = word
                word = ""
                inword = 0
            }
        } else {
            word = word c
            inword = 1
        }
    }
    if (quote != "") return -1
    if (inword) words[++n] = word
    return n
}

function is_section_header(line,    name) {
    name = line
    sub(/^[ \t]+/, "", name)
    sub(/[ \t].*$/, "", name)
    return name ~ /^%(pre|pre-install|post|traceback|onerror|packages|addon|anaconda)$/
}

function open_section(line, lineno,    words, n, i, option, value, eq, name, text) {
    n = tokenize(line, words)
    if (n < 0) return fail(lineno, "No closing quotation")
    name = words[1]
    if (name == "%packages") {
        section = (mode == "full") ? "packages" : "skip"
        return 1
    }
    if (name == "%addon" || name == "%anaconda") {
        if (name == "%addon" && mode == "full") {
            text = lineno
            for (i = 2; i <= n; i++) text = text "\037" words[i]
            print text > (out "/addons")
        }
        section = "skip"
        return 1
    }
    if (name !~ /^%(pre|pre-install|post|traceback|onerror)$/)
        return fail(lineno, "Unknown kickstart section: " name)
    script_type = substr(name, 2)
    if (mode != "full" && script_type != "pre") {
        section = "skip"
        return 1
    }
    section = "script"
    script_line = lineno
    script_body = ""
    interpreter = "/bin/sh"
    logfile = ""
    nochroot = 0
    erroronfail = 0
    for (i = 2; i <= n; i++) {
        option = words[i]
        value = ""
        eq = index(option, "=")
        if (eq) {
            value = substr(option, eq + 1)
            option = substr(option, 1, eq - 1)
        }
        if (option == "--nochroot") {
            nochroot = 1
        } else if (option == "--erroronfail") {
            erroronfail = 1
        } else if (option == "--interpreter" || option == "--log" || option == "--logfile") {
            if (!eq) value = words[++i]
            if (value == "") return fail(lineno, "Option " option " requires a value")
            if (option == "--interpreter") interpreter = value
            else logfile = value
        }
    }
    return 1
}

function close_section() {
    if (section == "script") {
        scripts++
        printf "%s", script_body > (out "/script." scripts)
        close(out "/script." scripts)
        printf "%d\037%s\037%d\037%s\037%s\037%d\037%d\n", scripts, script_type, script_line, interpreter, \
            logfile, nochroot, erroronfail > (out "/scripts")
    }
    section = ""
}

function section_line(line,    entry) {
    if (section == "script") {
        script_body = script_body line "\n"
    } else if (section == "packages") {
        entry = line
        sub(/#.*/, "", entry)
        gsub(/^[ \t]+|[ \t]+$/, "", entry)
        if (entry != "") print entry > (out "/packages")
    }
}

function handle_line(line, lineno,    words, n, i, text) {
    sub(/\r$/, "", line)
    if (section != "") {
        if (line ~ /^[ \t]*%end([ \t]|$)/) {
            close_section()
            return 1
        }
        if (!(line ~ /^[ \t]*%/ && is_section_header(line))) {
            section_line(line)
            return 1
        }
        # A new section header also ends the open section, as older kickstarts relied on.
        close_section()
    }
    if (line ~ /^[ \t]*(#|$)/) return 1
    if (line ~ /^[ \t]*%(include|ksappend)([ \t]|$)/) {
        if (mode != "full") return 1
        n = tokenize(line, words)
        if (n < 2) return fail(lineno, "Section " words[1] " needs a file name")
        return parse_file(words[2], lineno)
    }
    if (line ~ /^[ \t]*%/) return open_section(line, lineno)
    if (mode != "full") return 1
    n = tokenize(line, words)
    if (n < 0) return fail(lineno, "No closing quotation")
    if (n == 0) return 1
    text = lineno
    for (i = 1; i <= n; i++) text = text "\037" words[i]
    print text > (out "/commands")
    return 1
}

# parse_file FILE FROM_LINE: read FILE; FROM_LINE is the %include line that named it (0 for the top).
function parse_file(file, from_line,    line, lineno, status) {
    lineno = 0
    while ((status = (getline line < file)) > 0) {
        lineno++
        if (!handle_line(line, lineno)) {
            close(file)
            return 0
        }
    }
    close(file)
    if (status < 0) return fail(from_line, "Unable to open input kickstart file: Could not open/read " file)
    return 1
}

BEGIN {
    section = ""
    scripts = 0
    failed = 0
    printf "" > (out "/commands")
    printf "" > (out "/packages")
    printf "" > (out "/scripts")
    printf "" > (out "/addons")
    if (parse_file(ks, 0)) close_section()
    close(out "/commands")
    close(out "/packages")
    close(out "/scripts")
    close(out "/addons")
    exit failed
}
