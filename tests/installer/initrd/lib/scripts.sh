# shellcheck shell=sh
# Kickstart scripts, run the way anaconda 21.48 runs them (pyanaconda/kickstart.py, AnacondaKSScript):
# the body is written to /tmp/ks-script-N under the script's root and run by its interpreter with
# stdout and stderr going to the --log file (inside the target for chroot scripts) or, without --log,
# to /tmp/ks-script-N.log in the installer. %pre and --nochroot scripts run in the installer itself;
# other %post scripts run chrooted into /mnt/sysimage, with /dev, /proc, /sys and /run mounted there.

SCRIPT_PATH=/usr/bin:/usr/sbin:/bin:/sbin

# The text anaconda shows for a failed --erroronfail script (pyanaconda/errors.py) followed by the
# cmdline-mode farewell; then it waits 180 seconds and ends the way the kickstart says.
fatal_script_error() {
    lineno=$1
    messages=$2
    say ""
    say "There was an error running the kickstart script at line $lineno.  This is a fatal error and installation will be aborted.  The details of this error are:"
    say ""
    if [ -r "$messages" ]; then
        while IFS= read -r line; do say "$line"; done < "$messages"
    fi
    say ""
    flush_log
    say "The installer will now terminate."
    sleep 180
    umount_target
    # anaconda's exit handler reboots unless the kickstart asked for poweroff or halt.
    finish_action "${FINISH:-reboot}"
}

# run_script SEQ TYPE LINENO INTERPRETER LOG NOCHROOT ERRORONFAIL
run_script() {
    seq=$1
    lineno=$3
    interpreter=$4
    logfile=$5
    erroronfail=$7
    root=$TARGET
    if [ "$2" = pre ] || [ "$6" = 1 ]; then
        root=""
    fi
    name=ks-script-$seq
    mkdir -p "$root/tmp"
    cp "$KS_DIR/script.$seq" "$root/tmp/$name"
    chmod 0700 "$root/tmp/$name"
    if [ -n "$logfile" ]; then
        messages=$root$logfile
    else
        messages=/tmp/$name.log
    fi
    mkdir -p "$(dirname "$messages")"
    log_line INFO program "Running... $interpreter /tmp/$name"
    if [ -z "$root" ]; then
        (cd / && env -i PATH="$SCRIPT_PATH" HOME=/root TERM=linux LANG=en_US.UTF-8 \
            ANA_INSTALL_PATH="$TARGET" "$interpreter" "/tmp/$name") < /dev/null > "$messages" 2>&1
    else
        chroot "$root" /usr/bin/env -i PATH="$SCRIPT_PATH" HOME=/root TERM=linux LANG=en_US.UTF-8 \
            ANA_INSTALL_PATH="$TARGET" "$interpreter" "/tmp/$name" < /dev/null > "$messages" 2>&1
    fi
    rc=$?
    rm -f "$root/tmp/$name"
    while IFS= read -r line; do log_line INFO program "$line"; done < "$messages"
    log_line DEBUG program "Return code: $rc"
    if [ $rc -ne 0 ]; then
        log_line ERROR anaconda "Error code $rc running the kickstart script at line $lineno"
        [ "$erroronfail" = 1 ] && fatal_script_error "$lineno" "$messages"
    fi
    return 0
}

# run_scripts pre|post: every script of that kind, in kickstart order.
run_scripts() {
    [ -s "$KS_DIR/scripts" ] || return 0
    while IFS=$US read -r seq type lineno interpreter logfile nochroot erroronfail; do
        [ "$type" = "$1" ] || continue
        run_script "$seq" "$type" "$lineno" "$interpreter" "$logfile" "$nochroot" "$erroronfail" < /dev/null
    done < "$KS_DIR/scripts"
}

has_scripts() {
    [ -s "$KS_DIR/scripts" ] && cut -d "$US" -f 2 "$KS_DIR/scripts" | grep -qx "$1"
}
