"""Many recorders at once against one Daphne process: sessions held, events/s, ack
latency, server memory per session, and events lost.

Starts the server (`python -m ingest.server`) on the embedded defaults (SQLite and a local
folder, in a temporary directory) and N simulated recorders on loopback. Each replays a
corpus recording from tests/fixtures (checkout, spa, article, routes in turn) as the
recorder sends it: one batch per second of recording time, at real pace (or, with
--pace full, as fast as acknowledgements allow), looping until the run ends. Starts are
spread over --ramp seconds. After the run every recorder waits for its last ack; then
the events each one had acknowledged are compared with what the database indexed.

    .venv/bin/python bench/load.py --sessions 2000 --seconds 60
    .venv/bin/python bench/load.py --sessions 200 --pace full --seconds 30

The load generator runs on the same machine and competes with the server for the CPU;
its own share is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.embedded import start_embedded, storage_writes  # noqa: E402
from tests.support import CORPUS, load_recording  # noqa: E402

ORIGIN = "https://load.example"


@dataclass
class Script:
    """A recording cut the way the recorder cuts it: (second, pre-encoded events)."""

    name: str
    batches: list[tuple[float, bytes, int]]  # (offset s, msgpack of the events, count)
    length: float


def scripts() -> list[Script]:
    found = []
    for name in CORPUS:
        events = load_recording(name)
        start = events[0]["timestamp"]
        windows: dict[int, list[dict[str, Any]]] = {}
        for event in events:
            windows.setdefault(int((event["timestamp"] - start) // 1000), []).append(event)
        batches = [
            (second + 1.0, msgpack.packb(part), len(part))
            for second, part in sorted(windows.items())
        ]
        found.append(Script(name, batches, batches[-1][0] + 1.0))
    return found


_HEAD = msgpack.packb({"type": "batch"})[1:] + msgpack.packb("seq")


def frame(seq: int, events: bytes) -> bytes:
    """{"type": "batch", "seq": seq, "events": <already packed>}, without packing the
    events again for every send."""
    packed: bytes = b"\x83" + _HEAD + msgpack.packb(seq) + msgpack.packb("events") + events
    return packed


@dataclass
class Recorder:
    index: int
    script: Script
    sent_at: dict[int, float] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    acked: int = -1
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent, waited)
    held: bool = False
    error: str = ""
    session: str = ""  # as the welcome names it
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def until_acked(self, seq: int, within: float) -> None:
        """Wait until `seq` is acknowledged (or the timeout passes)."""
        deadline = time.monotonic() + within
        while self.acked < seq and time.monotonic() < deadline:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), deadline - time.monotonic())
            except TimeoutError:
                return

    def acked_events(self) -> int:
        return sum(count for seq, count in self.counts.items() if seq <= self.acked)


async def run_recorder(
    rec: Recorder, url: str, key: str, delay: float, until: float, pace: str
) -> None:
    await asyncio.sleep(delay)
    try:
        async with connect(
            url, origin=Origin(ORIGIN), max_size=None, open_timeout=30, ping_interval=None
        ) as ws:
            hello = {
                "type": "hello",
                "key": key,
                "session": f"load-{rec.index:06d}-session",
                "secret": "",
                "tab": "load-tab-0001",
                "acked": -1,
                "page": {"url": ORIGIN + "/"},
                "sdk": "bench",
            }
            await ws.send(msgpack.packb(hello))
            welcome = msgpack.unpackb(await ws.recv())
            if welcome["type"] != "welcome":
                rec.error = "no welcome"
                return
            rec.session = welcome["session"]  # the server names new sessions
            rec.held = True
            reader = asyncio.create_task(read_acks(ws, rec))
            seq = 0
            started = time.monotonic()
            loop_start = 0.0
            while time.monotonic() < until:
                for offset, events, count in rec.script.batches:
                    if pace == "real":
                        await asyncio.sleep(
                            max(0.0, started + loop_start + offset - time.monotonic())
                        )
                    else:
                        await rec.until_acked(seq - 8, within=60)
                    if time.monotonic() >= until:
                        break
                    rec.sent_at[seq] = time.monotonic()
                    rec.counts[seq] = count
                    await ws.send(frame(seq, events))
                    seq += 1
                loop_start += rec.script.length
            await rec.until_acked(seq - 1, within=30)  # the last ack
            reader.cancel()
            rec.held = rec.acked >= seq - 1
    except (OSError, ConnectionClosed, TimeoutError) as exc:
        rec.error = f"{type(exc).__name__}: {exc}"


async def read_acks(ws: Any, rec: Recorder) -> None:
    try:
        async for message in ws:
            reply = msgpack.unpackb(message)
            if reply["type"] != "ack":
                rec.error = f"server said {reply}"
                continue
            now = time.monotonic()
            for seq in range(rec.acked + 1, reply["seq"] + 1):
                if seq in rec.sent_at:
                    sent = rec.sent_at.pop(seq)
                    rec.latencies.append((sent, now - sent))
            rec.acked = max(rec.acked, reply["seq"])
            rec.progress.set()
    except ConnectionClosed as exc:
        rec.error = f"closed {exc.rcvd.code if exc.rcvd else '?'}"


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes `pid` started (the server's keyframe worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main_async(args: argparse.Namespace) -> None:
    env = {
        "REPLAY_LOG_LEVEL": "WARNING",
        "REPLAY_NEW_SESSIONS_PER_MINUTE": str(args.sessions * 10),
        **({"REPLAY_FLUSH_SECONDS": str(args.flush)} if args.flush is not None else {}),
    }
    # A line per connection in the access log is noise at this scale.
    embedded = start_embedded("load", ORIGIN, env=env, access_log=False)
    server, key, database = embedded.server, embedded.key, embedded.database
    assert server.process is not None
    pid = server.process.pid
    await asyncio.sleep(1)
    writes_before = storage_writes(server.url)
    rss_idle = rss_bytes(pid)
    cpu_before = cpu_seconds(pid)
    own_cpu_before = time.process_time()

    plays = scripts()
    recorders = [Recorder(i, plays[i % len(plays)]) for i in range(args.sessions)]
    start = time.monotonic()
    until = start + args.ramp + args.seconds
    tasks = [
        asyncio.create_task(
            run_recorder(r, server.ws_url, key, args.ramp * i / args.sessions, until, args.pace)
        )
        for i, r in enumerate(recorders)
    ]
    peak_rss = rss_idle
    held_peak = 0
    while not all(t.done() for t in tasks):
        await asyncio.sleep(1)
        peak_rss = max(peak_rss, rss_bytes(pid))
        held_peak = max(held_peak, sum(1 for r in recorders if r.held))
    elapsed = time.monotonic() - start
    server_cpu = cpu_seconds(pid) - cpu_before
    worker_cpu = sum(cpu_seconds(child) for child in children(pid))
    own_cpu = time.process_time() - own_cpu_before
    written = storage_writes(server.url) - writes_before
    server.stop()

    with sqlite3.connect(database) as db:
        stored = dict(db.execute("SELECT id, event_count FROM replay_session").fetchall())
        keyframes, keyframed = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT session_id) FROM replay_keyframe"
        ).fetchone()
    acked_events = sum(r.acked_events() for r in recorders)
    lost = sum(max(0, r.acked_events() - stored.get(r.session, 0)) for r in recorders)
    latencies = [waited for r in recorders for _, waited in r.latencies]
    ramp_end = start + args.ramp
    steady = [waited for r in recorders for sent, waited in r.latencies if sent >= ramp_end]
    errors = [r.error for r in recorders if r.error]

    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(written.items()))
    # Recorded session-minutes: from each recorder's first batch to its last acknowledged.
    recorded_minutes = sum(
        (max(sent for sent, _ in r.latencies) - min(sent for sent, _ in r.latencies)) / 60
        for r in recorders
        if r.latencies
    )
    p50, p95, p99 = (percentile(latencies, share) for share in (0.5, 0.95, 0.99))
    s50, s95, s99 = (percentile(steady, share) for share in (0.5, 0.95, 0.99))
    mean = statistics.fmean(latencies) if latencies else float("nan")
    per_session = (peak_rss - rss_idle) / max(1, held_peak) / 1024
    rows = [
        (
            "run",
            f"{args.sessions} recorders, pace {args.pace}, {args.seconds:g} s after a "
            f"{args.ramp:g} s ramp ({elapsed:.0f} s in all)",
        ),
        ("sessions held at the peak", f"{held_peak}"),
        ("sessions acknowledged to the end", f"{sum(1 for r in recorders if r.held)}"),
        ("events acknowledged", f"{acked_events} ({acked_events / elapsed:.0f} events/s)"),
        ("events lost (acked, not stored)", f"{lost}"),
        ("ack latency p50 / p95 / p99", f"{p50:.3f} / {p95:.3f} / {p99:.3f} s (mean {mean:.3f})"),
        ("  after the ramp", f"{s50:.3f} / {s95:.3f} / {s99:.3f} s"),
        (
            "server RSS idle / peak",
            f"{rss_idle / 2**20:.0f} / {peak_rss / 2**20:.0f} MiB "
            f"({per_session:.0f} KiB per session)",
        ),
        (
            "CPU seconds: server / worker / load",
            f"{server_cpu:.0f} / {worker_cpu:.0f} / {own_cpu:.0f} of {2 * elapsed:.0f}",
        ),
        ("keyframes written", f"{keyframes} for {keyframed} sessions"),
        (
            "storage writes (PUTs on S3)",
            f"{written.total()} ({kinds}): {written.total() / elapsed:.2f} a second, "
            f"{written.total() / max(recorded_minutes, 1e-9):.3f} per recorded session-minute",
        ),
    ]
    for label, value in rows:
        print(f"{label:34} {value}")
    if args.timeline:
        windows: dict[int, list[float]] = {}
        for r in recorders:
            for sent, waited in r.latencies:
                windows.setdefault(int((sent - start) // 10) * 10, []).append(waited)
        for at, values in sorted(windows.items()):
            print(
                f"  sent at {at:4d}-{at + 10:<4d} s: {len(values):7d} acks, p50 "
                f"{percentile(values, 0.5):.2f} p99 {percentile(values, 0.99):.2f} s"
            )
    if errors:
        print(f"recorder errors: {len(errors)}, e.g. {errors[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60, help="load after the ramp")
    parser.add_argument("--ramp", type=float, default=20, help="seconds over which recorders start")
    parser.add_argument("--pace", choices=["real", "full"], default="real")
    parser.add_argument("--flush", type=float, help="REPLAY_FLUSH_SECONDS for the server")
    parser.add_argument("--timeline", action="store_true", help="latency per 10 s of the run")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
