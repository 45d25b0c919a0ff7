#!/usr/bin/env python3
"""Forged-source actors of `lab verify` (Python 3 standard library only): spoofed-source (UDP, TCP) and
udp-hole-punch, played with raw sockets across the lab's namespaces.

Node has no raw IP sockets, so this helper opens every socket it needs inside the namespace it belongs to
(setns(2) through ctypes; a socket stays in the namespace it was created in), runs one scenario and prints one JSON
object on stdout. The scenario and its parameters come as one JSON object on stdin:

  {"mode": "udp-spoof", ...}   U forges target:port -> Mallory:mport over IPPROTO_RAW; Mallory answers the mapping.
  {"mode": "tcp-trial", ...}   U forges a SYN target:port -> Mallory:80 (seq X); Mallory sends a raw SYN from 80 to
                               WAN:port (simultaneous open), completes the handshake with data if a SYN-ACK comes
                               back; S's ISN is read on the router's LAN side, untranslated leaks on its WAN side.
  {"mode": "tcp-reset", ...}   from inside S's namespace (over loopback) resets what a trial left in S's socket table,
                               so the next trial's SYN meets no half-open request socket.
  {"mode": "hole-punch", ...}  U's software asks Mallory's STUN responder (RFC 8489 Binding) for its mapping,
                               announces it, and Mallory sends in from another port and from the STUN port.

Namespaces are given as paths (/run/netns/NAME); interfaces by name. Only frames the kernel received or sent on the
watched interfaces are inspected; nothing is sent outside the lab's namespaces.
"""

import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h
ETH_P_ALL = 0x0003  # include/uapi/linux/if_ether.h
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4  # include/uapi/linux/if_packet.h
ETH_HLEN = 14
PROTO_TCP = 6
PROTO_UDP = 17
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TCP_WINDOW = 64240
TCP_MSS = 1460
TCP_OPT_MSS = 2  # RFC 9293 §3.2
STUN_BINDING_REQUEST = 0x0001  # RFC 8489 §18.2
STUN_BINDING_SUCCESS = 0x0101
STUN_MAGIC = 0x2112A442  # RFC 8489 §6
STUN_XOR_MAPPED_ADDRESS = 0x0020  # RFC 8489 §14.2
STUN_HEADER_LEN = 20

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


class Netns:
    """Creates sockets inside a namespace and returns to the caller's namespace afterwards."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        enter_netns(self.path)
        return self

    def __exit__(self, *exc):
        if libc.setns(self.home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(self.home)


def raw_ip_socket(ns):
    # IPPROTO_RAW implies IP_HDRINCL (raw(7)): we write the whole IPv4 header, forged source included.
    with Netns(ns):
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def packet_socket(ns, ifname):
    # ETH_P_ALL, not ETH_P_IP: outgoing frames reach only ptype_all taps (net/core/dev.c dev_queue_xmit_nit).
    with Netns(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((ifname, ETH_P_ALL))
        s.setblocking(False)
        return s


def udp_socket(ns, port):
    with Netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        s.setblocking(False)
        return s


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ipv4(src, dst, proto, l4):
    # The kernel fills total length and header checksum for IP_HDRINCL sockets (raw(7)); we fill them anyway.
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + l4


def pseudo(src, dst, proto, length):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def udp_packet(src, sport, dst, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = checksum(pseudo(src, dst, PROTO_UDP, len(seg)) + seg) or 0xFFFF
    return ipv4(src, dst, PROTO_UDP, seg[:6] + struct.pack("!H", c) + seg[8:])


def tcp_packet(src, sport, dst, dport, seq, ack, flags, payload=b""):
    opts = struct.pack("!BBH", TCP_OPT_MSS, 4, TCP_MSS) if flags & TCP_SYN else b""
    offset = (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, TCP_WINDOW, 0, 0) + opts + payload
    c = checksum(pseudo(src, dst, PROTO_TCP, len(seg)) + seg)
    return ipv4(src, dst, PROTO_TCP, seg[:16] + struct.pack("!H", c) + seg[18:])


def send_raw(sock, packet):
    sock.sendto(packet, (socket.inet_ntoa(packet[16:20]), 0))


def parse_frame(frame):
    """IPv4 header fields and L4 of an Ethernet frame, or None."""
    if len(frame) < ETH_HLEN + 20 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[ETH_HLEN:]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    out = {"src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]), "proto": ip[9]}
    l4 = ip[ihl:total]
    if out["proto"] == PROTO_TCP and len(l4) >= 20:
        off = (l4[12] >> 4) * 4
        out.update(
            sport=struct.unpack("!H", l4[0:2])[0], dport=struct.unpack("!H", l4[2:4])[0],
            seq=struct.unpack("!I", l4[4:8])[0], ack=struct.unpack("!I", l4[8:12])[0],
            flags=l4[13], payload=l4[off:],
        )
    elif out["proto"] == PROTO_UDP and len(l4) >= 8:
        out.update(sport=struct.unpack("!H", l4[0:2])[0], dport=struct.unpack("!H", l4[2:4])[0], payload=l4[8:])
    return out


def drain(socks):
    for s in socks:
        while True:
            try:
                s.recvfrom(65535)
            except BlockingIOError:
                break


def watch(taps, seconds, on_packet):
    """Feeds (name, parsed packet, outgoing) from the packet sockets to on_packet until it returns True or time ends."""
    deadline = time.monotonic() + seconds
    names = {s.fileno(): name for name, s in taps.items()}
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select(list(taps.values()), [], [], left)
        for s in ready:
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                p = parse_frame(frame)
                if p is not None and on_packet(names[s.fileno()], p, addr[2] == PACKET_OUTGOING):
                    return True


def recv_until(sock, seconds):
    ready, _, _ = select.select([sock], [], [], seconds)
    if not ready:
        return None
    return sock.recvfrom(65535)


# ---------------------------------------------------------------------------------------------------------------


def udp_spoof(a):
    forger = raw_ip_socket(a["footholdNs"])
    mallory = udp_socket(a["malloryNs"], a["malloryPort"])
    send_raw(forger, udp_packet(a["target"], a["port"], a["mallory"], a["malloryPort"], a["forged"].encode()))
    got = recv_until(mallory, a["waitMs"] / 1000.0)
    out = {"forgedArrived": got is not None, "mapped": None, "replyBytes": 0}
    if got is None:
        return out
    data, (addr, port) = got
    out["mapped"] = "%s:%d" % (addr, port)
    out["forgedBytes"] = len(data)
    mallory.sendto(a["request"].encode(), (addr, port))
    reply = recv_until(mallory, a["waitMs"] / 1000.0)
    if reply is not None:
        out["replyBytes"] = len(reply[0])
        out["replyFrom"] = "%s:%d" % reply[1]
    return out


def tcp_trial(a):
    forger = raw_ip_socket(a["footholdNs"])
    sender = raw_ip_socket(a["malloryNs"])
    taps = {
        "mallory": packet_socket(a["malloryNs"], a["malloryIf"]),
        "lan": packet_socket(a["routerNs"], a["routerLanIf"]),
        "wan": packet_socket(a["routerNs"], a["routerWanIf"]),
    }
    drain(taps.values())
    target, port, mallory, mport, wan = a["target"], a["port"], a["mallory"], a["malloryPort"], a["wan"]
    forged_seq, mallory_isn = a["forgedSeq"] & 0xFFFFFFFF, a["malloryIsn"] & 0xFFFFFFFF
    request = a["request"].encode()
    out = {
        "forgedArrived": False, "targetIsn": None, "established": False, "bytesAtMallory": 0,
        "leakedUntranslated": False, "wanSources": [],
    }

    def forged(name, p, outgoing):
        if name == "mallory" and p["proto"] == PROTO_TCP and p["dport"] == mport and p["flags"] & TCP_SYN:
            out["forgedArrived"] = True
        if name == "wan" and outgoing and p["src"] == target:
            out["leakedUntranslated"] = True
        return False

    send_raw(forger, tcp_packet(target, port, mallory, mport, forged_seq, 0, TCP_SYN))
    watch(taps, a["settleMs"] / 1000.0, forged)
    send_raw(sender, tcp_packet(mallory, mport, wan, port, mallory_isn, 0, TCP_SYN))

    def exchange(name, p, outgoing):
        if name == "wan" and outgoing:
            if p["src"] not in out["wanSources"]:
                out["wanSources"].append(p["src"])
            if p["src"] == target:
                out["leakedUntranslated"] = True
        if p["proto"] != PROTO_TCP:
            return False
        syn_ack = p["flags"] & (TCP_SYN | TCP_ACK) == (TCP_SYN | TCP_ACK)
        if name == "lan" and not outgoing and p["src"] == target and p["sport"] == port and syn_ack:
            if out["targetIsn"] is None:
                out["targetIsn"] = p["seq"]
        if name == "mallory" and not outgoing and p["src"] == wan and p["sport"] == port and p["dport"] == mport:
            if syn_ack and not out["established"] and p["ack"] == (mallory_isn + 1) & 0xFFFFFFFF:
                out["established"] = True
                isn = p["seq"]
                send_raw(sender, tcp_packet(mallory, mport, wan, port, mallory_isn + 1, (isn + 1) & 0xFFFFFFFF,
                                            TCP_ACK | TCP_PSH, request))
            elif out["established"]:
                out["bytesAtMallory"] += len(p["payload"])
        return False

    watch(taps, a["exchangeMs"] / 1000.0, exchange)
    return out


def tcp_reset(a):
    # Over loopback inside S's namespace: the packet keeps the route the output path gave it, so S's stack takes it
    # as Mallory's RST. Both sequence numbers: a request socket expects isn+1, an established one isn+1+len.
    sock = raw_ip_socket(a["targetNs"])
    for seq in a["seqs"]:
        send_raw(sock, tcp_packet(a["mallory"], a["malloryPort"], a["target"], a["port"], seq & 0xFFFFFFFF, 0, TCP_RST))
    return {"sent": len(a["seqs"])}


def stun_request(txid):
    return struct.pack("!HHI", STUN_BINDING_REQUEST, 0, STUN_MAGIC) + txid


def stun_response(txid, addr, port):
    xport = port ^ (STUN_MAGIC >> 16)
    xaddr = struct.unpack("!I", socket.inet_aton(addr))[0] ^ STUN_MAGIC
    attr = struct.pack("!HHBBHI", STUN_XOR_MAPPED_ADDRESS, 8, 0, 1, xport, xaddr)
    return struct.pack("!HHI", STUN_BINDING_SUCCESS, len(attr), STUN_MAGIC) + txid + attr


def stun_mapped(data, txid):
    if len(data) < STUN_HEADER_LEN:
        return None
    kind, length, magic = struct.unpack("!HHI", data[:8])
    if kind != STUN_BINDING_SUCCESS or magic != STUN_MAGIC or data[8:20] != txid:
        return None
    pos = STUN_HEADER_LEN
    while pos + 4 <= STUN_HEADER_LEN + length and pos + 4 <= len(data):
        t, n = struct.unpack("!HH", data[pos:pos + 4])
        if t == STUN_XOR_MAPPED_ADDRESS and n >= 8:
            xport, xaddr = struct.unpack("!HI", data[pos + 6:pos + 12])
            return socket.inet_ntoa(struct.pack("!I", xaddr ^ STUN_MAGIC)), xport ^ (STUN_MAGIC >> 16)
        pos += 4 + ((n + 3) & ~3)
    return None


def hole_punch(a):
    wait = a["waitMs"] / 1000.0
    software = udp_socket(a["footholdNs"], a["softwarePort"])
    stun = udp_socket(a["malloryNs"], a["stunPort"])
    other = udp_socket(a["malloryNs"], a["otherPort"])
    txid = bytes.fromhex(a["transactionId"])
    mallory = (a["mallory"], a["stunPort"])
    out = {"mapped": None, "candidate": None, "otherPortReached": False, "punchReached": False, "answered": False}

    software.sendto(stun_request(txid), mallory)
    got = recv_until(stun, wait)
    if got is None:
        out["bindingAtMallory"] = False
        return out
    out["bindingAtMallory"] = True
    stun.sendto(stun_response(txid, got[1][0], got[1][1]), got[1])
    resp = recv_until(software, wait)
    mapped = None if resp is None else stun_mapped(resp[0], txid)
    if mapped is None:
        return out
    out["mapped"] = "%s:%d" % mapped

    software.sendto(("%s%s:%d\n" % (a["candidatePrefix"], mapped[0], mapped[1])).encode(), mallory)
    got = recv_until(stun, wait)
    text = b"" if got is None else got[0]
    if not text.decode(errors="replace").startswith(a["candidatePrefix"]):
        return out
    host, _, port = text.decode().strip()[len(a["candidatePrefix"]):].rpartition(":")
    candidate = (host, int(port))
    out["candidate"] = "%s:%d" % candidate

    def software_turn():
        got = recv_until(software, wait)
        if got is None or got[1][0] != a["mallory"]:
            return None
        software.sendto(a["answer"].encode(), got[1])
        return got[1][1]

    other.sendto(a["punch"].encode(), candidate)
    out["otherPortReached"] = software_turn() == a["otherPort"]
    drain([other])
    stun.sendto(a["punch"].encode(), candidate)
    out["punchReached"] = software_turn() == a["stunPort"]
    answer = recv_until(stun, wait)
    out["answered"] = answer is not None and answer[0] == a["answer"].encode() and answer[1][0] == candidate[0]
    return out


def stun_server(a):
    # The internet's STUN server miniupnpd asks for its external address (ext_perform_stun): a Binding success
    # with the source it saw, from the address and port asked (CHANGE-REQUEST is ignored, as a one-address server
    # must, RFC 5780 §7.2 aside). Serves until stdin closes.
    sock = udp_socket(a["ns"], a["port"])
    print(json.dumps({"ready": True}), flush=True)
    served = 0
    while True:
        ready, _, _ = select.select([sock, sys.stdin], [], [])
        if sys.stdin in ready and not sys.stdin.readline():
            return {"served": served}
        if sock in ready:
            try:
                data, peer = sock.recvfrom(2048)
            except BlockingIOError:
                continue
            if len(data) >= STUN_HEADER_LEN and struct.unpack("!H", data[:2])[0] == STUN_BINDING_REQUEST:
                sock.sendto(stun_response(data[8:20], peer[0], peer[1]), peer)
                served += 1


def tcp_session(a):
    # upnp-forward-*: optionally the malware's listener in the foothold's namespace (greets whoever connects), and
    # Mallory's connect to the router's mapped WAN port, reading what comes back until waitMs passes.
    listener = None
    if a.get("listenNs"):
        with Netns(a["listenNs"]):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("0.0.0.0", a["listenPort"]))
            listener.listen(4)
            listener.setblocking(False)
    with Netns(a["connectNs"]):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setblocking(False)
    out = {"connected": False, "error": None, "received": "", "acceptedFrom": []}
    try:
        client.connect((a["address"], a["port"]))
    except BlockingIOError:
        pass
    deadline = time.monotonic() + a["waitMs"] / 1000.0
    accepted = []
    received = b""
    while time.monotonic() < deadline:
        readers = [client] + ([listener] if listener is not None else []) + accepted
        writers = [] if out["connected"] or out["error"] else [client]
        r, w, _ = select.select(readers, writers, [], max(0.0, deadline - time.monotonic()))
        if client in w:
            err = client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                out["error"] = os.strerror(err)
                break
            out["connected"] = True
            if a.get("send"):
                client.send(a["send"].encode())
        for sock in r:
            if sock is listener:
                conn, peer = listener.accept()
                out["acceptedFrom"].append(peer[0])
                conn.send(a["greeting"].encode())
                accepted.append(conn)
            elif sock is client:
                try:
                    data = client.recv(65535)
                except OSError as e:
                    out["error"] = e.strerror
                    data = b""
                if not data:
                    deadline = 0
                received += data
            else:
                try:
                    if not sock.recv(65535):
                        accepted.remove(sock)
                except OSError:
                    accepted.remove(sock)
    out["received"] = received.decode(errors="replace")
    return out


MODES = {"udp-spoof": udp_spoof, "tcp-trial": tcp_trial, "tcp-reset": tcp_reset, "hole-punch": hole_punch, "stun-server": stun_server, "tcp-session": tcp_session}


def main():
    args = json.loads(sys.stdin.readline())
    mode = MODES.get(args.get("mode"))
    if mode is None:
        print(json.dumps({"error": "unknown mode %r" % args.get("mode")}))
        return 2
    print(json.dumps(mode(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
