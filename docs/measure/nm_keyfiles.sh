#!/usr/bin/env bash
# Measure what NetworkManager's own keyfile code accepts, without running the daemon or touching the host's
# network: Debian 12's nmcli/libnm 1.42.4 extracted from their .deb files (nothing is installed or started).
# `nmcli --offline connection add ...` prints the keyfile NM would write; `nmcli --offline connection modify`
# reads a keyfile on stdin, normalizes and verifies it, and prints it back (or the verification error).
set -euo pipefail
work=${1:-/tmp/nm}
mkdir -p "$work" && cd "$work"
[ -x root/usr/bin/nmcli ] || { apt-get download network-manager libnm0 >/dev/null; for f in ./*.deb; do dpkg -x "$f" root; done; }
export LD_LIBRARY_PATH=$PWD/root/usr/lib/x86_64-linux-gnu
nm="root/usr/bin/nmcli --offline"
$nm --version 2>/dev/null || root/usr/bin/nmcli --version
run() { echo "== $1"; shift; "$@" 2>&1 || echo "rc=$?"; }
run "bridge stp yes forward-delay 2, static" $nm connection add type bridge con-name br0 ifname br0 bridge.stp yes bridge.forward-delay 2 ipv4.method manual ipv4.addresses 192.168.80.40/24 ipv4.gateway 192.168.80.1 ipv4.dns 114.114.114.114,8.8.8.8 ipv6.method disabled
run "bridge stp yes forward-delay 0" $nm connection add type bridge con-name br0 ifname br0 bridge.stp yes bridge.forward-delay 0 ipv4.method disabled ipv6.method disabled
run "bridge stp no forward-delay 0" $nm connection add type bridge con-name br1 ifname br1 bridge.stp no bridge.forward-delay 0 ipv4.method disabled ipv6.method ignore
run "bridge port by MAC" $nm connection add type ethernet con-name enp2s0f0 ifname enp2s0f0 master br0 slave-type bridge ethernet.mac-address 52:54:00:a1:00:01
run "bond LACP" $nm connection add type bond con-name bond0 ifname bond0 bond.options mode=802.3ad,miimon=100,lacp_rate=fast,xmit_hash_policy=layer3+4 ipv4.method disabled ipv6.method disabled 802-3-ethernet.mtu 9000
run "bond member" $nm connection add type ethernet con-name eno1 ifname eno1 master bond0 slave-type bond
run "vlan with address" $nm connection add type vlan con-name bond0.10 ifname bond0.10 vlan.id 10 vlan.parent bond0 ipv4.method manual ipv4.addresses 192.168.80.43/24 ipv4.gateway 192.168.80.1 ipv6.method auto
run "vlan as bridge port" $nm connection add type vlan con-name bond0.30 ifname bond0.30 vlan.id 30 vlan.parent bond0 master br-vm slave-type bridge
run "dhcp, not default route" $nm connection add type ethernet con-name eth0 ifname eth0 ipv4.method auto ipv4.never-default yes
kf() { printf '%b' "$2" > kf.tmp; echo "== read back: $1"; $nm connection modify < kf.tmp 2>&1 || echo "rc=$?"; }
kf "hand-written bridge, stp=true forward-delay=0" '[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n\n[bridge]\nstp=true\nforward-delay=0\n\n[ipv4]\nmethod=disabled\n\n[ipv6]\nmethod=disabled\n'
kf "hand-written bridge, no uuid, address1 + gateway keys" '[connection]\nid=br0\ntype=bridge\ninterface-name=br0\nautoconnect=true\n\n[bridge]\nstp=true\nforward-delay=2\n\n[ipv4]\nmethod=manual\naddress1=192.168.80.40/24\ngateway=192.168.80.1\ndns=114.114.114.114;8.8.8.8;\n\n[ipv6]\nmethod=disabled\n'
kf "bond member pinned by MAC" '[connection]\nid=x\ntype=ethernet\ninterface-name=eno1\nmaster=bond0\nslave-type=bond\n\n[ethernet]\nmac-address=52:54:00:a1:00:01\n'
kf "vlan id 4095" '[connection]\nid=x\ntype=vlan\ninterface-name=vlan30\n\n[vlan]\nid=4095\nparent=bond0\n'
kf "lacp_rate with active-backup" '[connection]\nid=x\ntype=bond\ninterface-name=bond0\n\n[bond]\nmode=active-backup\nlacp_rate=fast\n\n[ipv4]\nmethod=disabled\n[ipv6]\nmethod=disabled\n'
kf "active-backup with primary" '[connection]\nid=x\ntype=bond\ninterface-name=bond0\n\n[bond]\nmode=active-backup\nmiimon=100\nprimary=eno1\n\n[ipv4]\nmethod=disabled\n\n[ipv6]\nmethod=disabled\n'
rm -f kf.tmp
