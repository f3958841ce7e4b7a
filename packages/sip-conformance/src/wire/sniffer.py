#!/usr/bin/env python3
"""Capture UDP and TCP payloads to/from a set of ports on the loopback interface.

Like the dumpcap capture used for /work/shared/drachtio-transcripts, but without dumpcap: an AF_PACKET
socket on `lo` (needs CAP_NET_RAW) with a classic BPF filter generated for the given ports, so only
the SIP server's traffic reaches this process. Kernel timestamps (SO_TIMESTAMPNS).

Usage: sniffer.py PORT|LO-HI [...]
Output: one JSON object per line on stdout:
  {"t": <epoch seconds, float>, "p": "udp"|"tcp", "s": srcPort, "d": dstPort, "seq": n, "f": flags, "b": base64 payload}
The first line is {"ready": true} once the socket is bound. Exits on stdin EOF or SIGTERM.
"""
import base64
import ctypes
import json
import os
import select
import signal
import socket
import struct
import sys

SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003


def bpf_program(ports, ranges):
    """ether/ipv4, proto tcp|udp, not a fragment, src or dst port in `ports` or in one of `ranges`."""
    prog = []  # (code, jt, jf, k) with symbolic jumps resolved below
    ACCEPT, DROP = 'accept', 'drop'
    prog.append((0x28, 0, 0, 12))            # ldh [12]
    prog.append((0x15, 0, DROP, 0x0800))     # jeq #IPv4
    prog.append((0x30, 0, 0, 23))            # ldb [23]
    prog.append((0x15, 'frag', 0, 6))        # jeq #tcp
    prog.append((0x15, 'frag', DROP, 17))    # jeq #udp
    labels = {'frag': len(prog)}
    prog.append((0x28, 0, 0, 20))            # ldh [20]
    prog.append((0x45, DROP, 0, 0x1FFF))     # jset #0x1fff -> fragment
    prog.append((0xB1, 0, 0, 14))            # ldxb 4*([14]&0xf)
    for offset in (14, 16):                  # src port, dst port
        prog.append((0x48, 0, 0, offset))    # ldh [x + off]
        for port in ports:
            prog.append((0x15, ACCEPT, 0, port))
        for lo, hi in ranges:
            prog.append((0x35, 0, 1, lo))    # jge #lo (else skip the next test)
            prog.append((0x25, 0, ACCEPT, hi))  # jgt #hi, else accept
    prog.append((0x06, 0, 0, 0))             # drop: ret #0
    labels[DROP] = len(prog) - 1
    prog.append((0x06, 0, 0, 262144))        # accept: ret #262144
    labels[ACCEPT] = len(prog) - 1
    out = []
    for i, (code, jt, jf, k) in enumerate(prog):
        def rel(j):
            if isinstance(j, str):
                return labels[j] - i - 1
            return j
        out.append(struct.pack('HBBI', code, rel(jt), rel(jf), k))
    return b''.join(out), len(prog)


def main():
    ports, ranges = [], []
    for arg in sys.argv[1:]:
        if '-' in arg:
            lo, hi = arg.split('-', 1)
            ranges.append((int(lo), int(hi)))
        else:
            ports.append(int(arg))
    if not ports and not ranges:
        print('usage: sniffer.py PORT|LO-HI...', file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    code, count = bpf_program(ports, ranges)
    buf = ctypes.create_string_buffer(code)
    fprog = struct.pack('HL', count, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(('lo', 0))
    # Packets queued before the filter was attached may not match it: drain them.
    sock.setblocking(False)
    try:
        while True:
            sock.recv(65536)
    except BlockingIOError:
        pass
    out = sys.stdout
    out.write('{"ready": true}\n')
    out.flush()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    poller.register(sys.stdin, select.POLLIN | select.POLLHUP)
    while True:
        for fd, ev in poller.poll():
            if fd == sys.stdin.fileno():
                if not os.read(fd, 4096):
                    return 0
                continue
            while True:
                try:
                    data, anc, _flags, addr = sock.recvmsg(65536, 64)
                except BlockingIOError:
                    break
                # On lo every packet is seen twice (outgoing and incoming): keep the outgoing copy.
                if addr[2] != PACKET_OUTGOING:
                    continue
                t = None
                for level, kind, raw in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack('qq', raw[:16])
                        t = sec + nsec / 1e9
                if len(data) < 34:
                    continue
                ihl = (data[14] & 0x0F) * 4
                proto = data[23]
                total = struct.unpack('!H', data[16:18])[0]
                l4 = 14 + ihl
                end = 14 + total
                sport, dport = struct.unpack('!HH', data[l4:l4 + 4])
                rec = {'t': t, 's': sport, 'd': dport}
                if proto == 17:
                    rec['p'] = 'udp'
                    payload = data[l4 + 8:end]
                elif proto == 6:
                    seq = struct.unpack('!I', data[l4 + 4:l4 + 8])[0]
                    off = (data[l4 + 12] >> 4) * 4
                    rec['p'] = 'tcp'
                    rec['seq'] = seq
                    rec['f'] = data[l4 + 13]
                    payload = data[l4 + off:end]
                else:
                    continue
                rec['b'] = base64.b64encode(payload).decode('ascii')
                out.write(json.dumps(rec) + '\n')
            out.flush()


if __name__ == '__main__':
    sys.exit(main())
