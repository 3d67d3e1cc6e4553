# shellcheck shell=sh
# Output of the test installer. Every line goes to the console and to /tmp/syslog; a background
# `tail -f` forwards /tmp/syslog to anaconda's virtio log port when the VM has one, as rsyslog does
# under anaconda. Forwarding in the background keeps a port nobody reads from stalling the install.

SYSLOG=/tmp/syslog
LOG_PORT_NAME=org.fedoraproject.anaconda.log.0
LOG_PORT=/dev/virtio-ports/$LOG_PORT_NAME
NL='
'
# Wall-clock seconds at boot (set by start_logging): stamps add /proc/uptime, which has the
# hundredths that busybox date lacks. Computed without forking: under TCG every fork is slow.
BOOT_EPOCH=0

# make_stamp: STAMP=HH:MM:SS,mmm (UTC, as the VM's clock runs).
make_stamp() {
    read -r up _ < /proc/uptime
    now=$((BOOT_EPOCH + ${up%.*}))
    hours=$((now / 3600 % 24))
    minutes=$((now / 60 % 60))
    seconds=$((now % 60))
    [ $hours -lt 10 ] && hours=0$hours
    [ $minutes -lt 10 ] && minutes=0$minutes
    [ $seconds -lt 10 ] && seconds=0$seconds
    STAMP="$hours:$minutes:$seconds,${up#*.}0"
}

# log_line LEVEL TAG TEXT: syslog only (like anaconda.log or program.log lines that skip the console).
log_line() {
    level=$1
    tag=$2
    shift 2
    make_stamp
    case $* in
        *"$NL"*)
            printf '%s\n' "$*" | while IFS= read -r text; do
                printf '%s %s %s: %s\n' "$STAMP" "$level" "$tag" "$text"
            done
            ;;
        *) printf '%s %s %s: %s\n' "$STAMP" "$level" "$tag" "$*" ;;
    esac >> "$SYSLOG"
}

# say TEXT: a console line, mirrored to the log port as anaconda's INFO.
say() {
    printf '%s\n' "$*"
    log_line INFO anaconda "$*"
}

# say_as LEVEL TAG TEXT: a console line logged under another program's name (dracut, program).
say_as() {
    level=$1
    tag=$2
    shift 2
    printf '%s\n' "$*"
    log_line "$level" "$tag" "$*"
}

sleep_forever() {
    while :; do
        sleep 3600
    done
}

# Give the forwarder (busybox tail polls once a second) time to pass on what was logged so far.
# Failure paths call it before their last line: a watcher that stops the VM on seeing that line on
# the console then finds the details in the log port too.
flush_log() {
    [ -n "$FORWARDER_PID" ] && sleep 1.5
    sync
}

# Make /dev/virtio-ports/<name> links as udev does; without udev only /dev/vportNpM exists.
link_virtio_ports() {
    for port in /sys/class/virtio-ports/*; do
        [ -r "$port/name" ] || continue
        name=$(cat "$port/name")
        [ -n "$name" ] || continue
        mkdir -p /dev/virtio-ports
        ln -sf "../${port##*/}" "/dev/virtio-ports/$name"
    done
}

start_logging() {
    read -r up _ < /proc/uptime
    BOOT_EPOCH=$(($(date +%s) - ${up%.*}))
    : > "$SYSLOG"
    make_stamp
    dmesg | sed "s/^/$STAMP INFO kernel: /" >> "$SYSLOG"
    # The control queue announces ports after the driver loads; give a present device a moment.
    for device in /sys/bus/virtio/drivers/virtio_console/virtio*; do
        [ -e "$device" ] || continue
        tries=0
        while [ ! -e "$LOG_PORT" ] && [ $tries -lt 30 ]; do
            link_virtio_ports
            [ -e "$LOG_PORT" ] || sleep 0.1
            tries=$((tries + 1))
        done
    done
    if [ -e "$LOG_PORT" ]; then
        tail -n +1 -f "$SYSLOG" > "$LOG_PORT" 2>/dev/null &
        FORWARDER_PID=$!
        log_line INFO anaconda "logging to $LOG_PORT"
    fi
}

# crash EXCEPTION REASON FILE:FUNCTION: an unexpected failure of the installer itself, shown the way
# an anaconda crash is (a Python-style traceback), then wait, as anaconda does for someone to look.
crash() {
    exception=$1
    reason=$2
    where=${3:-init:main}
    crash_lines "$exception" "$reason"
    {
        echo "Traceback (most recent call last):"
        echo "  File \"/usr/lib/ksbuild-installer/${where%%:*}\", in ${where#*:}"
        echo "$exception: $reason"
    } > /tmp/anaconda-tb-ksbuild
    flush_log
    while IFS= read -r line; do
        say_as CRITICAL anaconda "$line"
    done < /tmp/anaconda-tb-ksbuild
    sleep_forever
}
