#!/usr/bin/env python3
"""Raw Ethernet injector and sniffer for Mallory's differential lab (Python 3 standard library only).

Node has no AF_PACKET sockets, so this helper holds one raw socket per outer veth end, each opened inside its own
network namespace (setns(2) through ctypes; a socket stays in the namespace it was created in), and talks to its
parent over stdin/stdout, one command per line:

  send <side> <hex-frame> <idle-ms> <max-ms>
      drops whatever is queued on every socket, sends the frame out of <side>, then prints every IPv4 frame that
      arrives on any side as `rx <side> <hex-frame>` until no frame came for <idle-ms> (or <max-ms> passed), and
      ends with `end`.
  quit

Usage: raw-inject.py <side>=<netns-path>:<ifname> ...   (prints `ready` once every socket is open)
Only frames the kernel received (never our own outgoing ones) are reported.
"""

import ctypes
import os
import select
import socket
import sys
import time

CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h
ETH_P_IP = 0x0800  # include/uapi/linux/if_ether.h
PACKET_OUTGOING = 4  # include/uapi/linux/if_packet.h

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def open_sockets(specs):
    home = "/proc/self/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    socks = {}
    try:
        for spec in specs:
            side, rest = spec.split("=", 1)
            path, ifname = rest.rsplit(":", 1)
            enter_netns(path)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
            s.bind((ifname, ETH_P_IP))
            s.setblocking(False)
            socks[side] = s
    finally:
        if libc.setns(home_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(home_fd)
    return socks


def drain(socks):
    for s in socks.values():
        while True:
            try:
                s.recvfrom(65535)
            except BlockingIOError:
                break


def collect(socks, idle_ms, max_ms):
    out = []
    by_fd = {s.fileno(): side for side, s in socks.items()}
    deadline = time.monotonic() + max_ms / 1000.0
    while True:
        now = time.monotonic()
        wait = min(idle_ms / 1000.0, deadline - now)
        if wait <= 0:
            break
        ready, _, _ = select.select(list(socks.values()), [], [], wait)
        if not ready:
            break
        for s in ready:
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                out.append((by_fd[s.fileno()], frame.hex()))
    return out


def main(argv):
    socks = open_sockets(argv[1:])
    print("ready", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            break
        if parts[0] != "send" or len(parts) != 5 or parts[1] not in socks:
            print("error bad command", flush=True)
            continue
        drain(socks)
        socks[parts[1]].send(bytes.fromhex(parts[2]))
        for side, frame in collect(socks, int(parts[3]), int(parts[4])):
            print("rx %s %s" % (side, frame))
        print("end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
