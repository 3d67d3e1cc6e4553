# shellcheck shell=sh
# The kickstart: where it comes from (inst.ks=), how it is read (ks-parse.awk) and what its commands
# set. Disk layout commands are accepted but the layout is fixed (see disk.sh).

KS_FILE=/run/install/ks.cfg
KS_DIR=/tmp/ks
US=$(printf '\037')

# anaconda's words for a kickstart it cannot read (pyanaconda/kickstart.py and pykickstart), after
# which anaconda stops.
ks_error() {
    say ""
    say "An error occurred during reading the kickstart file:"
    say "The following problem occurred on line $1 of the kickstart file:"
    say ""
    say "$2"
    say ""
    flush_log
    say "The installer will now terminate."
    sleep_forever
}

fetch_kickstart() {
    source=$(inst_arg ks) || source=""
    case $source in
        "")
            # Without a kickstart anaconda would ask questions, which cmdline mode cannot. (anaconda 33/34 raise
            # NonInteractiveError there; its message text for this case was not found [N]: 21.48's is reused.)
            if [ "$PERSONA" = 7 ]; then exception=RuntimeError; else exception=NonInteractiveError; fi
            crash "$exception" "Can't have a question in command line mode!" "kickstart.sh:fetch_kickstart"
            ;;
        file:*)
            path=${source#file:}
            cp "$path" "$KS_FILE" 2>/dev/null ||
                ks_error 0 "Unable to open input kickstart file: Could not open/read $source"
            ;;
        http://* | https://*)
            if [ -z "$NET_UP" ] || ! timeout 20 wget -q -O "$KS_FILE" "$source" 2>/tmp/ks_fetch_err; then
                dracut_warn "failed to fetch kickstart from $source"
                ks_error 0 "Unable to open input kickstart file: Could not open/read $source"
            fi
            ;;
        cdrom:*)
            path=${source#cdrom:}
            if [ "$REPO_KIND" != cdrom ] || ! cp "$REPO_DIR/${path#/}" "$KS_FILE" 2>/dev/null; then
                ks_error 0 "Unable to open input kickstart file: Could not open/read $source"
            fi
            ;;
        *)
            ks_error 0 "Unable to open input kickstart file: the test installer reads file:, cdrom: and http(s): kickstarts, not $source"
            ;;
    esac
    log_line INFO anaconda "kickstart from $source"
}

# parse_kickstart pre|full
parse_kickstart() {
    rm -rf "$KS_DIR"
    mkdir -p "$KS_DIR"
    if ! awk -v ks="$KS_FILE" -v out="$KS_DIR" -v mode="$1" -f /usr/lib/ksbuild-installer/ks-parse.awk; then
        if [ -s "$KS_DIR/error" ]; then
            IFS=$US read -r lineno message < "$KS_DIR/error"
            ks_error "$lineno" "$message"
        fi
        crash KickstartParseError "the kickstart parser failed" "kickstart.sh:parse_kickstart"
    fi
}

# option_value NAME WORD NEXT: the value of --NAME=value, or of --NAME value (NEXT is the value).
option_value() {
    case $2 in
        "--$1="*) echo "${2#--"$1"=}" ;;
        "--$1") echo "$3" ;;
        *) return 1 ;;
    esac
}

# Commands the test installer honours; everything else is accepted and ignored (see README.md).
apply_commands() {
    FINISH=""
    KS_HOSTNAME=""
    KS_SELINUX=""
    KS_FIREWALL=""
    SERVICES_ENABLED=""
    SERVICES_DISABLED=""
    BOOT_APPEND=""
    NET_BOOTPROTO=""
    NET_IP=""
    NET_NETMASK=""
    NET_GATEWAY=""
    NET_ONBOOT=""
    KS_VCKEYMAP=""
    KS_XLAYOUTS=""
    KS_SWITCH=""
    set -f
    while IFS=$US read -r lineno command rest; do
        old_ifs=$IFS
        IFS=$US
        # shellcheck disable=SC2086 # split the words the parser separated
        set -- $rest
        IFS=$old_ifs
        case $command in
            reboot) FINISH=reboot ;;
            poweroff | shutdown) FINISH=poweroff ;;
            halt) FINISH=halt ;;
            selinux)
                for word in "$@"; do
                    case $word in
                        --disabled) KS_SELINUX=disabled ;;
                        --permissive) KS_SELINUX=permissive ;;
                        --enforcing) KS_SELINUX=enforcing ;;
                    esac
                done
                ;;
            firewall)
                for word in "$@"; do
                    case $word in
                        --disabled) KS_FIREWALL=disabled ;;
                        --enabled | --enable) KS_FIREWALL=enabled ;;
                    esac
                done
                ;;
            services | bootloader | network | keyboard)
                while [ $# -gt 0 ]; do
                    word=$1
                    next=${2:-}
                    shift
                    case "$command:$word" in
                        services:--enabled*) SERVICES_ENABLED="$SERVICES_ENABLED $(option_value enabled "$word" "$next" | tr ',' ' ')" ;;
                        services:--disabled*) SERVICES_DISABLED="$SERVICES_DISABLED $(option_value disabled "$word" "$next" | tr ',' ' ')" ;;
                        bootloader:--append*) BOOT_APPEND=$(option_value append "$word" "$next") ;;
                        network:--hostname*) KS_HOSTNAME=$(option_value hostname "$word" "$next") ;;
                        network:--bootproto*) NET_BOOTPROTO=$(option_value bootproto "$word" "$next") ;;
                        network:--ip*) NET_IP=$(option_value ip "$word" "$next") ;;
                        network:--netmask*) NET_NETMASK=$(option_value netmask "$word" "$next") ;;
                        network:--gateway*) NET_GATEWAY=$(option_value gateway "$word" "$next") ;;
                        network:--onboot*) NET_ONBOOT=$(option_value onboot "$word" "$next") ;;
                        keyboard:--vckeymap*) KS_VCKEYMAP=$(option_value vckeymap "$word" "$next") ;;
                        keyboard:--xlayouts*) KS_XLAYOUTS=$(option_value xlayouts "$word" "$next") ;;
                        keyboard:--switch*) KS_SWITCH=$(option_value switch "$word" "$next") ;;
                        *) continue ;;
                    esac
                    case $word in *=*) ;; *) [ $# -gt 0 ] && shift ;; esac
                done
                ;;
        esac
        log_line DEBUG anaconda "kickstart line $lineno: $command"
    done < "$KS_DIR/commands"
    set +f
    apply_addons
}

# The addons the test installer knows, as anaconda's addons do it in their setup(): com_redhat_kdump replaces
# every crashkernel= of the boot loader arguments with its own (none when disabled) and, when enabled, adds
# kexec-tools to the packages; configure_system enables kdump.service (the addon's execute()).
apply_addons() {
    KDUMP=""
    set -f
    while IFS=$US read -r lineno name rest; do
        [ "$name" = com_redhat_kdump ] || continue
        KDUMP=enabled
        reserve=128
        old_ifs=$IFS
        IFS=$US
        # shellcheck disable=SC2086 # split the words the parser separated
        set -- $rest
        IFS=$old_ifs
        while [ $# -gt 0 ]; do
            case $1 in
                --enable) KDUMP=enabled ;;
                --disable) KDUMP=disabled ;;
                --reserve-mb=*) reserve=${1#--reserve-mb=} ;;
                --reserve-mb) reserve=${2:-}; [ $# -gt 1 ] && shift ;;
            esac
            shift
        done
        reserve=${reserve%M}
        kept=""
        for arg in $BOOT_APPEND; do
            case $arg in crashkernel=*) ;; *) kept="$kept $arg" ;; esac
        done
        BOOT_APPEND=${kept# }
        if [ "$KDUMP" = enabled ]; then
            case $reserve in auto) BOOT_APPEND="$BOOT_APPEND crashkernel=auto" ;; *) BOOT_APPEND="$BOOT_APPEND crashkernel=${reserve}M" ;; esac
            BOOT_APPEND=${BOOT_APPEND# }
            grep -qx kexec-tools "$KS_DIR/packages" || echo kexec-tools >> "$KS_DIR/packages"
        fi
        log_line DEBUG anaconda "kickstart line $lineno: %addon $name: kdump $KDUMP"
    done < "$KS_DIR/addons"
    set +f
}

# The %packages entries that name packages (not @groups, not -exclusions), as written.
package_names() {
    grep -v -e '^@' -e '^-' "$KS_DIR/packages" || true
}

excluded() {
    grep -qx -e "-$1" "$KS_DIR/packages"
}
