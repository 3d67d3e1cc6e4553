# shellcheck shell=sh disable=SC2030,SC2031 # ifup runs in a subshell on purpose: each file's keys stay there
# The network service of CentOS 7's initscripts (9.49: `/etc/init.d/network start`, ifup, ifup-eth), reduced to
# what hypervisor kickstarts write in /etc/sysconfig/network-scripts, in the service's order:
#   1. every ifcfg file except bond slaves, VLANs and bridges, sorted as the service sorts them (name, then
#      number): NICs (a bridge port creates its bridge bare and joins it) and bonds (bonding driver,
#      BONDING_OPTS with mode first, then each MASTER=/SLAVE=yes file enslaved, `primary` after them);
#   2. VLANs (`ip link add ... type vlan` on PHYSDEV or the name's parent);
#   3. bridges, as ifup-eth applies one: `brctl addbr` if missing, `brctl setfd <br> $DELAY`, then
#      `brctl stp <br> $STP`.
# Then each device's MTU and address: static IPADDR with PREFIX or NETMASK, GATEWAY as the default route unless
# DEFROUTE=no, or DHCP (after the STP delay a bridge needs, as ifup-eth's LINKDELAY); ONBOOT=no is skipped and a
# HWADDR that is not the device's MAC refused. The guest kernel's own bridge, bonding and 8021q modules do the
# work, so the kernel's rules apply: with STP on it keeps a bridge's forward delay within 2-30 s.

NETWORK_SCRIPTS=/etc/sysconfig/network-scripts
IFUP_ETH=/etc/sysconfig/network-scripts/ifup-eth
# By its path, as ifup-eth calls it: busybox sh would run its own brctl applet, which lacks setfd and stp. On EL8,
# which has no bridge-utils, NetworkManager applies ifcfg files itself; the test system uses the same helper.
BRCTL=/usr/sbin/brctl
[ -x "$BRCTL" ] || BRCTL=/usr/lib/ksbuild-test/brctl

network_enabled() {
    is_masked network.service && return 1
    [ "$(cat "$UNIT_STATE_DIR/network.service" 2>/dev/null)" != disabled ]
}

netmask_prefix() {
    bits=0
    old_ifs=$IFS
    IFS=.
    for octet in $1; do
        case $octet in
            255) bits=$((bits + 8)) ;; 254) bits=$((bits + 7)) ;; 252) bits=$((bits + 6)) ;;
            248) bits=$((bits + 5)) ;; 240) bits=$((bits + 4)) ;; 224) bits=$((bits + 3)) ;;
            192) bits=$((bits + 2)) ;; 128) bits=$((bits + 1)) ;;
        esac
    done
    IFS=$old_ifs
    echo "$bits"
}

is_yes() {
    case $1 in yes | YES | Yes | y | Y | true | TRUE | True | on | ON | 1) return 0 ;; esac
    return 1
}

is_no() {
    case $1 in no | NO | No | n | N | false | FALSE | False | off | OFF | 0) return 0 ;; esac
    return 1
}

# net_log MESSAGE: initscripts' net_log, as it reaches the console.
net_log() {
    echo "ERROR    : [$IFUP_ETH] $1"
}

# The ifcfg names the service brings up, in its order: ignored files left out, then sorted by the part before
# the first digit and numerically by the rest (eno2 before eno10).
service_order() {
    for file in "$NETWORK_SCRIPTS"/ifcfg-*; do
        [ -f "$file" ] || continue
        name=${file##*/ifcfg-}
        case $name in lo | *~ | *.bak | *.old | *.orig | *.rpmnew | *.rpmorig | *.rpmsave | *:* | *-range*) continue ;; esac
        echo "$name"
    done | sed 's/[0-9]/ &/' | LC_ALL=C sort -k 1,1 -k 2n | sed 's/ //'
}

install_bonding_driver() {
    [ -f /sys/class/net/bonding_masters ] || modprobe bonding || return 1
    [ -d "/sys/class/net/$1/bonding" ] || echo "+$1" > /sys/class/net/bonding_masters 2> /dev/null
    [ -d "/sys/class/net/$1/bonding" ] || return 1
    [ -n "$BONDING_OPTS" ] || return 0
    ip link set dev "$1" down
    # mode first (it can only change while the bond is down and empty), primary once the slaves are in.
    for option in $BONDING_OPTS; do
        [ "${option%%=*}" = mode ] && echo "${option#*=}" > "/sys/class/net/$1/bonding/mode"
    done
    for option in $BONDING_OPTS; do
        case ${option%%=*} in mode | primary) continue ;; esac
        echo "${option#*=}" > "/sys/class/net/$1/bonding/${option%%=*}"
    done
    return 0
}

# ifup NAME: /sbin/ifup with ifup-eth, for one ifcfg file, in a subshell of its own (the file's keys stay there).
ifup() (
    DEVICE="" TYPE="" BRIDGE="" MASTER="" SLAVE="" ONBOOT="" BOOTPROTO="" IPADDR="" NETMASK="" PREFIX=""
    GATEWAY="" DEFROUTE="" STP="" DELAY="" VLAN="" PHYSDEV="" BONDING_OPTS="" BONDING_MASTER="" HWADDR="" MTU=""
    # shellcheck disable=SC1090 # ifcfg files are shell assignments, read as initscripts reads them
    . "$NETWORK_SCRIPTS/ifcfg-$1"
    DEVICE=${DEVICE:-$1}
    [ "$BONDING_MASTER" = yes ] && TYPE=Bond
    is_yes "$VLAN" && { add_vlan || exit 1; }
    if [ -n "$HWADDR" ] && [ -e "/sys/class/net/$DEVICE" ]; then
        found=$(tr 'A-F' 'a-f' < "/sys/class/net/$DEVICE/address")
        if [ "$found" != "$(echo "$HWADDR" | tr 'A-F' 'a-f')" ]; then
            net_log "Device $DEVICE has different MAC address than expected, ignoring."
            exit 1
        fi
    fi
    if [ "$TYPE" = Bridge ]; then
        [ -d "/sys/class/net/$DEVICE/bridge" ] || "$BRCTL" addbr "$DEVICE" || exit 1
        [ -n "$DELAY" ] && "$BRCTL" setfd "$DEVICE" "$DELAY"
        if is_yes "$STP"; then
            "$BRCTL" stp "$DEVICE" on
        elif is_no "$STP"; then
            "$BRCTL" stp "$DEVICE" off
        fi
    fi
    [ "$TYPE" = Bond ] && install_bonding_driver "$DEVICE"
    if [ ! -e "/sys/class/net/$DEVICE" ]; then
        net_log "Device $DEVICE does not seem to be present, delaying initialization."
        exit 1
    fi
    [ -n "$MTU" ] && ip link set dev "$DEVICE" mtu "$MTU"
    if is_yes "$SLAVE" && [ -n "$MASTER" ]; then
        install_bonding_driver "$MASTER"
        grep -qw "$DEVICE" "/sys/class/net/$MASTER/bonding/slaves" 2> /dev/null || {
            ip link set dev "$DEVICE" down
            echo "+$DEVICE" > "/sys/class/net/$MASTER/bonding/slaves"
        }
        exit 0
    fi
    if [ "$TYPE" = Bond ]; then
        ip link set dev "$DEVICE" up
        grep -l "^[[:space:]]*MASTER=['\"]\?${DEVICE}['\"]\?\([[:space:]#]\|$\)" "$NETWORK_SCRIPTS"/ifcfg-* |
            while IFS= read -r file; do
                case $file in *~ | *.bak | *.old | *.orig | *.rpmnew | *.rpmorig | *.rpmsave) continue ;; esac
                ifup "${file##*/ifcfg-}" || echo "Unable to start slave device ${file##*/ifcfg-} for master $DEVICE."
            done
        for option in $BONDING_OPTS; do
            [ "${option%%=*}" = primary ] && echo "${option#*=}" > "/sys/class/net/$DEVICE/bonding/primary"
        done
    fi
    if [ -n "$BRIDGE" ]; then
        [ -d "/sys/class/net/$BRIDGE/bridge" ] || "$BRCTL" addbr "$BRIDGE" 2> /dev/null
        ip addr flush dev "$DEVICE" 2> /dev/null
        ip link set dev "$DEVICE" up
        "$BRCTL" addif "$BRIDGE" "$DEVICE"
        exit
    fi
    configure_address
)

# What /sbin/ifup does first for VLAN=yes: the id and parent from the name (and PHYSDEV), 8021q, the device.
add_vlan() {
    case $DEVICE in
        vlan[0-9]*) vid=${DEVICE#vlan} ;;
        *.[0-9]*) vid=${DEVICE##*.}; PHYSDEV=${PHYSDEV:-${DEVICE%.*}} ;;
        *) return 0 ;;
    esac
    vid=$(echo "$vid" | sed 's/^0*//')
    if [ -z "$PHYSDEV" ]; then
        net_log "PHYSDEV should be set for device $DEVICE"
        return 1
    fi
    [ -d /proc/net/vlan ] || modprobe 8021q || { net_log "No 802.1Q VLAN support available in kernel for device $DEVICE"; return 1; }
    if [ ! -e "/sys/class/net/$PHYSDEV" ]; then
        net_log "Device $PHYSDEV does not seem to be present, delaying initialization."
        return 1
    fi
    ip link set dev "$PHYSDEV" up
    [ -e "/proc/net/vlan/$DEVICE" ] && return 0
    ip link add dev "$DEVICE" link "$PHYSDEV" type vlan id "${vid:-0}" || {
        net_log "ERROR: could not add vlan $vid as $DEVICE on dev $PHYSDEV"
        return 1
    }
}

configure_address() {
    ip link set dev "$DEVICE" up || { net_log "Failed to bring up $DEVICE."; return 1; }
    if [ "$BOOTPROTO" = dhcp ] || [ "$BOOTPROTO" = bootp ]; then
        # ifup-eth's LINKDELAY: an STP bridge forwards only after listening and learning (2 x DELAY), + 7 s.
        if [ "$TYPE" = Bridge ] && is_yes "$STP"; then
            centis=$(cat "/sys/class/net/$DEVICE/bridge/forward_delay")
            wait=$((centis * 2 / 100 + 7))
            while [ "$(cat "/sys/class/net/$DEVICE/carrier" 2> /dev/null)" != 1 ] && [ "$wait" -gt 0 ]; do
                sleep 1
                wait=$((wait - 1))
            done
        fi
        printf 'Determining IP information for %s...' "$DEVICE"
        if udhcpc -i "$DEVICE" -n -q -t 3 -T 1 -s /usr/share/udhcpc/default.script > /dev/null 2>&1; then
            echo " done."
        else
            echo " failed."
            return 1
        fi
        is_no "$DEFROUTE" && ip route del default dev "$DEVICE" 2> /dev/null
        return 0
    fi
    [ -n "$IPADDR" ] || return 0
    prefix=$PREFIX
    [ -z "$prefix" ] && [ -n "$NETMASK" ] && prefix=$(netmask_prefix "$NETMASK")
    ip addr add "$IPADDR/${prefix:-24}" dev "$DEVICE" || { net_log "Error adding address $IPADDR for $DEVICE."; return 1; }
    if [ -n "$GATEWAY" ] && ! is_no "$DEFROUTE"; then
        ip route replace default via "$GATEWAY" || net_log "Error adding default gateway $GATEWAY for $DEVICE."
    fi
    return 0
}

# action TEXT COMMAND...: the service's status line after the command's own output.
action() {
    text=$1
    shift
    if "$@"; then
        echo "$text  [  OK  ]"
    else
        echo "$text  [FAILED]"
    fi
}

# The test system's release (VERSION_ID of /etc/os-release, written by the installer's persona).
release() {
    sed -n 's/^VERSION_ID="\{0,1\}\([0-9]*\).*/\1/p' /etc/os-release
}

# Who brings the devices up: CentOS 7's network service (ifcfg files), EL8's NetworkManager or network service
# (both read ifcfg files there; NetworkManager through its ifcfg-rh plugin), EL9's NetworkManager (keyfiles).
start_network() {
    case $(release) in
        9)
            start_networkmanager
            return 0
            ;;
        8)
            if ! network_enabled && ! nm_enabled; then
                echo "ksbuild test system: neither NetworkManager nor network.service is enabled; ifcfg files not applied"
                return 0
            fi
            ;;
        *)
            if ! network_enabled; then
                echo "ksbuild test system: network.service is disabled; ifcfg files not applied"
                return 0
            fi
            ;;
    esac
    ip link set lo up
    echo "Bringing up loopback interface:  [  OK  ]"
    vlans=""
    bridges=""
    for name in $(service_order); do
        info=$(DEVICE="" TYPE="" SLAVE="" ONBOOT=""
               # shellcheck disable=SC1090
               . "$NETWORK_SCRIPTS/ifcfg-$name"; echo "${DEVICE:-$name} ${TYPE:--} ${SLAVE:--} ${ONBOOT:--}")
        # shellcheck disable=SC2086 # four words
        set -- $info
        is_yes "$3" && continue
        case $4 in no | NO | No) continue ;; esac
        if [ "$2" = Bridge ]; then
            bridges="$bridges $name"
            continue
        fi
        case $1 in *.* | vlan*) vlans="$vlans $name"; continue ;; esac
        action "Bringing up interface $name:" ifup "$name"
    done
    for name in $vlans $bridges; do
        action "Bringing up interface $name:" ifup "$name"
    done
}

# NIC names as the installed system's own udev gives them from NAME= rules in /etc/udev/rules.d, in the form
#   SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{type}=="1", ATTR{address}=="<mac>", NAME="<name>"
# (DRIVERS=="?*": a device with a driver; ATTR{type}=="1": ethernet): every NIC that matches is renamed, through a
# temporary name first so that two names can swap. The kernel command line's dracut ifname= is not honoured: an
# installed system's host-only initramfs has no dracut network module (40network is included only when another
# module needs it, such as a network root), so on a local-disk host it names nothing.
name_nics_from_udev_rules() {
    renames=""
    count=0
    for file in /etc/udev/rules.d/*.rules; do
        [ -e "$file" ] || continue
        while IFS= read -r rule || [ -n "$rule" ]; do
            case $rule in *'SUBSYSTEM=="net"'*'ACTION=="add"'*) ;; *) continue ;; esac
            mac=$(echo "$rule" | sed -n 's/.*ATTR{address}=="\([0-9A-Fa-f:]*\)".*/\1/p' | tr 'A-F' 'a-f')
            name=$(echo "$rule" | sed -n 's/.*[ ,]NAME="\([A-Za-z0-9_.:-]*\)".*/\1/p')
            [ -n "$mac" ] && [ -n "$name" ] || continue
            for dev in /sys/class/net/*; do
                case $rule in *'DRIVERS=="?*"'*) [ -e "$dev/device" ] || continue ;; esac
                case $rule in *'ATTR{type}=="1"'*) [ "$(cat "$dev/type")" = 1 ] || continue ;; esac
                [ "$(cat "$dev/address")" = "$mac" ] || continue
                count=$((count + 1))
                ip link set dev "${dev##*/}" name "ksbnic$count" && renames="$renames ksbnic$count:$name:$mac"
            done
        done < "$file"
    done
    for rename in $renames; do
        temporary=${rename%%:*}
        rest=${rename#*:}
        ip link set dev "$temporary" name "${rest%%:*}" && echo "ksbuild test system: udev: ${rest#*:} is ${rest%%:*}"
    done
}

# What libvirtd does at start for networks marked autostart: create their bridge and address.
start_libvirt_networks() {
    # libvirtd, or on EL9 the network driver's own daemon (its service or its socket).
    for unit in libvirtd.service virtnetworkd.service virtnetworkd.socket ""; do
        [ -n "$unit" ] || return 0
        [ "$(cat "$UNIT_STATE_DIR/$unit" 2>/dev/null)" = enabled ] && break
    done
    mkdir -p "$RUN_STATE_DIR/libvirt-active"
    for file in /etc/libvirt/qemu/networks/autostart/*.xml; do
        [ -e "$file" ] || continue
        name=$(sed -n 's/.*<name>\([^<]*\)<\/name>.*/\1/p' "$file" | head -n 1)
        bridge=$(sed -n "s/.*<bridge [^>]*name='\([^']*\)'.*/\1/p" "$file" | head -n 1)
        address=$(sed -n "s/.*<ip address='\([^']*\)'.*/\1/p" "$file" | head -n 1)
        netmask=$(sed -n "s/.*<ip [^>]*netmask='\([^']*\)'.*/\1/p" "$file" | head -n 1)
        if [ -n "$bridge" ]; then
            brctl addbr "$bridge" 2>/dev/null
            [ -n "$address" ] && ip addr add "$address/$(netmask_prefix "${netmask:-255.255.255.0}")" dev "$bridge"
            ip link set "$bridge" up
        fi
        : > "$RUN_STATE_DIR/libvirt-active/$name"
        echo "ksbuild test system: libvirt network $name active${bridge:+ on $bridge}"
    done
}
