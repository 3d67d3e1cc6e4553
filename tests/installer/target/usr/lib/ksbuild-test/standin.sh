# shellcheck shell=bash
# Shared by the test system's stand-ins for CentOS commands (systemctl, rpm, virsh...). Each records
# its command line in /var/log/ksbuild-standins.log so a test can see what %post or a unit ran.

STANDIN_LOG=/var/log/ksbuild-standins.log
# shellcheck disable=SC2034 # for the stand-ins that source this file
STATE_DIR=/var/lib/ksbuild-test

# record ARGV...: one line, each word quoted as the shell would need it.
record() {
    local line
    printf -v line ' %q' "$@"
    mkdir -p "${STANDIN_LOG%/*}"
    printf '%s\n' "${line# }" >> "$STANDIN_LOG"
}

# True when chrooted into the target (as %post is) rather than booted from it: / is not PID 1's root.
in_chroot() {
    [ "$(stat -c %d:%i / 2>/dev/null)" != "$(stat -c %d:%i /proc/1/root/ 2>/dev/null)" ]
}
