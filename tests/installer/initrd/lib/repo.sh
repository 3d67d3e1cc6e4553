# shellcheck shell=sh
# The installation source (inst.repo=). Like EL7's dracut, the repo must hold a .treeinfo; when it
# cannot be reached, the boot ends in dracut's emergency shell with dracut's own words.

REPO_DIR=/run/install/repo

dracut_warn() {
    say_as WARNING dracut-initqueue "dracut-initqueue[$$]: Warning: $*"
}

# What EL7 prints when the installer image never shows up: the initqueue times out and dracut drops
# to its emergency shell, where the machine waits.
could_not_boot() {
    dracut_warn "dracut-initqueue timeout - starting timeout scripts"
    dracut_warn "Could not boot."
    dracut_warn "/dev/root does not exist"
    say_as INFO systemd "         Starting Dracut Emergency Shell..."
    say_as WARNING dracut "Warning: /dev/root does not exist"
    say ""
    say "Generating \"/run/initramfs/rdsosreport.txt\""
    say ""
    say ""
    say "Entering emergency mode. Exit the shell to continue."
    say "Type \"journalctl\" to view system logs."
    say "You might want to save \"/run/initramfs/rdsosreport.txt\" to a USB stick or /boot"
    flush_log
    say "after mounting them and attach it to a bug report."
    sleep_forever
}

repo_cdrom() {
    wanted=$1
    tries=0
    # sr devices appear a little after the driver loads.
    while [ $tries -lt 50 ]; do
        for dev in ${wanted:-/dev/sr*}; do
            [ -b "$dev" ] || continue
            if mount -t iso9660 -o ro "$dev" "$REPO_DIR" 2>/dev/null; then
                if [ -s "$REPO_DIR/.treeinfo" ]; then
                    REPO_KIND=cdrom
                    log_line INFO anaconda "repo: $dev mounted on $REPO_DIR"
                    return 0
                fi
                log_line WARNING anaconda "repo: $dev has no .treeinfo"
                umount "$REPO_DIR"
                could_not_boot
            fi
        done
        sleep 0.2
        tries=$((tries + 1))
    done
    log_line ERROR anaconda "repo: no cdrom with an installation tree"
    could_not_boot
}

# Fetches are bounded with timeout(1): busybox 1.35's own `wget -T` crashes (SIGSEGV).
repo_http() {
    REPO_URL=${1%/}
    log_line INFO dracut "anaconda fetching installer from $REPO_URL"
    if [ -z "$NET_UP" ] ||
        ! timeout 20 wget -q -O /tmp/treeinfo "$REPO_URL/.treeinfo" 2> /tmp/treeinfo_err ||
        [ ! -s /tmp/treeinfo ]; then
        [ -s /tmp/treeinfo_err ] && log_line INFO dracut "$(cat /tmp/treeinfo_err)"
        dracut_warn "can't find installer mainimage path in .treeinfo"
        could_not_boot
    fi
    REPO_KIND=http
}

check_repo() {
    REPO=$(inst_arg repo method) || REPO=""
    case $REPO in
        cdrom) repo_cdrom "" ;;
        cdrom:*) repo_cdrom "${REPO#cdrom:}" ;;
        http://* | https://*) repo_http "$REPO" ;;
        "")
            log_line ERROR anaconda "no inst.repo= on the kernel command line"
            could_not_boot
            ;;
        *)
            log_line ERROR anaconda "inst.repo=$REPO: the test installer reads cdrom and http(s) repos only"
            could_not_boot
            ;;
    esac
}

# repo_fetch PATH DEST: copy a file of the installation tree, from the mounted disc or over HTTP.
repo_fetch() {
    if [ "$REPO_KIND" = cdrom ]; then
        cp "$REPO_DIR/$1" "$2"
    else
        timeout 60 wget -q -O "$2" "$REPO_URL/$1"
    fi
}
