# shellcheck shell=sh
# System configuration after the "packages" (what anaconda writes before %post runs), and the end of
# the install.

# netmask_prefix A.B.C.D: the prefix length of a dotted netmask.
netmask_prefix() {
    bits=0
    old_ifs=$IFS
    IFS=.
    for octet in $1; do
        case $octet in
            255) bits=$((bits + 8)) ;;
            254) bits=$((bits + 7)) ;;
            252) bits=$((bits + 6)) ;;
            248) bits=$((bits + 5)) ;;
            240) bits=$((bits + 4)) ;;
            224) bits=$((bits + 3)) ;;
            192) bits=$((bits + 2)) ;;
            128) bits=$((bits + 1)) ;;
        esac
    done
    IFS=$old_ifs
    echo "$bits"
}

# EL9: anaconda 34 copies the installer's NetworkManager connection to the target as a keyfile named after the
# device (NetworkInstallationTask._copy_device_config_files, docs/targets.md §3), mode 0600.
write_network_keyfile() {
    keyfile=$TARGET/etc/NetworkManager/system-connections/$NIC.nmconnection
    mkdir -p "${keyfile%/*}"
    {
        echo "[connection]"
        echo "id=$NIC"
        echo "uuid=$(cat /proc/sys/kernel/random/uuid)"
        echo "type=ethernet"
        echo "interface-name=$NIC"
        [ "$1" = no ] && echo "autoconnect=false"
        echo ""
        echo "[ethernet]"
        echo ""
        echo "[ipv4]"
        if [ "$NET_BOOTPROTO" = static ] && [ -n "$NET_IP" ]; then
            echo "address1=$NET_IP/$(netmask_prefix "${NET_NETMASK:-255.255.255.0}")${NET_GATEWAY:+,$NET_GATEWAY}"
            echo "method=manual"
        else
            echo "method=auto"
        fi
        echo ""
        echo "[ipv6]"
        echo "addr-gen-mode=eui64"
        echo "method=auto"
        echo ""
        echo "[proxy]"
    } > "$keyfile"
    chmod 0600 "$keyfile"
}

# The installer's connection for the NIC it used, as anaconda leaves it on the target: an ifcfg file in the shape
# anaconda 21.48 writes one (CentOS 7; EL8's NetworkManager writes ifcfg files too, with a few more keys this
# stand-in leaves out), or on EL9 a keyfile.
write_network_config() {
    echo "# Created by anaconda" > "$TARGET/etc/sysconfig/network"
    [ -n "$NIC" ] || return 0
    onboot=yes
    case $NET_ONBOOT in no | off | 0 | false) onboot=no ;; esac
    if [ "$PERSONA" = 9 ]; then
        write_network_keyfile "$onboot"
        return 0
    fi
    {
        echo "TYPE=Ethernet"
        if [ "$NET_BOOTPROTO" = static ] && [ -n "$NET_IP" ]; then
            echo "BOOTPROTO=none"
            echo "IPADDR=$NET_IP"
            [ -n "$NET_NETMASK" ] && echo "PREFIX=$(netmask_prefix "$NET_NETMASK")"
            [ -n "$NET_GATEWAY" ] && echo "GATEWAY=$NET_GATEWAY"
        else
            echo "BOOTPROTO=dhcp"
        fi
        echo "DEFROUTE=yes"
        echo "IPV4_FAILURE_FATAL=no"
        echo "IPV6INIT=yes"
        echo "IPV6_AUTOCONF=yes"
        echo "IPV6_DEFROUTE=yes"
        echo "IPV6_FAILURE_FATAL=no"
        echo "IPV6_ADDR_GEN_MODE=stable-privacy"
        echo "NAME=$NIC"
        echo "UUID=$(cat /proc/sys/kernel/random/uuid)"
        echo "DEVICE=$NIC"
        echo "ONBOOT=$onboot"
    } > "$TARGET/etc/sysconfig/network-scripts/ifcfg-$NIC"
}

# The keyboard as anaconda leaves it: it asks systemd-localed, which writes vconsole.conf and 00-keyboard.conf.
write_keyboard_config() {
    keymap=${KS_VCKEYMAP:-us}
    layouts=${KS_XLAYOUTS:-$keymap}
    printf 'KEYMAP="%s"\nFONT="latarcyrheb-sun16"\n' "$keymap" > "$TARGET/etc/vconsole.conf"
    # "de (nodeadkeys),us" -> XkbLayout "de,us", XkbVariant "nodeadkeys,"
    x_layout=""
    x_variant=""
    has_variant=no
    old_ifs=$IFS
    IFS=,
    for entry in $layouts; do
        case $entry in
            *" ("*")") name=${entry%% (*}; variant=${entry#* (}; variant=${variant%)}; has_variant=yes ;;
            *) name=$entry; variant="" ;;
        esac
        x_layout="$x_layout,$name"
        x_variant="$x_variant,$variant"
    done
    IFS=$old_ifs
    mkdir -p "$TARGET/etc/X11/xorg.conf.d"
    {
        echo "# Written by systemd-localed(8), read by systemd-localed and Xorg. It's"
        echo "# probably wise not to edit this file manually. Use localectl(1) to"
        echo "# instruct systemd-localed to update it."
        echo 'Section "InputClass"'
        echo '        Identifier "system-keyboard"'
        echo '        MatchIsKeyboard "on"'
        echo "        Option \"XkbLayout\" \"${x_layout#,}\""
        [ "$has_variant" = yes ] && echo "        Option \"XkbVariant\" \"${x_variant#,}\""
        [ -n "$KS_SWITCH" ] && echo "        Option \"XkbOptions\" \"$KS_SWITCH\""
        echo 'EndSection'
    } > "$TARGET/etc/X11/xorg.conf.d/00-keyboard.conf"
}

set_unit_state() {
    unit=$1
    case $unit in *.*) ;; *) unit=$unit.service ;; esac
    echo "$2" > "$TARGET/var/lib/ksbuild-test/systemd/$unit"
}

configure_system() {
    say "Performing post-installation setup tasks"
    say "Configuring installed system"
    echo "${KS_HOSTNAME:-localhost.localdomain}" > "$TARGET/etc/hostname"
    [ -n "$KS_SELINUX" ] && sed -i "s/^SELINUX=.*/SELINUX=$KS_SELINUX/" "$TARGET/etc/selinux/config"
    [ "$KS_FIREWALL" = disabled ] && set_unit_state firewalld.service disabled
    for unit in $SERVICES_DISABLED; do set_unit_state "$unit" disabled; done
    for unit in $SERVICES_ENABLED; do set_unit_state "$unit" enabled; done
    write_keyboard_config
    printf 'UUID=%s /                       ext4    defaults        1 1\n' "$ROOT_UUID" > "$TARGET/etc/fstab"
    [ -n "$ESP_PART" ] && printf 'UUID=%s          /boot/efi               vfat    umask=0077,shortname=winnt 0 0\n' \
        "$ESP_UUID" >> "$TARGET/etc/fstab"
    cp "$KS_FILE" "$TARGET/root/anaconda-ks.cfg"
    chmod 0600 "$TARGET/root/anaconda-ks.cfg"
    say "Writing network configuration"
    write_network_config
    say "Creating users"
    say "Configuring addons"
    [ "$KDUMP" = enabled ] && set_unit_state kdump.service enabled
    say "Generating initramfs"
}

copy_logs() {
    mkdir -p "$TARGET/var/log/anaconda"
    cp /tmp/syslog "$TARGET/var/log/anaconda/syslog"
    for log in /tmp/ks-script-*.log; do
        [ -e "$log" ] && cp "$log" "$TARGET/var/log/anaconda/"
    done
    cp /tmp/ks/packages "$TARGET/var/log/anaconda/packages" 2>/dev/null
    return 0
}

# finish_action reboot|poweroff|halt: end the install the way anaconda's exit handler does.
finish_action() {
    log_line INFO anaconda "finish action: $1"
    flush_log
    case $1 in
        reboot) reboot -f ;;
        poweroff) poweroff -f ;;
        halt) halt -f ;;
    esac
    sleep_forever
}

finish_install() {
    copy_logs
    umount_target
    case $FINISH in
        reboot | poweroff | halt) finish_action "$FINISH" ;;
    esac
    # No reboot or poweroff: anaconda's cmdline mode waits for Enter, which never comes.
    say "	Installation complete.  Press return to quit"
    sleep_forever
}
