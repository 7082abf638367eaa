#!/usr/bin/env python3
"""A WAN link emulator for ./bench/run: one TCP listener on 127.0.0.1 in front of one registry's port.

What it does to the bytes, per direction (client to registry "up", registry to client "down"):
- bandwidth: every chunk read from one side is serialised onto that direction's link at --bandwidth-mbit, in
  arrival order, shared by all connections of the link (one uplink, one FIFO). The queue in front of the link
  holds at most one bandwidth-delay product (at least 64 KiB); a connection that finds it full stops being read
  (its sender's TCP window closes), as a router's drop would throttle it, without the losses.
- delay: a chunk is written out --rtt-ms / 2 after its last byte left the link: long transfers are pipelined.
- connection setup: a TCP connection costs one round trip before the client may send. The client's connect()
  on loopback completes at once, so instead the first upstream byte of every connection is held until one
  extra RTT after the accept (then the one-way delay): the same first-request timing as a real SYN/SYN-ACK.
- half-close (EOF) and resets travel after the one-way delay; a reset drops what the link still held.
- --loss P: each accepted connection is, with probability P (seeded, in accept order), reset both ways once
  it has carried a number of bytes drawn uniformly from 0 to --loss-max-bytes (if it lives that long).
Not modelled: TCP slow start, packet loss and retransmission, reordering.

Run as a process per link (`link.py serve`): it prints {"port": N} on stdout once listening, answers each
`stats` line on stdin with a JSON line (connections accepted, resets, bytes per direction), and exits when
stdin closes. `link.py --selftest` measures the delay and bandwidth through a loopback echo server and exits
non-zero when either is off by more than 20%, or when the link cannot carry twice the configured bandwidth.
Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

READ_LIMIT = 256 * 1024          # asyncio reads at most this much per data_received
MIN_QUEUE_BYTES = 64 * 1024


class Pipe:
    """One direction of the link: a serialisation queue at `rate` bytes/s, then a fixed one-way delay."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rate: float, delay: float, queue_s: float):
        self.loop = loop
        self.rate = rate            # bytes per second; 0: unlimited
        self.delay = delay
        self.queue_s = queue_s      # how far ahead of now the link may be booked before readers pause
        self.busy_until = 0.0
        self.bytes = 0
        self.paused: list = []      # half-connections waiting for room in the queue
        self.wake = None

    def book(self, n: int) -> float:
        """Serialise n bytes after everything booked before; the time their last byte reaches the far end."""
        now = self.loop.time()
        start = max(now, self.busy_until)
        self.busy_until = start + (n / self.rate if self.rate else 0.0)
        self.bytes += n
        return self.busy_until + self.delay

    def full(self) -> bool:
        return self.rate > 0 and self.busy_until - self.loop.time() > self.queue_s

    def wait_for_room(self, half: "Half") -> None:
        self.paused.append(half)
        if self.wake is None:
            self.wake = self.loop.call_at(self.busy_until - self.queue_s, self._resume)

    def _resume(self) -> None:
        self.wake = None
        if self.full():
            self.wake = self.loop.call_at(self.busy_until - self.queue_s, self._resume)
            return
        waiting, self.paused = self.paused, []
        for half in waiting:
            half.unblock("queue")


class Half:
    """One direction of one connection: reads from `src`, delivers to `dst` through the pipe, in order."""

    def __init__(self, conn: "Conn", pipe: Pipe, name: str):
        self.conn = conn
        self.pipe = pipe
        self.name = name
        self.src: asyncio.Transport | None = None
        self.dst: asyncio.Transport | None = None
        self.not_before = 0.0               # the connection-setup round trip, for the upstream half
        self.queue: collections.deque = collections.deque()   # (release time, bytes | "eof" | "reset")
        self.timer = None
        self.blocks: set[str] = set()       # why reading src is paused: "queue", "dst", "connect"
        self.eof_delivered = False

    def block(self, why: str) -> None:
        if not self.blocks and self.src is not None:
            self.src.pause_reading()
        self.blocks.add(why)

    def unblock(self, why: str) -> None:
        if why in self.blocks:
            self.blocks.discard(why)
            if not self.blocks and self.src is not None and not self.src.is_closing():
                self.src.resume_reading()

    def push(self, item, n: int) -> None:
        release = self.pipe.book(n) if n else self.pipe.loop.time() + self.pipe.delay
        if self.queue:
            release = max(release, self.queue[-1][0])
        release = max(release, self.not_before)
        self.queue.append((release, item))
        if self.timer is None:
            self._arm()
        if n and self.pipe.full():
            self.block("queue")
            self.pipe.wait_for_room(self)

    def _arm(self) -> None:
        self.timer = self.pipe.loop.call_at(self.queue[0][0], self._flush)

    def _flush(self) -> None:
        self.timer = None
        now = self.pipe.loop.time()
        while self.queue and self.queue[0][0] <= now + 0.0005:
            _, item = self.queue.popleft()
            if item == "reset":
                self.conn.reset()
                return
            if self.dst is None or self.dst.is_closing():
                continue
            if item == "eof":
                try:
                    if self.dst.can_write_eof():
                        self.dst.write_eof()
                except OSError:     # the far side is gone already (reset): end the connection both ways
                    self.conn.reset()
                    return
                self.eof_delivered = True
                self.conn.maybe_close()
            else:
                self.dst.write(item)
        if self.queue:
            self._arm()

    def drop(self) -> None:
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Side(asyncio.Protocol):
    """The protocol of one socket of a connection (the client's or the registry's)."""

    def __init__(self, conn: "Conn", reading: Half, writing: Half):
        self.conn = conn
        self.reading = reading      # the half that reads this socket
        self.writing = writing      # the half that writes to it

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.reading.src = transport
        self.writing.dst = transport
        if self.reading.blocks:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.conn.count(len(data))
        if not self.conn.closed:
            self.reading.push(data, len(data))

    def eof_received(self) -> bool:
        self.reading.push("eof", 0)
        return True                 # keep the socket open for the other direction: half-close

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn.closed:
            return
        # Only a reset (or a failed write) ends a socket the link did not close itself: the far side learns it
        # one delay later, behind what the link already carries.
        self.reading.push("reset", 0)

    def pause_writing(self) -> None:
        self.writing.block("dst")

    def resume_writing(self) -> None:
        self.writing.unblock("dst")


def abort_with_rst(transport: asyncio.Transport | None) -> None:
    if transport is None or transport.is_closing():
        if transport is not None:
            transport.abort()
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class Conn:
    def __init__(self, link: "Link"):
        self.link = link
        self.up = Half(self, link.up, "up")
        self.down = Half(self, link.down, "down")
        self.closed = False
        self.carried = 0
        self.reset_after = None
        if link.loss > 0 and link.rng.random() < link.loss:
            self.reset_after = link.rng.randint(0, link.loss_max_bytes)

    def count(self, n: int) -> None:
        self.carried += n
        if self.reset_after is not None and self.carried >= self.reset_after and not self.closed:
            self.link.stats["injected_resets"] += 1
            self.reset()

    def reset(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.link.stats["resets"] += 1
        for half in (self.up, self.down):
            half.drop()
        abort_with_rst(self.up.src)
        abort_with_rst(self.down.src)

    def maybe_close(self) -> None:
        if self.up.eof_delivered and self.down.eof_delivered and not self.closed:
            self.closed = True
            for t in (self.up.src, self.down.src):
                if t is not None:
                    t.close()


class Link:
    def __init__(self, target_port: int, rtt_ms: float, bandwidth_mbit: float, loss: float, loss_max_bytes: int,
                 seed: int):
        self.loop = asyncio.get_running_loop()
        rate = bandwidth_mbit * 1e6 / 8
        self.rtt = rtt_ms / 1000
        queue_bytes = max(MIN_QUEUE_BYTES, rate * self.rtt)
        queue_s = queue_bytes / rate if rate else 0.0
        self.up = Pipe(self.loop, rate, self.rtt / 2, queue_s)
        self.down = Pipe(self.loop, rate, self.rtt / 2, queue_s)
        self.target_port = target_port
        self.loss = loss
        self.loss_max_bytes = loss_max_bytes
        self.rng = random.Random(seed)
        self.stats = collections.Counter(connections=0, resets=0, injected_resets=0, connect_failures=0)

    def client_side(self) -> Side:
        conn = Conn(self)
        self.stats["connections"] += 1
        conn.up.not_before = self.loop.time() + self.rtt + self.rtt / 2
        conn.up.block("connect")
        self.loop.create_task(self._connect(conn))
        return Side(conn, conn.up, conn.down)

    async def _connect(self, conn: Conn) -> None:
        try:
            transport, _ = await self.loop.create_connection(lambda: Side(conn, conn.down, conn.up), "127.0.0.1",
                                                             self.target_port)
        except OSError:
            self.stats["connect_failures"] += 1
            conn.reset()
            return
        if conn.closed:             # the client went away while the registry was being connected
            abort_with_rst(transport)
            return
        conn.up.unblock("connect")

    def snapshot(self) -> dict:
        return {**self.stats, "bytes_up": self.up.bytes, "bytes_down": self.down.bytes}


async def serve(args: argparse.Namespace) -> None:
    link = Link(args.target, args.rtt_ms, args.bandwidth_mbit, args.loss, args.loss_max_bytes, args.seed)
    server = await link.loop.create_server(link.client_side, "127.0.0.1", args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    done = link.loop.create_future()

    def control() -> None:      # stdin commands, on a thread: `stats` answers, EOF ends the link
        for line in sys.stdin:
            if line.strip() == "stats":
                snap = link.loop.call_soon_threadsafe
                event = threading.Event()
                box = {}

                def take() -> None:
                    box.update(link.snapshot())
                    event.set()
                snap(take)
                event.wait()
                times = os.times()
                box["cpu_s"] = times.user + times.system
                print(json.dumps(box), flush=True)
        link.loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

    threading.Thread(target=control, daemon=True).start()
    await done
    server.close()


# --- self-test -----------------------------------------------------------------------------------------------

class LinkProcess:
    """`link.py serve` as a child process, as ./bench/run runs it."""

    def __init__(self, target: int, rtt_ms: float, bandwidth_mbit: float, loss: float = 0.0, seed: int = 1,
                 loss_max_bytes: int = 1 << 20):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "serve", "--target", str(target), "--rtt-ms", str(rtt_ms),
             "--bandwidth-mbit", str(bandwidth_mbit), "--loss", str(loss), "--seed", str(seed),
             "--loss-max-bytes", str(loss_max_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise RuntimeError("the link emulator exited before listening")
        self.port = json.loads(line)["port"]

    def stats(self) -> dict:
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "LinkProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def echo_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve_one(c: socket.socket) -> None:
        with c:
            while data := c.recv(1 << 18):
                c.sendall(data)

    def accept() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1]


def echo_transfer(port: int, total: int) -> tuple[float, float]:
    """Send `total` bytes through the echo server and read them back: (seconds from connect to the last echoed
    byte, seconds from connect to the first echoed byte)."""
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    chunk = os.urandom(1 << 16)

    def send() -> None:
        sent = 0
        while sent < total:
            n = min(len(chunk), total - sent)
            s.sendall(chunk[:n])
            sent += n
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    got, first = 0, None
    while got < total:
        data = s.recv(1 << 18)
        if not data:
            raise RuntimeError(f"echo closed after {got} of {total} bytes")
        if first is None:
            first = time.monotonic() - start
        got += len(data)
    end = time.monotonic() - start
    if s.recv(1):
        raise RuntimeError("the echo sent more than it was sent")
    t.join()
    s.close()
    return end, first


def selftest(args: argparse.Namespace) -> int:
    rtt = args.rtt_ms / 1000
    rate = args.bandwidth_mbit * 1e6 / 8
    srv, port = echo_server()
    failures = []

    def check(what: str, measured: float, expected: float, tolerance: float = 0.2) -> None:
        ok = abs(measured - expected) <= tolerance * expected
        print(f"  {what}: {measured * 1000:.1f} ms, expected {expected * 1000:.1f} ms  {'ok' if ok else 'OFF'}")
        if not ok:
            failures.append(what)

    print(f"link self-test: rtt {args.rtt_ms} ms, {args.bandwidth_mbit} Mbit/s each way")
    with LinkProcess(port, args.rtt_ms, args.bandwidth_mbit) as link:
        # New connection: connect + first request = 2 RTT; the next request on it = 1 RTT. The first connection
        # warms the emulator up (its first accept and connect cost it a few ms of Python), and is not measured.
        firsts = []
        for _ in range(4):
            start = time.monotonic()
            s = socket.create_connection(("127.0.0.1", link.port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"x")
            s.recv(1)
            firsts.append(time.monotonic() - start)
            if len(firsts) < 4:
                s.close()
        check("connect + first echo of 1 byte (median of 3 new connections)", sorted(firsts[1:])[1], 2 * rtt)
        times = []
        for _ in range(5):
            start = time.monotonic()
            s.sendall(b"y")
            s.recv(1)
            times.append(time.monotonic() - start)
        s.close()
        check("echo of 1 byte on an open connection (median of 5)", sorted(times)[2], rtt)
        # Bulk: both directions carry `total`; the time is setup (2 RTT) + total / rate, pipelined.
        total = int(rate * args.seconds)
        end, _ = echo_transfer(link.port, total)
        measured_rate = total / max(end - 2 * rtt, 1e-6)
        ok = abs(measured_rate - rate) <= 0.2 * rate
        print(f"  bandwidth, {total / 1e6:.0f} MB echoed: {measured_rate * 8 / 1e6:.0f} Mbit/s each way, expected "
              f"{args.bandwidth_mbit:.0f}  {'ok' if ok else 'OFF'}")
        if not ok:
            failures.append("bandwidth")
        # Two connections share the link: together they get the configured rate, not twice it.
        results = []
        threads = [threading.Thread(target=lambda: results.append(echo_transfer(link.port, total // 2)))
                   for _ in range(2)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        shared = total / max(time.monotonic() - start - 2 * rtt, 1e-6)
        ok = abs(shared - rate) <= 0.2 * rate
        print(f"  bandwidth shared by 2 connections: {shared * 8 / 1e6:.0f} Mbit/s in all, expected "
              f"{args.bandwidth_mbit:.0f}  {'ok' if ok else 'OFF'}")
        if not ok:
            failures.append("shared bandwidth")
        st = link.stats()
        if st["connections"] != 7:
            failures.append("connection count")
            print(f"  connections counted: {st['connections']}, expected 7  OFF")
    # Headroom: at twice the bandwidth the emulator must still deliver it, or it would be the bottleneck.
    with LinkProcess(port, args.rtt_ms, 2 * args.bandwidth_mbit) as link:
        total = int(2 * rate * args.seconds)
        cpu_before = link.stats()["cpu_s"]
        end, _ = echo_transfer(link.port, total)
        cpu = link.stats()["cpu_s"] - cpu_before
        got = total / max(end - 2 * rtt, 1e-6)
        ok = got >= 0.8 * 2 * rate
        print(f"  headroom at {2 * args.bandwidth_mbit:.0f} Mbit/s each way: {got * 8 / 1e6:.0f} Mbit/s each way; "
              f"the emulator used {cpu:.2f} s CPU in {end:.2f} s ({100 * cpu / end:.0f}% of a core, both "
              f"directions)  {'ok' if ok else 'OFF'}")
        if not ok:
            failures.append("headroom")
    srv.close()
    if failures:
        print(f"link self-test FAILED: {', '.join(failures)}")
        return 1
    print("link self-test passed")
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench/link.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", nargs="?", choices=["serve"], help="serve: run one link (as ./bench/run does)")
    ap.add_argument("--selftest", action="store_true", help="measure delay and bandwidth through an echo server")
    ap.add_argument("--target", type=int, help="the port on 127.0.0.1 the link forwards to")
    ap.add_argument("--port", type=int, default=0, help="the port to listen on (default: an ephemeral one)")
    ap.add_argument("--rtt-ms", type=float, default=40.0, help="round-trip time (default 40)")
    ap.add_argument("--bandwidth-mbit", type=float, default=400.0, help="per direction, 0: unlimited (default 400)")
    ap.add_argument("--loss", type=float, default=0.0, help="probability that a connection is reset (default 0)")
    ap.add_argument("--loss-max-bytes", type=int, default=1 << 20,
                    help="a lost connection is reset after uniformly 0..this many bytes (default 1 MiB)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the loss draws")
    ap.add_argument("--seconds", type=float, default=1.0, help="self-test: length of the bulk transfer")
    args = ap.parse_args(argv)
    if args.selftest:
        return selftest(args)
    if args.mode != "serve" or not args.target:
        ap.error("give `serve --target PORT` or --selftest")
    if not 0 <= args.loss <= 1:
        ap.error("--loss is a probability, 0..1")
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
