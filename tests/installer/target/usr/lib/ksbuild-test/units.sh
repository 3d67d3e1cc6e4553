# shellcheck shell=sh
# systemd unit files, read the little the test system needs: which unit is which file, what its
# [Install] section wants, and its ExecStart= commands. POSIX sh: the test system's init (busybox sh)
# and the systemctl stand-in (bash) both use it.

UNIT_DIRS="/etc/systemd/system /usr/lib/systemd/system"
# shellcheck disable=SC2034 # for the scripts that source this file
UNIT_STATE_DIR=/var/lib/ksbuild-test/systemd
RUN_STATE_DIR=/run/ksbuild-test

# unit_name NAME: NAME with .service added when it has no unit type, as systemctl does.
unit_name() {
    case $1 in
        *.service | *.socket | *.target | *.timer | *.path | *.mount | *.slice | *.scope | *.device) echo "$1" ;;
        *) echo "$1.service" ;;
    esac
}

is_masked() {
    [ "$(readlink "/etc/systemd/system/$1" 2>/dev/null)" = /dev/null ]
}

# unit_file UNIT: the unit's file; fails when there is none or the unit is masked.
unit_file() {
    is_masked "$1" && return 1
    for dir in $UNIT_DIRS; do
        if [ -f "$dir/$1" ]; then
            echo "$dir/$1"
            return 0
        fi
    done
    return 1
}

# unit_key FILE SECTION KEY: every value of KEY= in [SECTION], one a line, continuation lines joined.
unit_key() {
    awk -v section="[$2]" -v key="$3" '
        { line = $0 }
        joined != "" { line = joined line; joined = "" }
        /\\$/ { joined = substr(line, 1, length(line) - 1) " "; next }
        line ~ /^[ \t]*\[/ { current = line; gsub(/[ \t]/, "", current); next }
        current == section && line ~ "^[ \t]*" key "[ \t]*=" {
            sub("^[ \t]*" key "[ \t]*=[ \t]*", "", line)
            print line
        }
    ' "$1"
}

# wanted_by FILE: the targets the unit's [Install] section names (WantedBy= and RequiredBy=).
wanted_by() {
    { unit_key "$1" Install WantedBy; unit_key "$1" Install RequiredBy; } | tr ' ' '\n' | grep -v '^$'
}

# run_unit FILE: its ExecStart= commands in order, as Type=oneshot runs them; fails at the first
# failing command that has no "-" prefix.
run_unit() {
    mkdir -p "$RUN_STATE_DIR"
    commands=$RUN_STATE_DIR/exec.$$
    unit_key "$1" Service ExecStart > "$commands"
    status=0
    while IFS= read -r command; do
        ignore_failure=""
        while :; do
            case $command in
                -*) ignore_failure=1; command=${command#-} ;;
                [@+!]*) command=${command#?} ;;
                *) break ;;
            esac
        done
        [ -n "$command" ] || continue
        if ! /bin/sh -c "$command" < /dev/null && [ -z "$ignore_failure" ]; then
            status=1
            break
        fi
    done < "$commands"
    rm -f "$commands"
    return $status
}
