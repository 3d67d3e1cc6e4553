# shellcheck shell=sh
# NetworkManager on the EL9 test system, reduced to what it does at boot with the keyfiles in
# /etc/NetworkManager/system-connections (the keyfile plugin, NetworkManager 1.36-1.46):
#   - which files it reads: regular files owned by root that nobody else may read or write (nm-settings-keyfile(5));
#     not hidden files, names ending in `~`, mkstemp-style `.XXXXXX` names, `.pem`/`.der` (nms-keyfile-utils.c).
#     Any other name is read, `.bak` included (docs/targets.md §3).
#   - which it refuses: a bridge with STP on and forward-delay outside 2-30, a VLAN id outside 0-4094
#     (nm-setting-bridge.c, nm-setting-vlan.c verify).
#   - activation: bridges and bonds first, VLANs on their parents, then ports enslaved to them, then MTUs and
#     addresses (ipv4.method manual: address1=ip/prefix[,gateway], the gateway as default route unless
#     never-default; auto: DHCP); a profile pinned by ethernet.mac-address to another MAC is not activated.
#     Two profiles for one device: the first in name order wins, the other stays inactive.
# What it knows afterwards (for the nmcli stand-in): $NM_STATE/profiles, one line per profile read
# (id|uuid|type|device|active), and $NM_STATE/devices/<dev> (state|connection).

NM_DIR=/etc/NetworkManager/system-connections
NM_STATE=/run/ksbuild-test/nm

nm_enabled() {
    is_masked NetworkManager.service && return 1
    [ "$(cat "$UNIT_STATE_DIR/NetworkManager.service" 2>/dev/null)" = enabled ]
}

# kf FILE GROUP KEY: the value of KEY in [GROUP] of a keyfile ("" when absent).
kf() {
    awk -v group="[$2]" -v key="$3" '
        $0 == group { inside = 1; next }
        /^\[/ { inside = 0 }
        inside && index($0, key "=") == 1 { print substr($0, length(key) + 2); exit }
    ' "$1"
}

nm_log() {
    echo "NetworkManager: $*"
}

nm_readable() {
    name=${1##*/}
    case $name in .* | *~ | *.pem | *.der) return 1 ;; esac
    # mkstemp's leftovers: NAME.XXXXXX
    case $name in *.[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]) return 1 ;; esac
    [ -f "$1" ] || return 1
    owner=$(stat -c %u "$1")
    mode=$(stat -c %a "$1")
    if [ "$owner" != 0 ] || [ "$(( 0$mode & 077 ))" != 0 ]; then
        nm_log "ignoring ${name}: not owned by root or readable by others (mode $mode)"
        return 1
    fi
    return 0
}

# nm_verify FILE: what NetworkManager's verify() refuses, among what ksbuild writes.
nm_verify() {
    type=$(kf "$1" connection type)
    case $type in
        bridge)
            stp=$(kf "$1" bridge stp)
            delay=$(kf "$1" bridge forward-delay)
            if [ "${stp:-true}" = true ] && [ -n "$delay" ] && { [ "$delay" -lt 2 ] || [ "$delay" -gt 30 ]; }; then
                nm_log "ignoring ${1##*/}: bridge.forward-delay: value '$delay' is out of range <2-30>"
                return 1
            fi
            ;;
        vlan)
            id=$(kf "$1" vlan id)
            if [ -z "$id" ] || [ "$id" -gt 4094 ]; then
                nm_log "ignoring ${1##*/}: vlan.id: the vlan id must be in range 0-4094 but is $id"
                return 1
            fi
            ;;
        ethernet | bond) ;;
        *) nm_log "ignoring ${1##*/}: connection type '$type' unknown to the test system"; return 1 ;;
    esac
}

nm_uuid() {
    uuid=$(kf "$1" connection uuid)
    if [ -z "$uuid" ]; then
        # NetworkManager hashes "keyfile" and the path; any stable value will do here.
        uuid=$(printf 'keyfile%s' "$1" | md5sum | sed 's/^\(........\)\(....\)\(....\)\(....\)\(............\).*/\1-\2-\3-\4-\5/')
    fi
    echo "$uuid"
}

# nm_load: read the profiles; one line per profile in $NM_STATE/profiles.
nm_load() {
    mkdir -p "$NM_STATE/devices"
    : > "$NM_STATE/profiles"
    : > "$NM_STATE/claimed"
    for file in "$NM_DIR"/*; do
        nm_readable "$file" || continue
        nm_verify "$file" || continue
        name=${file##*/}
        id=$(kf "$file" connection id)
        device=$(kf "$file" connection interface-name)
        active=no
        if [ "$(kf "$file" connection autoconnect)" != false ] && ! grep -qx "$device" "$NM_STATE/claimed"; then
            echo "$device" >> "$NM_STATE/claimed"
            active=yes
        fi
        echo "${id:-${name%.nmconnection}}|$(nm_uuid "$file")|$(kf "$file" connection type)|$device|$active|$file" \
            >> "$NM_STATE/profiles"
    done
}

nm_active_of_type() {
    awk -F'|' -v type="$1" '$3 == type && $5 == "yes" { print $6 }' "$NM_STATE/profiles"
}

nm_mark() {
    echo "$2|$3" > "$NM_STATE/devices/$1"
}

nm_create() {
    file=$1
    device=$(kf "$file" connection interface-name)
    case $(kf "$file" connection type) in
        bridge)
            # busybox's own brctl: the test system's kernel interface, not bridge-utils (EL9 has none).
            [ -d "/sys/class/net/$device/bridge" ] || busybox brctl addbr "$device" || return 1
            # Delay first, then STP: with STP on the kernel refuses a delay outside 2-30 s.
            delay=$(kf "$file" bridge forward-delay)
            [ -n "$delay" ] && echo $((delay * 100)) > "/sys/class/net/$device/bridge/forward_delay"
            if [ "$(kf "$file" bridge stp)" = false ]; then stp=0; else stp=1; fi
            echo "$stp" > "/sys/class/net/$device/bridge/stp_state"
            ;;
        bond)
            [ -f /sys/class/net/bonding_masters ] || modprobe bonding || return 1
            [ -d "/sys/class/net/$device/bonding" ] || echo "+$device" > /sys/class/net/bonding_masters
            ip link set dev "$device" down
            mode=$(kf "$file" bond mode)
            [ -n "$mode" ] && echo "$mode" > "/sys/class/net/$device/bonding/mode"
            for option in miimon lacp_rate xmit_hash_policy; do
                value=$(kf "$file" bond "$option")
                [ -n "$value" ] && echo "$value" > "/sys/class/net/$device/bonding/$option"
            done
            ;;
        vlan)
            parent=$(kf "$file" vlan parent)
            [ -d /proc/net/vlan ] || modprobe 8021q || return 1
            [ -e "/sys/class/net/$parent" ] || return 1
            ip link set dev "$parent" up
            [ -e "/sys/class/net/$device" ] || ip link add dev "$device" link "$parent" type vlan id "$(kf "$file" vlan id)" ||
                return 1
            ;;
    esac
}

nm_port() {
    file=$1
    device=$(kf "$file" connection interface-name)
    master=$(kf "$file" connection master)
    [ -n "$master" ] || master=$(kf "$file" connection controller)
    [ -n "$master" ] || return 0
    [ -e "/sys/class/net/$device" ] && [ -e "/sys/class/net/$master" ] || return 1
    if [ -d "/sys/class/net/$master/bonding" ]; then
        grep -qw "$device" "/sys/class/net/$master/bonding/slaves" 2>/dev/null || {
            ip link set dev "$device" down
            echo "+$device" > "/sys/class/net/$master/bonding/slaves" || return 1
        }
    else
        busybox brctl addif "$master" "$device" || return 1
    fi
    ip link set dev "$device" up
}

nm_address() {
    file=$1
    device=$(kf "$file" connection interface-name)
    mtu=$(kf "$file" ethernet mtu)
    [ -n "$mtu" ] && ip link set dev "$device" mtu "$mtu"
    ip link set dev "$device" up || return 1
    case $(kf "$file" ipv4 method) in
        manual)
            address=$(kf "$file" ipv4 address1)
            gateway=${address#*,}
            [ "$gateway" = "$address" ] && gateway=""
            ip addr add "${address%%,*}" dev "$device" || return 1
            if [ -n "$gateway" ] && [ "$(kf "$file" ipv4 never-default)" != true ]; then
                ip route replace default via "$gateway" dev "$device"
            fi
            ;;
        auto)
            udhcpc -i "$device" -n -q -t 3 -T 1 -s /usr/share/udhcpc/default.script > /dev/null 2>&1 || return 1
            [ "$(kf "$file" ipv4 never-default)" = true ] && ip route del default dev "$device" 2>/dev/null
            ;;
    esac
    return 0
}

# nm_mac_ok FILE: a profile pinned to a MAC activates only on the device with that MAC.
nm_mac_ok() {
    mac=$(kf "$1" ethernet mac-address | tr 'A-F' 'a-f')
    device=$(kf "$1" connection interface-name)
    [ -z "$mac" ] || [ "$(cat "/sys/class/net/$device/address" 2>/dev/null)" = "$mac" ]
}

start_networkmanager() {
    if ! nm_enabled; then
        echo "ksbuild test system: NetworkManager.service is disabled; keyfiles not applied"
        return 0
    fi
    ip link set lo up
    nm_load
    for type in bridge bond vlan; do
        for file in $(nm_active_of_type "$type"); do
            nm_create "$file" || nm_log "could not create $(kf "$file" connection interface-name)"
        done
    done
    for type in ethernet vlan bond; do
        for file in $(nm_active_of_type "$type"); do
            nm_mac_ok "$file" || { nm_log "${file##*/}: ethernet.mac-address does not match the device"; continue; }
            nm_port "$file" || nm_log "could not attach $(kf "$file" connection interface-name)"
        done
    done
    # shellcheck disable=SC2013 # keyfile paths hold no spaces (ksbuild names them after devices)
    for file in $(awk -F'|' '$5 == "yes" { print $6 }' "$NM_STATE/profiles"); do
        device=$(kf "$file" connection interface-name)
        id=$(kf "$file" connection id)
        if ! nm_mac_ok "$file" || [ ! -e "/sys/class/net/$device" ]; then
            nm_mark "$device" "20 (unavailable)" ""
            continue
        fi
        if [ -z "$(kf "$file" connection master)$(kf "$file" connection controller)" ]; then
            nm_address "$file" || { nm_mark "$device" "120 (failed)" "$id"; continue; }
        fi
        nm_mark "$device" "100 (connected)" "$id"
        echo "NetworkManager: device $device connected with $id"
    done
}
