"""Scale-out: issue #13's table, the broker with 1, 2 and 4 processes on one and many tenants, beside nginx.

Run:  .venv/bin/python -m tests.benchmarks.scale_out [--seconds 15] [--processes 1 2 4] [--tenants 1 8]
                                                     [--event-loops asyncio uvloop] [--floor-busy-ms 0.5]
      .venv/bin/python -m tests.benchmarks.scale_out --soak 600 [--soak-interval 30] [--processes 2]
                                                     [--tenants 8]

The workload is the anchor's (`tests/benchmarks/anchor/`, copied from the harness issue #13 was
measured with): wrk POSTs a RaadpleegMetBurgerservicenummer query to a gateway, which forwards it
over mTLS to a fake RvIG (nginx with the echo module: a token endpoint and a 2.2 KB answer, on one
port at once, on another 100 ms later). The gateways, measured in the same run:
- nginx `proxy_pass` with mTLS (the anchor's proxy confs): the physical limit of a proxy that does
  no work, and the baseline of every ratio;
- the stack floor (`gateway_stack floor`, with each `--processes` count, its workers started as
  `serve` starts the broker's): uvicorn, Litestar and the broker's own RvIG client served and
  configured as the broker's, forwarding the body with no work of its own: what the chosen stack
  costs before the broker does anything, and what more processes do to the stack alone;
- the broker (`gateway_stack broker`: `brp-broker serve` with BROKER_WORKERS=N, the full pipeline:
  JWT, doelbinding, limits, protocol) on the embedded PostgreSQL, with N processes, for 1 tenant
  and for M tenants (each with its own afnemer and caller token; wrk takes the tokens in turn).
The floor and the broker run once per `--event-loops` value (BROKER_EVENT_LOOP), side by side.

Per gateway, two runs of `--seconds` after a `--warmup`:
- c16 against the upstream that answers at once: throughput, and CPU per request of the gateway's
  process tree and of PostgreSQL's (postmaster and its children): utime + stime from /proc before
  and after, divided by the requests answered; the busiest process's share of the gateway's
  CPU (~1/N when N workers share the work evenly); and how often per request the gateway's
  processes were preempted (involuntary context switches, /proc/<pid>/status): what more busy
  processes than cores cost them; for the broker, its protocol records per group commit (its
  /metrics before and after: each worker commits on its own, so more workers, smaller commits);
- c256 against the +100 ms upstream: throughput, p50/p99 latency, and the peak RSS during the run
  of the gateway's largest process and of all its processes together (sampled every 0.5 s).
Throughput counts 2xx answers only; the other answers, and socket errors and timeouts (2 s), are
counted apart. `--keep` keeps the temporary folder (confs, logs).

Then the issue's targets, each met or missed. `--soak SECONDS` instead runs only the broker (the
largest --processes and --tenants) at c256 over the +100 ms upstream for that long, and prints its
throughput, p99, RSS and the CPU per request of the broker and of PostgreSQL every --soak-interval
seconds.

Every port is a free one asked from the OS; nginx confs are templated into a temporary folder with
the broker's dev PKI (its CA trusts the broker's client certificate and signs nginx's server
certificate). Everything runs on this machine: wrk, nginx, the broker and PostgreSQL share its
cores, so absolute numbers are lower than on separate hosts; compare within one run.
Needs Debian's nginx, libnginx-mod-http-echo and wrk (installed with apt-get when run as root).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import msgspec

from app.dev import DEV_OIN
from app.sandbox.config import load_config
from app.sandbox.idp import dev_idp_jwks, issue_dev_token
from app.sandbox.pki import ensure_dev_pki
from app.secrets import generate_secret_key
from tests.benchmarks.gateway_stack import POSTGRES_READY, bench_tenants
from tests.support.servers import free_port

ANCHOR = Path(__file__).parent / "anchor"
PATH = "/haalcentraal/api/brp/personen"
LOW, HIGH = 16, 256  # connections of the throughput run and of the latency run
WRK_THREADS = 2
WRK_TIMEOUT = "2s"
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
PACKAGES = ("nginx", "libnginx-mod-http-echo", "wrk")
STARTUP_MARKER = "Application startup complete"
# The issue's targets.
THROUGHPUT_RATIO = 0.8  # broker/nginx at c256 over the +100 ms upstream
P99_RATIO = 1.5
RSS_LIMIT_MB = 150.0
CPU_LIMIT_MS = 0.4
# Throughput "never drops" with more processes: a run may be this much below the previous (noise).
NOISE = 0.05
MB = 2**20

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


# --- Records ---------------------------------------------------------------------------------


class WrkRun(msgspec.Struct, frozen=True):
    """What one wrk run reports (from the WRKJSON line of `anchor/post.lua`)."""

    requests: int  # answered, whatever the status
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int  # connect, read, write errors and timeouts

    @property
    def rps(self) -> float:
        """2xx answers per second."""
        return (self.requests - self.non_2xx) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Requests that did not get a 2xx answer."""
        return self.non_2xx + self.socket_errors


class Memory(msgspec.Struct, frozen=True):
    """Peak RSS (bytes) of a process tree: its largest process, and all of them together."""

    largest: int = 0
    total: int = 0

    def peak(self, other: Memory) -> Memory:
        """The larger of each figure."""
        return Memory(max(self.largest, other.largest), max(self.total, other.total))


class Row(msgspec.Struct, frozen=True):
    """One gateway configuration's line of the table."""

    gateway: str
    processes: int | None  # None: nginx (its own `worker_processes auto`)
    tenants: int | None
    c16: WrkRun
    cpu_ms: float  # the gateway's process tree, per request, at c16
    postgres_cpu_ms: float | None
    c256: WrkRun  # over the +100 ms upstream
    rss: Memory  # during the c256 run
    token_requests: int | None = None  # the broker's POSTs to the token endpoint, c256 instance
    loop: str | None = None  # BROKER_EVENT_LOOP of the floor and the broker; None: nginx
    floor: bool = False  # the stack floor, not the broker
    busy_ms: float = 0.0  # the floor's stand-in CPU per request (`--floor-busy-ms`)
    busiest_share: float | None = None  # at c16, of the gateway tree's CPU: the busiest process
    preempted: float | None = None  # at c16, per request: the gateway tree's involuntary context switches
    batch_records: float | None = None  # at c16, the broker's protocol records per group commit


class Gateway(msgspec.Struct, frozen=True):
    """A running gateway: where to send requests, and the root of its process tree."""

    url: str
    pid: int


# --- Pure helpers (unit-tested) --------------------------------------------------------------


def parse_wrk(output: str) -> WrkRun:
    """The WRKJSON line `anchor/post.lua` prints at the end of a wrk run; ValueError without one."""
    found = re.search(r"^WRKJSON (\{.*\})$", output, re.MULTILINE)
    if found is None:
        raise ValueError(f"wrk printed no WRKJSON line: {output.strip()[-500:]!r}")
    data = json.loads(found.group(1))
    return WrkRun(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["lat_p50_us"] / 1000,
        p99_ms=data["lat_p99_us"] / 1000,
        non_2xx=data["err_status"],
        socket_errors=sum(data[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")),
    )


def parse_batch_records(metrics: str) -> tuple[float, float]:
    """(records, group commits) of the broker's protocol writer, from its /metrics text, every outcome."""
    totals = {"sum": 0.0, "count": 0.0}
    for kind, value in re.findall(
        r"^brp_broker_protocol_batch_records_(sum|count)(?:\{[^}]*\})? (\S+)$", metrics, re.MULTILINE
    ):
        totals[kind] += float(value)
    return totals["sum"], totals["count"]


def parse_preemptions(status: str) -> int:
    """The involuntary context switches in the text of /proc/<pid>/status: how often it was preempted."""
    found = re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)$", status, re.MULTILINE)
    if found is None:
        raise ValueError("no nonvoluntary_ctxt_switches line")
    return int(found.group(1))


def parse_stat(text: str) -> tuple[int, int]:
    """(parent pid, utime + stime in clock ticks) from the text of /proc/<pid>/stat."""
    # The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def process_tree(root: int, parents: Mapping[int, int]) -> list[int]:
    """`root` and all its descendants, given each process's parent."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def render(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `@NAME@` replaced by `values["NAME"]`; KeyError names a missing one."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(0).strip("@")], template)


def verdicts(rows: Sequence[Row]) -> list[str]:
    """The issue's targets, one line each, ending in `met` or `missed` (or why it cannot tell)."""
    nginx = next((row for row in rows if row.processes is None), None)
    brokers = [row for row in rows if row.processes is not None and not row.floor]
    if nginx is None or not brokers:
        return ["targets: need the nginx row and at least one broker row"]
    lines = []
    for loop, tenants in sorted({(row.loop or "", row.tenants or 1) for row in brokers}):
        group = sorted(
            (row for row in brokers if row.tenants == tenants and (row.loop or "") == loop),
            key=lambda row: row.processes or 0,
        )
        several_loops = len({row.loop for row in brokers}) > 1
        label = f"{_tenants(tenants)}, {loop}" if several_loops else _tenants(tenants)
        lines += _latency_verdicts(nginx, group, label)
        lines += _growth_verdicts(group, label)
    largest = max(brokers, key=lambda row: row.rss.largest)
    lines.append(
        f"RSS per process at c{HIGH} ≤ {RSS_LIMIT_MB:.0f} MB: largest {largest.rss.largest / MB:.0f} MB "
        f"({_label(largest)}): {_met(largest.rss.largest / MB <= RSS_LIMIT_MB)}"
    )
    costliest = max(brokers, key=lambda row: row.cpu_ms)
    lines.append(
        f"broker CPU per request at c{LOW} ≤ {CPU_LIMIT_MS} ms: highest {costliest.cpu_ms:.3f} ms "
        f"({_label(costliest)}): {_met(costliest.cpu_ms <= CPU_LIMIT_MS)}"
    )
    lines += _floor_lines(rows, brokers)
    lines += _floor_growth_lines(rows)
    tokens = [row for row in brokers if row.token_requests is not None]
    if tokens:
        over = [
            row for row in tokens if (row.token_requests or 0) > (row.tenants or 1) * (row.processes or 1)
        ]
        lines.append(
            "RvIG token requests ≤ one per afnemer per process: "
            + _met(not over)
            + "".join(f"; {_label(row)} made {row.token_requests}" for row in over)
        )
    return lines


def _floor_lines(rows: Sequence[Row], brokers: Sequence[Row]) -> list[str]:
    """Of the broker's CPU per request (1 process, 1 tenant), how much the stack floor already costs."""
    lines = []
    for floor in (row for row in rows if row.floor and not row.busy_ms and row.processes == 1):
        broker = next(
            (row for row in brokers if row.loop == floor.loop and row.processes == 1 and row.tenants == 1),
            None,
        )
        if broker is None:
            continue
        lines.append(
            f"{floor.loop}: the stack floor costs {floor.cpu_ms:.3f} ms of the broker's "
            f"{broker.cpu_ms:.3f} ms CPU per request at c{LOW} (1 process, 1 tenant); the broker's own work: "
            f"{broker.cpu_ms - floor.cpu_ms:.3f} ms; the {CPU_LIMIT_MS} ms target leaves it "
            f"{CPU_LIMIT_MS - floor.cpu_ms:.3f} ms"
        )
    return lines


def _latency_verdicts(nginx: Row, group: Sequence[Row], label: str) -> list[str]:
    """Throughput and p99 at c256 over +100 ms against nginx's: met if some process count meets both."""
    both = [
        row
        for row in group
        if row.c256.rps >= THROUGHPUT_RATIO * nginx.c256.rps
        and row.c256.p99_ms <= P99_RATIO * nginx.c256.p99_ms
    ]
    best = both[0] if both else max(group, key=lambda row: row.c256.rps)
    throughput = best.c256.rps / nginx.c256.rps if nginx.c256.rps else 0.0
    p99 = best.c256.p99_ms / nginx.c256.p99_ms if nginx.c256.p99_ms else float("inf")
    return [
        f"{label}: c{HIGH} +100 ms throughput ≥ {THROUGHPUT_RATIO}× nginx and p99 ≤ {P99_RATIO}× "
        f"nginx: {_processes(best.processes)} {throughput:.2f}× / {p99:.2f}×: {_met(bool(both))}"
    ]


def _growth_verdicts(group: Sequence[Row], label: str) -> list[str]:
    """Throughput with 1, 2, 4 processes: never below the previous (less `NOISE`)."""
    return [f"{label}: {growth}: {_met(never_drops)}" for growth, never_drops in _growth(group)]


def _floor_growth_lines(rows: Sequence[Row]) -> list[str]:
    """The stack floor's throughput with 1, 2, 4 processes: no target, but what the stack alone does."""
    lines = []
    for loop, busy_ms in sorted({(row.loop or "", row.busy_ms) for row in rows if row.floor}):
        group = sorted(
            (row for row in rows if row.floor and (row.loop or "") == loop and row.busy_ms == busy_ms),
            key=lambda row: row.processes or 0,
        )
        busy = f", {busy_ms:g} ms busy" if busy_ms else ""
        label = f"the stack floor{busy}, {loop} (no target, for comparison)"
        lines += [
            f"{label}: {growth}: {'yes' if never_drops else 'no'}" for growth, never_drops in _growth(group)
        ]
    return lines


def _growth(group: Sequence[Row]) -> list[tuple[str, bool]]:
    """Each run's throughput over the process counts, and whether it never drops (less `NOISE`)."""
    if len(group) < 2:
        return []
    growth = []
    for name, figures in (
        (f"c{LOW}", [row.c16.rps for row in group]),
        (f"c{HIGH} +100 ms", [row.c256.rps for row in group]),
    ):
        never_drops = all(later >= (1 - NOISE) * earlier for earlier, later in itertools.pairwise(figures))
        steps = " → ".join(f"{value:,.0f}" for value in figures)
        counts = "/".join(str(row.processes) for row in group)
        growth.append(
            (f"{name} rps with {counts} processes {steps}: never drops (less {NOISE:.0%} noise)", never_drops)
        )
    return growth


def _met(condition: bool) -> str:
    return "met" if condition else "MISSED"


def _tenants(count: int) -> str:
    return f"{count} tenant" + ("s" if count != 1 else "")


def _processes(count: int | None) -> str:
    return f"{count} process" + ("es" if count != 1 else "")


def _label(row: Row) -> str:
    loop = f", {row.loop}" if row.loop else ""
    return f"{_processes(row.processes)}, {_tenants(row.tenants or 1)}{loop}"


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    head = (
        f"| gateway | event loop | processes | tenants | rps c{LOW} | CPU ms/req | PostgreSQL CPU ms/req "
        f"| RSS c{HIGH} largest / total MB | c{HIGH} +100 ms rps | p50 ms | p99 ms | rps / p99 vs nginx "
        f"| non-2xx / socket errors | RvIG tokens | busiest process c{LOW} | preempted /req c{LOW} "
        f"| records /commit c{LOW} |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    nginx = next((row for row in rows if row.processes is None), None)
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                [
                    row.gateway,
                    row.loop or "–",
                    "auto" if row.processes is None else str(row.processes),
                    "–" if row.tenants is None else str(row.tenants),
                    f"{row.c16.rps:,.0f}",
                    f"{row.cpu_ms:.3f}",
                    "–" if row.postgres_cpu_ms is None else f"{row.postgres_cpu_ms:.3f}",
                    f"{row.rss.largest / MB:.0f} / {row.rss.total / MB:.0f}",
                    f"{row.c256.rps:,.0f}",
                    f"{row.c256.p50_ms:.0f}",
                    f"{row.c256.p99_ms:.0f}",
                    _versus(row, nginx),
                    _errors(row),
                    "–" if row.token_requests is None else str(row.token_requests),
                    "–" if row.busiest_share is None else f"{row.busiest_share:.0%}",
                    "–" if row.preempted is None else f"{row.preempted:.2f}",
                    "–" if row.batch_records is None else f"{row.batch_records:.1f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def _errors(row: Row) -> str:
    runs = (row.c16, row.c256)
    return f"{sum(run.non_2xx for run in runs)} / {sum(run.socket_errors for run in runs)}"


def _versus(row: Row, nginx: Row | None) -> str:
    if nginx is None or row is nginx or not nginx.c256.rps or not nginx.c256.p99_ms:
        return "–"
    return f"{row.c256.rps / nginx.c256.rps:.2f}× / {row.c256.p99_ms / nginx.c256.p99_ms:.2f}×"


# --- /proc -----------------------------------------------------------------------------------


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # gone meanwhile
                parents[int(entry.name)] = parse_stat((entry / "stat").read_text())[0]
    return parents


def tree_of(root: int) -> list[int]:
    """`root` and its descendants, now."""
    return process_tree(root, _parents())


def cpu_seconds(root: int) -> float:
    """utime + stime of the process tree of `root` (its current members)."""
    return sum(cpu_seconds_by_process(root).values())


def cpu_seconds_by_process(root: int) -> dict[int, float]:
    """utime + stime of each current member of the process tree of `root`."""
    seconds = {}
    for pid in tree_of(root):
        with contextlib.suppress(OSError):
            seconds[pid] = parse_stat(Path(f"/proc/{pid}/stat").read_text())[1] / _CLOCK_TICKS
    return seconds


def preemptions(root: int) -> int:
    """The involuntary context switches of the current members of the process tree of `root`."""
    switches = 0
    for pid in tree_of(root):
        with contextlib.suppress(OSError):
            switches += parse_preemptions(Path(f"/proc/{pid}/status").read_text())
    return switches


def busiest_share(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """The largest share one process had of the CPU the tree used between two readings."""
    used = [seconds - before.get(pid, 0.0) for pid, seconds in after.items()]
    total = sum(used)
    return max(used) / total if total > 0 else 1.0


def memory(root: int) -> Memory:
    """RSS of the largest process of the tree of `root`, and of all of them together."""
    sizes = []
    for pid in tree_of(root):
        with contextlib.suppress(OSError):
            sizes.append(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_SIZE)
    return Memory(max(sizes, default=0), sum(sizes))


class MemorySampler:
    """`with MemorySampler(pid) as sampler:` samples the tree's RSS every 0.5 s; `sampler.peak` after."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.peak = Memory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = self.peak.peak(memory(self.root))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = self.peak.peak(memory(self.root))


# --- Processes -------------------------------------------------------------------------------


def _require_tools() -> None:
    """nginx, its echo module and wrk, installed from Debian if missing and we are root."""
    if _have_tools():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(
            f"scale_out needs {', '.join(PACKAGES)}: run `apt-get install -y {' '.join(PACKAGES)}` as root"
        )
    print(f"installing {', '.join(PACKAGES)} with apt-get", flush=True)
    installed = subprocess.run(["apt-get", "install", "-y", *PACKAGES], check=False)
    if installed.returncode != 0 or not _have_tools():
        sys.exit(f"`apt-get install -y {' '.join(PACKAGES)}` did not provide nginx, the echo module and wrk")


def _have_tools() -> bool:
    return bool(shutil.which("nginx") and shutil.which("wrk") and ECHO_MODULE.exists())


def _wait_listening(
    port: int, process: subprocess.Popen[bytes] | subprocess.Popen[str], what: str, log: Path
) -> None:
    """Poll the port until it accepts a connection; fail at once if the process ends first."""
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)  # the poll interval, and a check that it still runs
            raise RuntimeError(f"{what} exited with {process.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on port {port} within 60 s: {_tail(log)}")


def _tail(path: Path, lines: int = 10) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str], signum: int, timeout: float = 60) -> None:
    """Signal the process; if it has not ended after `timeout`, kill its whole process group."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # started in a session of its own
            process.wait(timeout=10)


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait (without polling) until a process that is not our child ends; True if it did."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], timeout)
        return bool(readable)
    finally:
        os.close(handle)


@contextlib.contextmanager
def nginx(
    name: str, template: str, folder: Path, values: Mapping[str, str], ports: Sequence[int]
) -> Iterator[int]:
    """nginx with `anchor/<template>` rendered into `folder/<name>/`; yields its master's pid."""
    run_dir = folder / name
    (run_dir / "tmp").mkdir(parents=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(render((ANCHOR / template).read_text(), {**values, "RUN_DIR": str(run_dir)}))
    log = run_dir / "error.log"
    command = ["nginx", "-p", str(run_dir), "-e", str(log), "-c", str(conf), "-g", "daemon off;"]
    with (run_dir / "stderr.log").open("wb") as stderr:
        # A session of its own: Ctrl-C reaches only this script, which stops everything in order.
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        for port in ports:
            _wait_listening(port, process, f"nginx {name}", log)
        if int((run_dir / "nginx.pid").read_text()) != process.pid:
            raise RuntimeError(f"nginx {name}: its pid file names another process")
        yield process.pid
    finally:
        _stop(process, signal.SIGTERM, timeout=15)


@contextlib.contextmanager
def postgres(env: Mapping[str, str], state: Path) -> Iterator[int]:
    """The embedded PostgreSQL held by `gateway_stack postgres`; yields the postmaster's pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.gateway_stack", "postgres"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    postmaster = None
    try:
        _wait_for_lines(process, POSTGRES_READY, 1)
        postmaster = int((state / "postgres" / "postmaster.pid").read_text().split()[0])
        yield postmaster
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the holder stops the server and ends
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        _stop(process, signal.SIGTERM)
        if postmaster is not None and not _wait_gone(postmaster, 30):
            os.kill(postmaster, signal.SIGINT)  # PostgreSQL's fast shutdown
            _wait_gone(postmaster, 30)


def _wait_for_lines(process: subprocess.Popen[str], marker: str, count: int) -> None:
    """Read the process's output until `count` lines contain `marker`."""
    assert process.stdout is not None
    last: deque[str] = deque(maxlen=20)
    seen = 0
    for line in process.stdout:
        last.append(line.rstrip())
        seen += marker in line
        if seen == count:
            return
    process.wait()
    raise RuntimeError(f"exited with {process.returncode} before {count}× {marker!r}:\n" + "\n".join(last))


@contextlib.contextmanager
def broker(
    env: Mapping[str, str], upstream_url: str, processes: int, tenants: int, log: Path
) -> Iterator[Gateway]:
    """`gateway_stack broker` with `processes` workers and `tenants` tenants, its output in `log`."""
    command = ["broker", upstream_url, "--tenants", str(tenants)]
    with _stack_process(command, env, processes, log) as gateway:
        yield gateway


def floor(
    env: Mapping[str, str], upstream_url: str, busy_ms: float, processes: int, log: Path
) -> contextlib.AbstractContextManager[Gateway]:
    """`gateway_stack floor`: the stack floor with `processes` workers, its output in `log`."""
    return _stack_process(["floor", upstream_url, "--busy-ms", str(busy_ms)], env, processes, log)


@contextlib.contextmanager
def _stack_process(
    arguments: list[str], env: Mapping[str, str], processes: int, log: Path
) -> Iterator[Gateway]:
    """`gateway_stack <arguments>` serving on a free port with `processes` workers, until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.gateway_stack", *arguments],
        # A key-encryption key: the processes share one RvIG token per afnemer, as a deployment does.
        env={
            **env,
            "BROKER_PORT": str(port),
            "BROKER_WORKERS": str(processes),
            "BROKER_SECRET_KEY": generate_secret_key(),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    drain = None
    try:
        _wait_for_lines(process, STARTUP_MARKER, processes)  # one line per worker
        with log.open("ab") as output:
            # cat keeps the pipe drained (the per-request lines) at a fraction of Python's cost.
            drain = subprocess.Popen(["cat"], stdin=process.stdout, stdout=output, start_new_session=True)
        # One process binds its port after its lifespan started (the marker): wait for the listener.
        _wait_listening(port, process, "the broker", log)
        yield Gateway(f"http://127.0.0.1:{port}{PATH}", process.pid)
    finally:
        _stop(process, signal.SIGTERM)
        if drain is not None:
            drain.wait(timeout=30)


# --- Measuring -------------------------------------------------------------------------------


def wrk(url: str, connections: int, seconds: int, tokens: Path) -> WrkRun:
    """One wrk run of `anchor/post.lua` with the tokens in `tokens` taken in turn."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}"]
    command += ["-s", str(ANCHOR / "post.lua"), url]
    done = subprocess.run(
        command, env={**os.environ, "TOKENS_FILE": str(tokens)}, capture_output=True, text=True, check=False
    )
    return parse_wrk(done.stdout + done.stderr)


class Throughput(msgspec.Struct, frozen=True):
    """The c16 run: wrk's figures and what it cost."""

    run: WrkRun
    cpu_ms: float  # the gateway's process tree, per request
    postgres_cpu_ms: float | None
    busiest_share: float  # of the gateway tree's CPU, the one process that used most
    preempted: float  # the gateway tree's involuntary context switches, per request
    batch_records: float | None  # the broker's protocol records per group commit


def throughput(
    gateway: Gateway, postmaster: int | None, tokens: Path, seconds: int, warmup: int
) -> Throughput:
    """The c16 run against `gateway`, with its CPU per request and that of PostgreSQL.

    With `postmaster` the gateway is the broker: its protocol writer's records per group commit
    come from its /metrics (all workers' together) before and after the run.
    """
    if warmup:
        wrk(gateway.url, LOW, warmup, tokens)
    # Scraped before the CPU is read, so the scrape's own work is not counted as the requests'.
    committed_before = _committed(gateway) if postmaster else None
    gateway_before = cpu_seconds_by_process(gateway.pid)
    preempted_before = preemptions(gateway.pid)
    postgres_before = cpu_seconds(postmaster) if postmaster else 0.0
    run = wrk(gateway.url, LOW, seconds, tokens)
    gateway_after = cpu_seconds_by_process(gateway.pid)
    preempted = (preemptions(gateway.pid) - preempted_before) / max(run.requests, 1)
    per_request = 1000 / max(run.requests, 1)
    gateway_ms = (sum(gateway_after.values()) - sum(gateway_before.values())) * per_request
    postgres_ms = (cpu_seconds(postmaster) - postgres_before) * per_request if postmaster else None
    batch_records = None
    if committed_before is not None:
        records, commits = _committed(gateway)
        new_commits = commits - committed_before[1]
        batch_records = (records - committed_before[0]) / new_commits if new_commits else None
    busiest = busiest_share(gateway_before, gateway_after)
    return Throughput(run, gateway_ms, postgres_ms, busiest, preempted, batch_records)


def _committed(gateway: Gateway) -> tuple[float, float]:
    """(records, group commits) the broker's protocol writers made so far."""
    with urllib.request.urlopen(gateway.url.removesuffix(PATH) + "/metrics", timeout=10) as answer:
        return parse_batch_records(answer.read().decode())


def latency(gateway: Gateway, tokens: Path, seconds: int, warmup: int) -> tuple[WrkRun, Memory]:
    """c256 run over the +100 ms upstream: (wrk's figures, peak RSS of the gateway's tree)."""
    if warmup:
        wrk(gateway.url, HIGH, warmup, tokens)
    with MemorySampler(gateway.pid) as sampler:
        run = wrk(gateway.url, HIGH, seconds, tokens)
    return run, sampler.peak


def _token_requests(token_log: Path) -> int:
    if not token_log.exists():
        return 0
    return sum(" POST " in line for line in token_log.read_text().splitlines())


# --- The run ---------------------------------------------------------------------------------


class Bench:
    """Everything one run sets up: folders, the fake RvIG, PostgreSQL, tokens; and its options."""

    def __init__(self, args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
        self.args = args
        self.stack = stack
        self.folder = Path(tempfile.mkdtemp(prefix="brp-scale-out-"))
        # Registered first, so it runs last: after every process is stopped.
        stack.callback(_remove_or_keep, self.folder, keep=args.keep)
        self.state = self.folder / "state"
        self.nginx_dir = self.folder / "nginx"
        self.nginx_dir.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
        self.env |= {"BROKER_STATE_DIR": str(self.state), "BROKER_LOG_FORMAT": "json"}
        # The benchmark measures the data path, not the limiter's refusals: roomy limits.
        self.env |= {
            f"BROKER_RATELIMIT_{who}_{what}": "1000000"
            for who in ("TENANT", "AFNEMER", "EMPLOYEE")
            for what in ("RATE", "BURST")
        }
        self.upstream_port, self.delay_port = free_port(), free_port()
        self.values = {
            "CERTS": str(self._certificates()),
            "UPSTREAM_PORT": str(self.upstream_port),
            "UPSTREAM_DELAY_PORT": str(self.delay_port),
        }
        self.token_log = self.nginx_dir / "upstream" / "token.log"

    def _certificates(self) -> Path:
        """The broker's dev PKI, under the names the anchor's confs use."""
        pki = ensure_dev_pki(self.state, load_config(state_dir=str(self.state)).oins)
        client = pki.client(DEV_OIN)
        certs = self.nginx_dir / "certs"
        certs.mkdir(mode=0o700)
        for source, name in (
            (pki.ca_cert, "ca.pem"),
            (pki.server_cert, "server.pem"),
            (pki.server_key, "server.key"),
            (client.cert, "client.pem"),
            (client.key, "client.key"),
        ):
            shutil.copy2(source, certs / name)
        return certs

    def start_upstream(self) -> None:
        """The anchor's fake RvIG on two free ports, until the run ends."""
        ports = (self.upstream_port, self.delay_port)
        self.stack.enter_context(nginx("upstream", "upstream-nginx.conf", self.nginx_dir, self.values, ports))

    def start_postgres(self) -> int:
        """The embedded PostgreSQL, until the run ends; its postmaster's pid."""
        return self.stack.enter_context(postgres(self.env, self.state))

    def tokens(self, tenants: int) -> Path:
        """A file with one caller token per tenant (dev IdP, valid for the whole run)."""
        dev_idp_jwks(self.state)  # creates the dev IdP's key on first use
        lifetime = 12 * 3600 + (self.args.soak or 0)
        path = self.folder / f"tokens-{tenants}.txt"
        tokens = [
            issue_dev_token(self.state, tenant=slug, subject="bench", employee="E0001", lifetime=lifetime)
            for slug, _ in bench_tenants(tenants)
        ]
        path.write_text("\n".join(tokens) + "\n")
        return path

    def upstream_url(self, *, delayed: bool) -> str:
        """Base URL of the fake RvIG, at once or +100 ms."""
        return f"https://127.0.0.1:{self.delay_port if delayed else self.upstream_port}"

    def broker(
        self, processes: int, tenants: int, loop: str, *, delayed: bool
    ) -> contextlib.AbstractContextManager[Gateway]:
        """The broker against the fake RvIG on `loop`; its output appended to `broker.log`."""
        url = self.upstream_url(delayed=delayed)
        env = {**self.env, "BROKER_EVENT_LOOP": loop}
        return broker(env, url, processes, tenants, self.folder / "broker.log")

    def floor(
        self, processes: int, loop: str, *, delayed: bool
    ) -> contextlib.AbstractContextManager[Gateway]:
        """The stack floor with `processes` workers against the fake RvIG on `loop`; output in `floor.log`."""
        env = {**self.env, "BROKER_EVENT_LOOP": loop}
        url, busy_ms = self.upstream_url(delayed=delayed), self.args.floor_busy_ms
        return floor(env, url, busy_ms, processes, self.folder / "floor.log")


def _remove_or_keep(folder: Path, *, keep: bool) -> None:
    if keep:
        print(f"kept {folder} (confs, logs, PKI, PostgreSQL's data)")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def nginx_row(bench: Bench, tokens: Path) -> Row:
    """The baseline: nginx proxy_pass with mTLS to each upstream port."""
    args = bench.args
    ports = {"fast": free_port(), "delay": free_port()}
    with nginx(
        "proxy",
        "proxy-nginx.conf",
        bench.nginx_dir,
        {**bench.values, "LISTEN_PORT": str(ports["fast"])},
        [ports["fast"]],
    ) as pid:
        fast = Gateway(f"http://127.0.0.1:{ports['fast']}{PATH}", pid)
        c16 = throughput(fast, None, tokens, args.seconds, args.warmup)
    with nginx(
        "proxy-delay",
        "proxy-nginx.conf",
        bench.nginx_dir,
        {**bench.values, "LISTEN_PORT": str(ports["delay"]), "UPSTREAM_PORT": str(bench.delay_port)},
        [ports["delay"]],
    ) as pid:
        c256, rss = latency(
            Gateway(f"http://127.0.0.1:{ports['delay']}{PATH}", pid), tokens, args.seconds, args.warmup
        )
    return _row("nginx proxy_pass + mTLS", None, None, c16, c256, rss)


def _row(
    gateway: str,
    processes: int | None,
    tenants: int | None,
    c16: Throughput,
    c256: WrkRun,
    rss: Memory,
    *,
    token_requests: int | None = None,
    loop: str | None = None,
    floor: bool = False,
    busy_ms: float = 0.0,
) -> Row:
    """A table row from the c16 run's figures, the c256 run's and its memory."""
    return Row(
        gateway,
        processes,
        tenants,
        c16.run,
        c16.cpu_ms,
        c16.postgres_cpu_ms,
        c256,
        rss,
        token_requests,
        loop,
        floor,
        busy_ms,
        c16.busiest_share,
        c16.preempted,
        c16.batch_records,
    )


def floor_row(bench: Bench, processes: int, loop: str, tokens: Path) -> Row:
    """The stack floor with `processes` workers on `loop`: one instance per upstream."""
    args = bench.args
    with bench.floor(processes, loop, delayed=False) as gateway:
        c16 = throughput(gateway, None, tokens, args.seconds, args.warmup)
    with bench.floor(processes, loop, delayed=True) as gateway:
        c256, rss = latency(gateway, tokens, args.seconds, args.warmup)
    busy = f", {args.floor_busy_ms:g} ms busy" if args.floor_busy_ms else ""
    name = f"stack floor (no BRP work{busy})"
    return _row(name, processes, None, c16, c256, rss, loop=loop, floor=True, busy_ms=args.floor_busy_ms)


def broker_row(bench: Bench, postmaster: int, processes: int, tenants: int, loop: str, tokens: Path) -> Row:
    """The broker with `processes` workers and `tenants` tenants on `loop`: one instance per upstream."""
    args = bench.args
    with bench.broker(processes, tenants, loop, delayed=False) as gateway:
        c16 = throughput(gateway, postmaster, tokens, args.seconds, args.warmup)
    before = _token_requests(bench.token_log)
    with bench.broker(processes, tenants, loop, delayed=True) as gateway:
        c256, rss = latency(gateway, tokens, args.seconds, args.warmup)
    made = _token_requests(bench.token_log) - before
    return _row("brp-broker", processes, tenants, c16, c256, rss, token_requests=made, loop=loop)


def run_table(bench: Bench) -> None:
    """nginx, then the broker for each tenant count and process count; the table and the targets."""
    args = bench.args
    bench.start_upstream()
    postmaster = bench.start_postgres()
    tokens = {count: bench.tokens(count) for count in args.tenants}
    rows = [nginx_row(bench, tokens[min(args.tenants)])]
    _progress(rows[-1])
    for loop in args.event_loops:
        for processes in args.processes:
            rows.append(floor_row(bench, processes, loop, tokens[min(args.tenants)]))
            _progress(rows[-1])
        for tenants in args.tenants:
            for processes in args.processes:
                rows.append(broker_row(bench, postmaster, processes, tenants, loop, tokens[tenants]))
                _progress(rows[-1])
    print()
    print(table(rows))
    print()
    print("targets (issue #13):")
    for line in verdicts(rows):
        print(f"- {line}")


def _progress(row: Row) -> None:
    if row.floor:
        what = f"{_processes(row.processes)}, {row.loop}"
    else:
        what = _label(row) if row.processes else "baseline"
    print(
        f"measured {row.gateway} ({what}): "
        f"c{LOW} {row.c16.rps:,.0f} rps, {row.cpu_ms:.3f} ms CPU/req; "
        f"c{HIGH} +100 ms {row.c256.rps:,.0f} rps, p99 {row.c256.p99_ms:.0f} ms, "
        f"RSS {row.rss.largest / MB:.0f} MB",
        flush=True,
    )


def run_soak(bench: Bench) -> None:
    """The broker at c256 over the +100 ms upstream for `--soak` seconds; a line per interval."""
    args = bench.args
    processes, tenants, loop = max(args.processes), max(args.tenants), args.event_loops[0]
    bench.start_upstream()
    postmaster = bench.start_postgres()
    tokens = bench.tokens(tenants)
    with bench.broker(processes, tenants, loop, delayed=True) as gateway:
        if args.warmup:
            wrk(gateway.url, HIGH, args.warmup, tokens)
        label = f"{_label_of(processes, tenants)}, {loop}"
        print(f"soak: brp-broker, {label}, c{HIGH} over the +100 ms upstream")
        print(
            "| elapsed s | rps | p50 ms | p99 ms | RSS largest MB | RSS total MB | errors "
            "| CPU ms/req | PostgreSQL CPU ms/req |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        elapsed = 0
        while elapsed < args.soak:
            window = min(args.soak_interval, args.soak - elapsed)
            broker_before, postgres_before = cpu_seconds(gateway.pid), cpu_seconds(postmaster)
            with MemorySampler(gateway.pid) as sampler:
                run = wrk(gateway.url, HIGH, window, tokens)
            per_request = 1000 / max(run.requests, 1)
            broker_ms = (cpu_seconds(gateway.pid) - broker_before) * per_request
            postgres_ms = (cpu_seconds(postmaster) - postgres_before) * per_request
            elapsed += window
            print(
                f"| {elapsed} | {run.rps:,.0f} | {run.p50_ms:.0f} | {run.p99_ms:.0f} "
                f"| {sampler.peak.largest / MB:.0f} | {sampler.peak.total / MB:.0f} | {run.errors} "
                f"| {broker_ms:.3f} | {postgres_ms:.3f} |",
                flush=True,
            )


def _label_of(processes: int, tenants: int) -> str:
    return f"{_processes(processes)}, {_tenants(tenants)}"


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="length of each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before each measured run")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4], help="broker worker processes")
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 8], help="tenant counts")
    parser.add_argument(
        "--event-loops",
        nargs="+",
        choices=["asyncio", "uvloop"],
        default=["asyncio"],
        help="BROKER_EVENT_LOOP of the floor and the broker (each runs once per value; the soak: the first)",
    )
    parser.add_argument(
        "--floor-busy-ms",
        type=float,
        default=0.0,
        help="CPU the stack floor keeps busy per request (loads its loop like the broker's work)",
    )
    parser.add_argument("--soak", type=int, default=0, help="instead: soak for this many seconds")
    parser.add_argument("--soak-interval", type=int, default=30, help="seconds per soak line")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, confs)")
    args = parser.parse_args()
    if min(args.seconds, args.soak_interval, *args.processes, *args.tenants) < 1 or args.warmup < 0:
        parser.error("--seconds, --soak-interval, --processes and --tenants must be at least 1")
    args.processes = sorted(set(args.processes))
    args.tenants = sorted(set(args.tenants))
    return args


def main() -> None:
    """Check the tools, set everything up, run the table or the soak, stop every process."""
    args = _parse_args()
    _require_tools()
    # SIGTERM ends like Ctrl-C: through the exit stack, which stops every process in order.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"{os.cpu_count()} cores, load average {load}; "
        f"{args.seconds} s per run after {args.warmup} s warm-up",
        flush=True,
    )
    try:
        with contextlib.ExitStack() as stack:
            bench = Bench(args, stack)
            if args.soak:
                run_soak(bench)
            else:
                run_table(bench)
    except KeyboardInterrupt:
        sys.exit("interrupted; every process it started is stopped")


if __name__ == "__main__":
    main()
