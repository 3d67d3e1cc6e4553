# shellcheck shell=sh
# The network service of CentOS 7's initscripts, reduced to what hypervisor kickstarts write in
# /etc/sysconfig/network-scripts: bridges (TYPE=Bridge, STP=, DELAY=), bonds (TYPE=Bond or
# BONDING_MASTER=yes, BONDING_OPTS=), VLANs (VLAN=yes), ports (BRIDGE=, MASTER= with SLAVE=yes),
# static IPADDR with PREFIX or NETMASK and GATEWAY, DHCP, ONBOOT. busybox brctl lacks stp and setfd,
# so STP= and DELAY= are written to the bridge's sysfs files, which is what those commands do.

NETWORK_SCRIPTS=/etc/sysconfig/network-scripts

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
    case $1 in yes | YES | Yes | y | Y | true | on | 1) return 0 ;; esac
    return 1
}

create_master() {
    if [ "$TYPE" = Bridge ]; then
        [ -e "/sys/class/net/$DEVICE" ] || brctl addbr "$DEVICE" || return 1
        stp=0
        is_yes "$STP" && stp=1
        echo "$stp" > "/sys/class/net/$DEVICE/bridge/stp_state"
        # DELAY is in seconds; sysfs counts hundredths.
        [ -n "$DELAY" ] && echo $((DELAY * 100)) > "/sys/class/net/$DEVICE/bridge/forward_delay"
    else
        [ -e "/sys/class/net/$DEVICE" ] || ip link add "$DEVICE" type bond || return 1
        for option in $BONDING_OPTS; do
            echo "${option#*=}" > "/sys/class/net/$DEVICE/bonding/${option%%=*}" 2>/dev/null
        done
    fi
    return 0
}

join_master() {
    if [ -n "$BRIDGE" ]; then
        brctl addif "$BRIDGE" "$DEVICE"
    elif [ -n "$MASTER" ] && is_yes "$SLAVE"; then
        ip link set "$DEVICE" down
        ip link set "$DEVICE" master "$MASTER"
    fi
}

configure_address() {
    ip link set "$DEVICE" up
    if [ -n "$IPADDR" ]; then
        prefix=$PREFIX
        [ -z "$prefix" ] && [ -n "$NETMASK" ] && prefix=$(netmask_prefix "$NETMASK")
        ip addr add "$IPADDR/${prefix:-24}" dev "$DEVICE" || return 1
        [ -n "$GATEWAY" ] && ip route add default via "$GATEWAY" dev "$DEVICE" 2>/dev/null
    elif [ "$BOOTPROTO" = dhcp ] && [ -z "$BRIDGE" ] && [ -z "$MASTER" ]; then
        udhcpc -i "$DEVICE" -n -q -t 2 -T 1 -s /usr/share/udhcpc/default.script > /dev/null 2>&1
    fi
    return 0
}

# apply_ifcfg master|device FILE: one ifcfg file, in the pass that handles its kind of device.
apply_ifcfg() {
    DEVICE="" TYPE="" BRIDGE="" MASTER="" SLAVE="" ONBOOT="" BOOTPROTO="" IPADDR="" NETMASK=""
    PREFIX="" GATEWAY="" STP="" DELAY="" VLAN="" PHYSDEV="" BONDING_OPTS="" BONDING_MASTER=""
    # shellcheck disable=SC1090 # ifcfg files are shell assignments, read as initscripts reads them
    . "$2"
    DEVICE=${DEVICE:-${2##*/ifcfg-}}
    [ "$BONDING_MASTER" = yes ] && TYPE=Bond
    case "$1:$TYPE" in
        master:Bridge | master:Bond) create_master || { echo "ksbuild test system: cannot create $DEVICE"; return; } ;;
        master:*) return ;;
        device:Bridge | device:Bond) return ;;
    esac
    if is_yes "$VLAN" && [ ! -e "/sys/class/net/$DEVICE" ]; then
        physdev=${PHYSDEV:-${DEVICE%.*}}
        ip link add link "$physdev" name "$DEVICE" type vlan id "${DEVICE##*.}" 2>/dev/null
    fi
    if [ ! -e "/sys/class/net/$DEVICE" ]; then
        echo "ksbuild test system: $2: no device $DEVICE, skipped"
        return
    fi
    [ "$1" = device ] && join_master
    case $ONBOOT in no | NO) return ;; esac
    if configure_address; then
        echo "Bringing up interface $DEVICE:  [  OK  ]"
    else
        echo "Bringing up interface $DEVICE:  [FAILED]"
    fi
}

start_network() {
    if ! network_enabled; then
        echo "ksbuild test system: network.service is disabled; ifcfg files not applied"
        return 0
    fi
    ip link set lo up
    echo "Bringing up loopback interface:  [  OK  ]"
    # Bridges and bonds first, so that ports and VLANs can join them.
    for pass in master device; do
        for file in "$NETWORK_SCRIPTS"/ifcfg-*; do
            [ -f "$file" ] || continue
            case ${file##*/ifcfg-} in lo | *.bak | *~ | *.orig | *.rpmsave | *.rpmnew) continue ;; esac
            (apply_ifcfg "$pass" "$file")
        done
    done
}

# What libvirtd does at start for networks marked autostart: create their bridge and address.
start_libvirt_networks() {
    [ "$(cat "$UNIT_STATE_DIR/libvirtd.service" 2>/dev/null)" = enabled ] || return 0
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
