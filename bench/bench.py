#!/usr/bin/env python3
"""syncer's benchmark suite: syncer, skopeo and a plain-curl floor on fresh loopback registries.

Every scenario seeds a source docker-registry with a deterministic generator, then runs the tools in turn
(A B C A B C ...), `--runs` times each. A cold run copies into a fresh, empty destination registry; skopeo's
blob-info cache is deleted before each skopeo run. Per run: wall time, CPU time (user+sys) and peak RSS of the
client process tree (wait4, through bench/rusage.c), the registries' CPU time, and from the registries' access
logs the requests by method at source and destination, the blob uploads (PUT ...?digest=, whose sizes are known
from seeding) and the mounts. The destination is then checked: every tag has the source digest and every blob
is present.

Run it through ./bench/run (installs the dependencies first). docs/benchmarks.md explains scenarios, columns,
the floor and the targets. Results: bench/results/latest.md and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import struct
import tempfile
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/support
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import artifacts  # noqa: E402  (tests/support)
import link  # noqa: E402  (bench/link.py)
import harness  # noqa: E402
import seed  # noqa: E402
from harness import MANIFEST_TYPES, get_manifest  # noqa: E402

MIB = seed.MIB
SCENARIOS = ["big", "family", "multiarch", "noop", "referrers", "scale", "memory", "airgap"]
WRITE_METHODS = ("PUT", "POST", "PATCH", "DELETE")
SEED_THREADS = 4


# --- command line ------------------------------------------------------------------------------------------

def default_storage() -> str:
    """tmpfs when it has room for the memory scenario's layers (2 GiB at each registry), else $TMPDIR."""
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize >= 6 << 30 and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    except OSError:
        pass
    return tempfile.gettempdir()


def Registry(**kwargs):  # noqa: N802 - stands in for harness.Registry, with the chosen storage and TLS
    return harness.Registry(parent_dir=STORAGE, tls=TLS, **kwargs)


STORAGE: str | None = None
TLS = False
ARGS: argparse.Namespace | None = None


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="./bench/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per tool and scenario (default 5)")
    ap.add_argument("--scenario", action="append", choices=SCENARIOS + ["all"],
                    help="scenario to run; repeatable (default: all)")
    ap.add_argument("--big-mib", type=int, default=64, help="layer size of `big`, 4 layers (default 64)")
    ap.add_argument("--memory-big-mib", type=int, default=512,
                    help="the large layer size `memory` compares with --big-mib (default 512)")
    ap.add_argument("--scale-tags", default="200,1000,5000",
                    help="comma-separated tag counts of `scale` (default 200,1000,5000)")
    ap.add_argument("--scale-small", action="store_true", help="`scale` with 20,50,100 tags (smoke runs)")
    ap.add_argument("--scale-repos", type=int, default=10, help="repositories the `scale` tags are spread over")
    ap.add_argument("--scale-tools", default="syncer",
                    help="tools of `scale`, comma-separated among syncer,skopeo,floor (default syncer)")
    ap.add_argument("--tools", default="syncer,skopeo,floor",
                    help="kinds of tool to run, comma-separated among syncer,skopeo,floor (default all three); "
                         "targets that compare with a tool left out read n/a")
    ap.add_argument("--floor-upload", choices=["stream", "data-binary"], default="stream",
                    help="how the floor's PUT curl reads the GET piped into it: `stream` (-T -, chunked, "
                         "overlaps download and upload; default) or `data-binary` (--data-binary @-, "
                         "buffers the whole blob first)")
    ap.add_argument("--syncer", default=os.environ.get("SYNCER_BIN") or os.path.join(ROOT, "build/syncer/syncer"),
                    help="syncer binary (default $SYNCER_BIN, else build/syncer/syncer)")
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results"),
                    help="directory of latest.md and latest.json (default bench/results)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a tool run is killed")
    ap.add_argument("--keep-work", action="store_true", help="keep the work directory (tool logs, configs)")
    ap.add_argument("--storage", default=default_storage(),
                    help="directory under which the registries keep their blobs (default /dev/shm when it has "
                         "6 GiB free, else $TMPDIR): on a disk, write-back of the destination's blobs sets "
                         "the pace of the cold scenarios for every tool")
    wan = ap.add_argument_group("WAN mode (docs/benchmarks.md, WAN)")
    wan.add_argument("--wan", action="store_true",
                     help="put a link emulator (bench/link.py) between the tools and each registry")
    wan.add_argument("--rtt-ms", type=float, default=40.0, help="the link's round-trip time (default 40)")
    wan.add_argument("--bandwidth-mbit", type=float, default=400.0,
                     help="the link's bandwidth each way, shared by all connections to a registry (default 400)")
    wan.add_argument("--link-loss", type=float, default=0.0,
                     help="probability that the link resets a connection, after a random number of bytes "
                          "(seeded; default 0)")
    ap.add_argument("--tls", action="store_true",
                    help="registries serve HTTPS with a CA made for the run, given to every tool")
    args = ap.parse_args(argv)
    if args.rtt_ms < 0 or args.bandwidth_mbit <= 0:
        ap.error("--rtt-ms must be >= 0 and --bandwidth-mbit > 0")
    if not 0 <= args.link_loss < 1:
        ap.error("--link-loss is a probability: 0 <= P < 1")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.big_mib < 1 or args.memory_big_mib < 1:
        ap.error("layer sizes must be at least 1 MiB")
    args.scenarios = SCENARIOS if not args.scenario or "all" in args.scenario else \
        [s for s in SCENARIOS if s in args.scenario]
    tags = "20,50,100" if args.scale_small else args.scale_tags
    try:
        args.scale_counts = [int(t) for t in tags.split(",") if t.strip()]
    except ValueError:
        ap.error(f"--scale-tags: not a list of integers: {tags!r}")
    if any(n < args.scale_repos for n in args.scale_counts):
        ap.error("--scale-tags: every count must be at least --scale-repos")
    args.tool_kinds = sorted({t.strip() for t in args.tools.split(",") if t.strip()})
    if not args.tool_kinds or set(args.tool_kinds) - {"syncer", "skopeo", "floor"}:
        ap.error("--tools: a comma-separated subset of syncer,skopeo,floor")
    args.scale_tool_names = [t.strip() for t in args.scale_tools.split(",") if t.strip()]
    if not args.scale_tool_names or set(args.scale_tool_names) - {"syncer", "skopeo", "floor"}:
        ap.error("--scale-tools: a comma-separated subset of syncer,skopeo,floor")
    if not (os.path.isfile(args.syncer) and os.access(args.syncer, os.X_OK)):
        ap.error(f"no syncer binary at {args.syncer}: build it (cmake -S . -B build -G Ninja "
                 "-DCMAKE_BUILD_TYPE=Release && cmake --build build) or set SYNCER_BIN / --syncer")
    args.syncer = os.path.abspath(args.syncer)
    wrapper = os.environ.get("SYNCER_BENCH_WRAPPER")
    args.command = shlex.join([wrapper, *argv] if wrapper else ["python3", "bench/bench.py", *argv])
    return args


# --- what the source holds ---------------------------------------------------------------------------------

@dataclass
class Manifest:
    digest: str
    media_type: str
    blobs: list[tuple[str, int]]        # config and layers: (digest, size)
    children: list["Manifest"]          # index entries
    size: int = 0                       # of the manifest itself

    def walk(self) -> list["Manifest"]:
        """Children before parents: the order a copy must push them in."""
        out = []
        for c in self.children:
            out += c.walk()
        return out + [self]


@dataclass
class Tagged:
    repo: str
    tag: str
    manifest: Manifest


def read_manifest(registry: Registry, repo: str, reference: str) -> Manifest:
    raw, content_type = get_manifest(registry, repo, reference)
    doc = json.loads(raw)
    media_type = doc.get("mediaType") or content_type.split(";")[0].strip()
    blobs = []
    if "config" in doc:
        blobs.append((doc["config"]["digest"], doc["config"]["size"]))
    blobs += [(layer["digest"], layer["size"]) for layer in doc.get("layers", [])]
    children = [read_manifest(registry, repo, m["digest"]) for m in doc.get("manifests", [])]
    return Manifest(harness.sha256(raw), media_type, blobs, children, len(raw))


def catalog(registry: Registry, refs: list[tuple[str, str]]) -> list[Tagged]:
    """The seeded images as the source registry serves them (digests, media types, blob sizes)."""
    return [Tagged(repo, tag, read_manifest(registry, repo, tag)) for repo, tag in refs]


def blob_sizes(images: list[Tagged]) -> dict[str, int]:
    return {d: s for t in images for m in t.manifest.walk() for d, s in m.blobs}


def distinct_blobs(images: list[Tagged]) -> int:
    return len(blob_sizes(images))


# --- generators (deterministic: the same arguments push the same digests) ---------------------------------
#
# Layers are real gzip streams, as in real images: content declared tar+gzip that is not gzip makes skopeo
# compress it on the way (new digests, a rewritten manifest, and CPU time spent compressing). The deflate
# stream uses stored blocks, so it costs no compression time to generate and its random content is as
# incompressible as real compressed layers.

def gzip_stored(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A valid gzip member (RFC 1952) holding `chunks` in stored deflate blocks (RFC 1951, BTYPE 00)."""
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"   # magic, deflate, no flags, no mtime, OS unknown
    crc, size = 0, 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        yield b"".join(struct.pack("<BHH", 0, len(part), len(part) ^ 0xFFFF) + part
                       for part in (chunk[i:i + 0xFFFF] for i in range(0, len(chunk), 0xFFFF)))
    yield struct.pack("<BHH", 1, 0, 0xFFFF)                # the final block, empty
    yield struct.pack("<II", crc, size & 0xFFFFFFFF)


def gz_bytes(seed_text: str, size: int) -> bytes:
    """A gzip layer whose uncompressed content is `size` deterministic random bytes."""
    return b"".join(gzip_stored([seed.det_bytes(seed_text, size)]))


def in_parallel(fn: Callable, items: list) -> list:
    with concurrent.futures.ThreadPoolExecutor(SEED_THREADS) as pool:
        return list(pool.map(fn, items))


def seed_big(client: seed.Client, repo: str, mib: int, layers: int = 4) -> list[tuple[str, str]]:
    """`layers` layers of `mib` MiB of random bytes each, streamed (never held in memory), one OCI image."""
    descs = in_parallel(lambda i: client.push_blob_stream(
        repo, lambda: gzip_stored(seed.det_stream(f"bench/big/{mib}/{i}", mib * MIB)), seed.OCI_LAYER),
        list(range(layers)))
    config = client.push_blob(repo, seed.canonical({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": [d.digest for d in descs]}}), seed.OCI_CONFIG)
    body = seed.canonical({"schemaVersion": 2, "mediaType": seed.OCI_MANIFEST, "config": config.json(),
                           "layers": [d.json() for d in descs]})
    client.push_manifest(repo, "v1", body, seed.OCI_MANIFEST)
    return [(repo, "v1")]


FAMILY_REPOS, FAMILY_TAGS = 12, ["2024.01", "2024.02", "2024.03"]
FAMILY_BASE = (16 * MIB, 4 * MIB)   # shared by every image, like docker-stacks' foundation layers
FAMILY_OWN = 1 * MIB                # one layer of its own per image


def seed_family(client: seed.Client) -> list[tuple[str, str]]:
    base = [gz_bytes(f"bench/family/base/{i}", n) for i, n in enumerate(FAMILY_BASE)]
    repos = [f"bench/stack-{r:02}" for r in range(FAMILY_REPOS)]

    def push_repo(repo: str) -> None:   # tags of one repository in turn: no two uploads of a base layer race
        for tag in FAMILY_TAGS:
            seed.push_image(client, repo, f"{repo}:{tag}", tag=tag,
                            layers=base + [gz_bytes(f"{repo}:{tag}/own", FAMILY_OWN)])

    in_parallel(push_repo, repos)
    return [(repo, tag) for repo in repos for tag in FAMILY_TAGS]


MULTIARCH_REPOS, MULTIARCH_TAGS = 4, ["1.0", "1.1"]
MULTIARCH_PLATFORMS = seed.OCI_INDEX_PLATFORMS          # linux/amd64, linux/arm64/v8, linux/arm/v7
MULTIARCH_BASE, MULTIARCH_OWN = 4 * MIB, 512 * 1024     # base per (repo, platform), own per (repo, tag, platform)


def seed_multiarch(client: seed.Client) -> list[tuple[str, str]]:
    def push(ref: tuple[str, str]) -> None:
        repo, tag = ref
        entries = []
        for p in MULTIARCH_PLATFORMS:
            layers = [gz_bytes(f"{repo}/{p}/base", MULTIARCH_BASE),
                      gz_bytes(f"{repo}:{tag}/{p}/own", MULTIARCH_OWN)]
            d = seed.push_image(client, repo, f"{repo}:{tag}/{p}", platform=p, layers=layers)
            entries.append(d.json(platform=seed._platform(p)))
        seed.push_index(client, repo, tag, entries)

    repos = [f"bench/multi-{r}" for r in range(MULTIARCH_REPOS)]
    # Tags of one repository share base layers: one worker per repository, its tags in turn.
    in_parallel(lambda repo: [push((repo, tag)) for tag in MULTIARCH_TAGS], repos)
    return [(repo, tag) for repo in repos for tag in MULTIARCH_TAGS]


NOOP_REPOS, NOOP_TAGS = 40, 5


def seed_noop(client: seed.Client) -> list[tuple[str, str]]:
    refs = [(f"bench/app-{r:02}", f"1.{t}") for r in range(NOOP_REPOS) for t in range(NOOP_TAGS)]
    in_parallel(lambda ref: seed.push_image(client, ref[0], f"{ref[0]}:{ref[1]}", tag=ref[1], layers=[
        gz_bytes(f"{ref[0]}:{ref[1]}/{i}", n) for i, n in enumerate((2048, 40000))]), refs)
    return refs


def seed_noop_referrers(client: seed.Client) -> list[tuple[str, str]]:
    """The noop images, each with a signature attached as an OCI 1.1 client does on a registry without the
    referrers API (the manifest by digest, then the subject's `sha256-<hex>` index tag)."""
    refs = [(f"bench/app-{r:02}", f"1.{t}") for r in range(NOOP_REPOS) for t in range(NOOP_TAGS)]

    def push(ref: tuple[str, str]) -> None:
        repo, tag = ref
        image = seed.push_image(client, repo, f"{repo}:{tag}", tag=tag, layers=[
            gz_bytes(f"{repo}:{tag}/{i}", n) for i, n in enumerate((2048, 40000))])
        artifacts.attach(client, repo, artifacts.signature(client, repo, image, f"{repo}:{tag}/signature"))
    in_parallel(push, refs)
    return refs


def seed_scale(client: seed.Client, tags: int, repos: int) -> list[tuple[str, str]]:
    """`tags` tags over `repos` repositories; per repository one config and one layer, per tag a manifest of
    its own (an annotation names the tag), so every tag has a distinct digest at one PUT per tag."""
    per_repo = [tags // repos + (1 if r < tags % repos else 0) for r in range(repos)]
    refs = [(f"bench/scale-{r:02}", f"t{t:05}") for r in range(repos) for t in range(per_repo[r])]
    bodies = {}
    for r in range(repos):
        repo = f"bench/scale-{r:02}"
        layer = client.push_blob(repo, gz_bytes(f"{repo}/layer", 4096), seed.OCI_LAYER)
        config = client.push_blob(repo, seed.canonical({"architecture": "amd64", "os": "linux",
                                                        "rootfs": {"type": "layers", "diff_ids": [layer.digest]}}),
                                  seed.OCI_CONFIG)
        bodies[repo] = (config, layer)

    def push(ref: tuple[str, str]) -> None:
        config, layer = bodies[ref[0]]
        body = seed.canonical({"schemaVersion": 2, "mediaType": seed.OCI_MANIFEST, "config": config.json(),
                               "layers": [layer.json()],
                               "annotations": {"org.opencontainers.image.version": ref[1]}})
        client.push_manifest(ref[0], ref[1], body, seed.OCI_MANIFEST)

    in_parallel(push, refs)
    return refs


# --- measuring one process ---------------------------------------------------------------------------------

@dataclass
class Measured:
    rc: int
    wall: float
    user: float
    sys: float
    maxrss_kib: int


def clean_env() -> dict:
    # Proxy and auth-file variables would change what a tool does (the tests scrub the same ones).
    return {k: v for k, v in os.environ.items() if k.lower() not in harness._SCRUBBED_ENV}


# Used when no C compiler is found: the same protocol as rusage.c, but the peak RSS reads at least that of a
# bare `python3 -S` (about 5 MiB), which rusage.c avoids.
PY_LAUNCHER = """import os, sys, time
start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{wall:.6f} {ru.ru_utime:.6f} {ru.ru_stime:.6f} {ru.ru_maxrss}\\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def make_launcher(work: str) -> tuple[list[str], str]:
    """The command prefix that measures a tool (see rusage.c), and what it is."""
    source = os.path.join(ROOT, "bench", "rusage.c")
    for cc in ("cc", "gcc", "clang"):
        if not shutil.which(cc):
            continue
        binary = os.path.join(work, "rusage")
        for static in (["-static"], []):
            r = subprocess.run([cc, "-O2", *static, "-o", binary, source], capture_output=True, text=True)
            if r.returncode == 0:
                return [binary], f"bench/rusage.c ({cc} {' '.join(static)})".replace(" )", ")")
    script = os.path.join(work, "rusage.py")
    with open(script, "w") as f:
        f.write(PY_LAUNCHER)
    return [sys.executable, "-S", "-E", script], "python3 -S fallback (peak RSS reads at least about 5 MiB)"


def run_measured(launcher: list[str], cmd: list[str], log_path: str, timeout: float, cwd: str) -> Measured:
    """Run `cmd` through the launcher with output to `log_path`: wall time, CPU time (user + sys) and peak RSS
    of the process and the descendants it waited for (the floor's bash script counts with its curl processes:
    CPU is their sum, RSS the largest single one)."""
    numbers = os.path.join(cwd, "rusage.out")
    if os.path.exists(numbers):
        os.remove(numbers)
    with open(log_path, "ab") as log:
        log.write(f"$ {shlex.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen([*launcher, numbers, *cmd], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=clean_env(), cwd=cwd, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            rc = proc.wait()
            log.write(f"bench: killed after {timeout:.0f} s\n".encode())
    try:
        wall, user, sys_, rss = open(numbers).read().split()
        return Measured(rc, float(wall), float(user), float(sys_), int(rss))
    except (OSError, ValueError):
        return Measured(rc if rc else 125, 0.0, 0.0, 0.0, 0)


def skopeo_cache_file() -> str:
    """containers/image's blob-info cache: root uses /var/lib/containers/cache, others $XDG_DATA_HOME or
    ~/.local/share/containers/cache (skopeo 1.9 has no option or variable to move it)."""
    if os.geteuid() == 0:
        base = "/var/lib/containers/cache"
    else:
        data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        base = os.path.join(data, "containers", "cache")
    return os.path.join(base, "blob-info-cache-v1.boltdb")


def clear_skopeo_cache() -> None:
    try:
        os.remove(skopeo_cache_file())
    except FileNotFoundError:
        pass


# --- tools -------------------------------------------------------------------------------------------------

class Front:
    """A registry as the tools reach it: directly, or (--wan) through the link emulator in front of it."""

    def __init__(self, registry: harness.Registry, link_process: link.LinkProcess | None = None):
        self.registry = registry
        self.link = link_process
        self.port = link_process.port if link_process else registry.port
        self.certs_d: str | None = None     # the /etc/containers/certs.d/HOST:PORT this run installed

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.registry.scheme}://{self.host}"

    @property
    def cert_dir(self) -> str | None:
        return self.registry.cert_dir

    def link_stats(self) -> dict:
        return self.link.stats() if self.link else {}


CERTS_D = "/etc/containers/certs.d"


@dataclass
class Ctx:
    """What a tool needs to build its command for one run."""
    src: Front
    dst: Front
    work: str           # a fresh directory for this run's files
    images: list[Tagged] | None
    refs: list[tuple[str, str]]
    args: argparse.Namespace


@dataclass
class Tool:
    name: str
    kind: str                                   # syncer, skopeo or floor
    shows: str                                  # the command, with SRC and DST for the registries
    build: Callable[[Ctx], list[str]]
    images: list[Tagged] | None = None          # what it copies, when not the whole scenario
    verify_destination: bool = True             # False for exports: the destination registry stays empty
    check: Callable[[Ctx], list[str]] | None = None   # more checks after the run (an export's file)


def repos_of(refs: list[tuple[str, str]]) -> list[str]:
    return list(dict.fromkeys(repo for repo, _ in refs))


def q(text: str) -> str:
    return json.dumps(text)   # a YAML double-quoted scalar


def syncer_sync_tool(name: str = "syncer", extra: tuple[str, ...] = (), whole_repos: bool = True,
                     images: list[Tagged] | None = None) -> Tool:
    """`syncer sync --config` with one rule per repository (every tag) or per listed image."""
    def build(ctx: Ctx) -> list[str]:
        lines = ["images:"]
        if whole_repos:
            lines += [f"  {q(f'{ctx.src.host}/{r}')}: {q(f'{ctx.dst.host}/{r}')}" for r in repos_of(ctx.refs)]
        else:
            lines += [f"  {q(f'{ctx.src.host}/{t.repo}:{t.tag}')}: {q(f'{ctx.dst.host}/{t.repo}')}"
                      for t in (images or ctx.images)]
        path = os.path.join(ctx.work, "syncer.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        # `sync` takes a registry's CA from /etc/containers/certs.d/HOST:PORT (Bench.front installs it).
        report = ["--report", os.path.join(ctx.work, "report.json")] if ctx.args.wan or ctx.args.tls else []
        return [ctx.args.syncer, "sync", "--config", path, *extra, *report]

    rule = "SRC/REPO: DST/REPO per repository" if whole_repos else "SRC/REPO:TAG: DST/REPO"
    return Tool(name, "syncer", f"syncer sync --config CONFIG {' '.join(extra)}".strip() + f"  ({rule})",
                build, images)


def syncer_copy_tool(ref: tuple[str, str], name: str = "syncer", images: list[Tagged] | None = None) -> Tool:
    repo, tag = ref

    def build(ctx: Ctx) -> list[str]:
        certs = ["--src-cert-dir", ctx.src.cert_dir, "--dest-cert-dir", ctx.dst.cert_dir] if TLS else []
        return [ctx.args.syncer, "copy", *certs, f"{ctx.src.host}/{repo}:{tag}", f"{ctx.dst.host}/{repo}:{tag}"]
    certs = "--src-cert-dir CA --dest-cert-dir CA " if TLS else ""
    return Tool(name, "syncer", f"syncer copy {certs}SRC/{repo}:{tag} DST/{repo}:{tag}", build, images)


SKOPEO_TLS = ["--src-tls-verify=false", "--dest-tls-verify=false"]


def skopeo_tls(ctx: Ctx | None = None) -> list[str]:
    """Plain HTTP registries: verification off (skopeo's only way to speak HTTP); --tls: each registry's CA."""
    if not TLS:
        return SKOPEO_TLS
    if ctx is None:
        return ["--src-cert-dir", "CA", "--dest-cert-dir", "CA"]
    return ["--src-cert-dir", ctx.src.cert_dir, "--dest-cert-dir", ctx.dst.cert_dir]


def skopeo_copy_tool(ref: tuple[str, str]) -> Tool:
    repo, tag = ref
    return Tool("skopeo", "skopeo", f"skopeo copy --all {' '.join(skopeo_tls())} docker://SRC/{repo}:{tag} "
                f"docker://DST/{repo}:{tag}",
                lambda ctx: ["skopeo", "copy", "--all", *skopeo_tls(ctx), f"docker://{ctx.src.host}/{repo}:{tag}",
                             f"docker://{ctx.dst.host}/{repo}:{tag}"])


def skopeo_sync_tool() -> Tool:
    """`skopeo sync --src yaml`: every tag of every repository (an empty tag list means all tags). Without
    --scoped the destination is DST/bench/<last path component>, which is the source name (bench/NAME)."""
    def build(ctx: Ctx) -> list[str]:
        tls = f"  cert-dir: {q(ctx.src.cert_dir)}" if TLS else "  tls-verify: false"
        lines = [f"{q(ctx.src.host)}:", tls, "  images:"]
        lines += [f"    {q(r)}: []" for r in repos_of(ctx.refs)]
        path = os.path.join(ctx.work, "skopeo.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return ["skopeo", "sync", "--all", "--src", "yaml", "--dest", "docker", *skopeo_tls(ctx), path,
                f"{ctx.dst.host}/bench"]

    source = "cert-dir: CA" if TLS else "tls-verify: false"
    return Tool("skopeo", "skopeo", f"skopeo sync --all --src yaml --dest docker {' '.join(skopeo_tls())} "
                f"SOURCE.yaml DST/bench  ({{SRC: {{{source}, images: {{REPO: []}}}}}})", build)


FLOOR_PRELUDE = r"""set -euo pipefail
S=%(src)s
D=%(dst)s
T=%(work)s
ACCEPT='Accept: %(accept)s'
# blob REPO DIGEST: POST for an upload location, then the source GET piped into one monolithic PUT.
blob() {
    local loc
    loc=$(curl -sSf -X POST -o /dev/null -w '%%header{location}' "$D/v2/$1/blobs/uploads/")
    [[ $loc == /* ]] && loc=$D$loc
    curl -sSf "$S/v2/$1/blobs/$2" |
        curl -sSf -X PUT -H 'Content-Type: application/octet-stream' %(upload)s -o /dev/null "$loc&digest=$2"
}
# mount REPO DIGEST FROM: a blob the destination registry already has, in another repository.
mount() {
    curl -sSf -X POST -o /dev/null "$D/v2/$1/blobs/uploads/?mount=$2&from=$3"
}
# manifest REPO REFERENCE MEDIA_TYPE: GET the exact bytes, PUT them back.
manifest() {
    curl -sSf -H "$ACCEPT" -o "$T/manifest" "$S/v2/$1/manifests/$2"
    curl -sSf -X PUT -H "Content-Type: $3" --data-binary @"$T/manifest" -o /dev/null "$D/v2/$1/manifests/$2"
}
"""


def floor_copy_script(ctx: Ctx, images: list[Tagged]) -> str:
    """Exactly the blobs and manifests `images` need, one request at a time: each blob uploaded once per
    destination registry and mounted into the other repositories, manifests children first."""
    upload = "-T -" if ctx.args.floor_upload == "stream" else "--data-binary @-"
    lines = [FLOOR_PRELUDE % {"src": ctx.src.url, "dst": ctx.dst.url, "work": ctx.work, "accept": MANIFEST_TYPES,
                              "upload": upload}]
    where: dict[str, str] = {}           # blob digest -> a repository of the destination that has it
    have: set[tuple[str, str]] = set()   # (repo, digest) of blobs and manifests already at the destination
    for t in images:
        for m in t.manifest.walk():
            for digest, _ in m.blobs:
                if (t.repo, digest) in have:
                    continue
                lines.append(f"mount {t.repo} {digest} {where[digest]}" if digest in where
                             else f"blob {t.repo} {digest}")
                where.setdefault(digest, t.repo)
                have.add((t.repo, digest))
            if m is not t.manifest and (t.repo, m.digest) not in have:
                lines.append(f"manifest {t.repo} {m.digest} {shlex.quote(m.media_type)}")
                have.add((t.repo, m.digest))
        lines.append(f"manifest {t.repo} {t.tag} {shlex.quote(t.manifest.media_type)}")
    return "\n".join(lines) + "\n"


def floor_noop_script(ctx: Ctx) -> str:
    """The least a no-op mirror must do, one request at a time on keep-alive connections: each repository's
    tag list, then a HEAD of every tag at the source and at the destination (one curl process per side)."""
    lines = [f"set -euo pipefail\nS={ctx.src.url}\nD={ctx.dst.url}\nACCEPT='Accept: {MANIFEST_TYPES}'"]
    lines += [f"curl -sSf -o /dev/null \"$S/v2/{r}/tags/list\"" for r in repos_of(ctx.refs)]
    for side, reg in (("src", ctx.src), ("dst", ctx.dst)):
        path = os.path.join(ctx.work, f"{side}-urls.curlrc")
        with open(path, "w") as f:
            f.writelines(f'url = "{reg.url}/v2/{repo}/manifests/{tag}"\n' for repo, tag in ctx.refs)
        lines.append(f"curl -sSf --head -H \"$ACCEPT\" -K {shlex.quote(path)} >/dev/null")
    return "\n".join(lines) + "\n"


def floor_tool(noop: bool = False, images: list[Tagged] | None = None) -> Tool:
    def build(ctx: Ctx) -> list[str]:
        script = floor_noop_script(ctx) if noop else floor_copy_script(ctx, images or ctx.images)
        if TLS:   # one bundle of both registries' CAs, which every curl of the script reads
            bundle = os.path.join(ctx.work, "ca-bundle.crt")
            with open(bundle, "w") as f:
                f.writelines(open(r.registry.ca_file).read() for r in (ctx.src, ctx.dst))
            script = f"export CURL_CA_BUNDLE={shlex.quote(bundle)}\n" + script
        path = os.path.join(ctx.work, "floor.sh")
        with open(path, "w") as f:
            f.write(script)
        return ["bash", path]

    shows = ("bash + curl: GET tags/list per repository; one curl --head of every tag at SRC, one at DST" if noop
             else "bash + curl, one request at a time: per blob a POST, then curl GET piped into curl PUT "
                  "?digest= (a mount POST when another repository has it), per manifest a GET and a PUT")
    return Tool("floor", "floor", shows, build, images)


# --- access logs -------------------------------------------------------------------------------------------

def query_digest(path: str) -> str | None:
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("digest")
    return values[0] if values else None


def log_metrics(src_reqs: list, dst_reqs: list, sizes: dict[str, int]) -> dict:
    puts = collections.Counter()
    for r in dst_reqs:
        if r.method == "PUT" and "/blobs/uploads/" in r.path and r.status == 201 and query_digest(r.path):
            puts[query_digest(r.path)] += 1
    unknown = [d for d in puts if d not in sizes]
    all_reqs = src_reqs + dst_reqs
    tag_lists = sum(1 for r in all_reqs if r.method == "GET" and "/tags/list" in r.path)
    pings = sum(1 for r in all_reqs if r.path in ("/v2/", "/v2"))
    return {
        "src": dict(collections.Counter(r.method for r in src_reqs)),
        "dst": dict(collections.Counter(r.method for r in dst_reqs)),
        "src_requests": len(src_reqs),
        "dst_requests": len(dst_reqs),
        "src_manifest_gets": sum(1 for r in src_reqs if r.method == "GET" and "/manifests/" in r.path),
        "dst_writes": sum(1 for r in dst_reqs if r.method in WRITE_METHODS),
        "blob_puts": sum(puts.values()),
        "distinct_blobs_put": len(puts),
        "max_puts_per_blob": max(puts.values(), default=0),
        "bytes_sent": sum(sizes.get(d, 0) * n for d, n in puts.items()),
        "unknown_blobs_put": len(unknown),
        "mounts": sum(1 for r in dst_reqs if r.method == "POST" and "mount=" in r.path and r.status == 201),
        "errors": sum(1 for r in all_reqs if r.status >= 500),
        "tag_list_pages": tag_lists,
        "pings": pings,
        # What looking for referrers costs: referrers API requests and reads of tag schema indexes.
        "referrer_api_requests": sum(1 for r in all_reqs if "/referrers/" in r.path),
        "referrer_requests": sum(1 for r in all_reqs if "/referrers/" in r.path or (
            r.method == "GET" and re.search(r"/manifests/sha256-[0-9a-f]{64}$", r.path))),
    }


def link_metrics(before: list[dict], after: list[dict]) -> dict:
    """What the links in front of the source and the destination saw during one run (their own counts)."""
    out = {}
    for role, b, a in zip(("src", "dst"), before, after):
        out[f"link_{role}_connections"] = a["connections"] - b["connections"]
        out[f"link_{role}_resets"] = a["resets"] - b["resets"]
        out[f"link_{role}_mib_up"] = (a["bytes_up"] - b["bytes_up"]) / MIB
        out[f"link_{role}_mib_down"] = (a["bytes_down"] - b["bytes_down"]) / MIB
        out[f"link_{role}_cpu_s"] = a["cpu_s"] - b["cpu_s"]
    out["link_cpu_s"] = out["link_src_cpu_s"] + out["link_dst_cpu_s"]
    return out


REPORT_FIELDS = ("connections", "tls_handshakes", "tls_resumed")


def report_metrics(path: str, ctx: Ctx) -> dict:
    """Per registry, from syncer's `--report` JSON (docs/sync.md, "The report"): the top-level `registries`
    entry whose `registry` is the HOST:PORT of the tool's side gives `connections`, `tls_handshakes` (full
    handshakes), `tls_resumed` (resumed ones), and `concurrency.metadata`'s `cap` (the most metadata requests
    the run was allowed in flight) and `max` (the most its adaptive limit reached). Absent fields stay absent."""
    try:
        with open(path) as f:
            registries = json.load(f).get("registries")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(registries, list):
        return {}
    out = {}
    for role, front in (("src", ctx.src), ("dst", ctx.dst)):
        entry = next((r for r in registries if isinstance(r, dict) and r.get("registry") == front.host), None)
        if entry is None:
            continue
        for field in REPORT_FIELDS:
            if isinstance(entry.get(field), (int, float)):
                out[f"syncer_{role}_{field}"] = entry[field]
        metadata = (entry.get("concurrency") or {}).get("metadata") or {}
        if isinstance(metadata.get("cap"), (int, float)):
            out[f"syncer_{role}_concurrency"] = metadata["cap"]
        if isinstance(metadata.get("max"), (int, float)):
            out[f"syncer_{role}_concurrency_reached"] = metadata["max"]
    full = [out[f"syncer_{r}_tls_handshakes"] for r in ("src", "dst") if f"syncer_{r}_tls_handshakes" in out]
    if full:
        out["syncer_full_handshakes_max"] = max(full)
    return out


def process_cpu(registry: Registry) -> float:
    """CPU seconds (user + sys) the registry process has used so far."""
    try:
        fields = open(f"/proc/{registry.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):
        return 0.0


# --- checking the destination ------------------------------------------------------------------------------

class Heads:
    """HEAD requests on one keep-alive connection."""

    def __init__(self, registry: Registry):
        self.conn = http.client.HTTPSConnection(registry.host, timeout=60, context=registry.ssl_context()) \
            if registry.tls else http.client.HTTPConnection(registry.host, timeout=60)

    def __call__(self, path: str, headers: dict | None = None) -> tuple[int, http.client.HTTPMessage]:
        self.conn.request("HEAD", path, headers=headers or {})
        resp = self.conn.getresponse()
        resp.read()
        return resp.status, resp.headers

    def close(self) -> None:
        self.conn.close()


def verify(dst: Registry, images: list[Tagged]) -> list[str]:
    """What is wrong at the destination: a tag without the source digest, a missing manifest or blob."""
    problems: list[str] = []
    head = Heads(dst)
    seen: set[tuple[str, str]] = set()
    try:
        for t in images:
            status, headers = head(f"/v2/{t.repo}/manifests/{t.tag}", {"Accept": MANIFEST_TYPES})
            got = headers.get("Docker-Content-Digest")
            if status != 200 or got != t.manifest.digest:
                problems.append(f"{t.repo}:{t.tag}: HTTP {status}, digest {got}, expected {t.manifest.digest}")
                continue
            for m in t.manifest.walk():
                if m is not t.manifest and (t.repo, m.digest) not in seen:
                    seen.add((t.repo, m.digest))
                    status, _ = head(f"/v2/{t.repo}/manifests/{m.digest}", {"Accept": MANIFEST_TYPES})
                    if status != 200:
                        problems.append(f"{t.repo}@{m.digest}: manifest HTTP {status}")
                for digest, _ in m.blobs:
                    if (t.repo, digest) not in seen:
                        seen.add((t.repo, digest))
                        status, _ = head(f"/v2/{t.repo}/blobs/{digest}")
                        if status != 200:
                            problems.append(f"{t.repo}@{digest}: blob HTTP {status}")
    finally:
        head.close()
    return problems


# --- running scenarios -------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="syncer-bench-")
        self.failures = 0
        self.seq = 0
        self.launcher, self.launcher_info = make_launcher(self.work)
        self.fronts: dict[int, Front] = {}
        self.links_made = 0

    def front(self, registry: Registry) -> Front:
        """The registry as the tools see it: with --wan a link emulator of its own in front of it (started on
        first use, kept until `release`); with --tls its CA where `syncer sync` looks for it."""
        if id(registry) in self.fronts:
            return self.fronts[id(registry)]
        lp = None
        if self.args.wan:
            self.links_made += 1
            lp = link.LinkProcess(registry.port, self.args.rtt_ms, self.args.bandwidth_mbit, self.args.link_loss,
                                  seed=self.links_made)
        f = Front(registry, lp)
        self.fronts[id(registry)] = f
        if TLS:
            # syncer's `sync` has no --cert-dir: it reads the containers convention, certs.d/HOST:PORT/*.crt.
            f.certs_d = os.path.join(CERTS_D, f.host)
            os.makedirs(f.certs_d, exist_ok=True)
            shutil.copy(registry.ca_file, os.path.join(f.certs_d, "ca.crt"))
        return f

    def release(self, registry: Registry) -> None:
        f = self.fronts.pop(id(registry), None)
        if f is None:
            return
        if f.link:
            f.link.close()
        if f.certs_d:
            shutil.rmtree(f.certs_d, ignore_errors=True)

    def release_all(self) -> None:
        for f in list(self.fronts.values()):
            self.release(f.registry)

    def keep(self, tools: list[Tool]) -> list[Tool]:
        """The tools of the kinds --tools names. Under --wan the curl floor is left out: a curl process per
        request, each on a new connection, makes it a count of connection setups, not a bound."""
        return [t for t in tools if t.kind in self.args.tool_kinds and not (self.args.wan and t.kind == "floor")]

    def run_dir(self, scenario: str, tool: str, run: int) -> str:
        self.seq += 1
        path = os.path.join(self.work, scenario, f"{self.seq:04}-{re.sub(r'[^A-Za-z0-9.-]+', '_', tool)}-{run}")
        os.makedirs(path)
        return path

    def one_run(self, scenario: str, tool: Tool, run: int, src: Registry, dst: Registry,
                refs: list[tuple[str, str]], images: list[Tagged] | None, cold: bool) -> dict:
        work = self.run_dir(scenario, tool.name, run)
        ctx = Ctx(self.front(src), self.front(dst), work, tool.images or images, refs, self.args)
        cmd = tool.build(ctx)
        if tool.kind == "skopeo":
            clear_skopeo_cache()
        src_before, dst_before = len(src.requests()), len(dst.requests())
        cpu_before = process_cpu(src) + process_cpu(dst)
        links_before = [ctx.src.link_stats(), ctx.dst.link_stats()]
        log = os.path.join(work, "output.log")
        m = run_measured(self.launcher, cmd, log, self.args.timeout, cwd=work)
        registry_cpu = process_cpu(src) + process_cpu(dst) - cpu_before
        links_after = [ctx.src.link_stats(), ctx.dst.link_stats()]
        src_reqs, dst_reqs = src.requests()[src_before:], dst.requests()[dst_before:]
        sizes = blob_sizes(ctx.images) if ctx.images else {}
        rec = {"tool": tool.name, "run": run, "rc": m.rc, "wall_s": m.wall, "cpu_s": m.user + m.sys,
               "user_s": m.user, "sys_s": m.sys, "rss_mib": m.maxrss_kib / 1024, "registry_cpu_s": registry_cpu,
               **log_metrics(src_reqs, dst_reqs, sizes)}
        if self.args.wan:
            rec.update(link_metrics(links_before, links_after))
        if tool.kind == "syncer":
            rec.update(report_metrics(os.path.join(work, "report.json"), ctx))
        problems = []
        if m.rc != 0:
            problems.append(f"exit status {m.rc}")
        if cold and ctx.images and tool.verify_destination:
            problems += verify(dst, ctx.images)
        if m.rc == 0 and tool.check:
            problems += tool.check(ctx)
        rec["problems"] = problems[:10]
        rec["ok"] = not problems
        status = "ok" if rec["ok"] else "FAILED: " + "; ".join(problems[:3]) + f" (log: {log})"
        if not rec["ok"]:
            self.failures += 1
        print(f"  {scenario} run {run}/{self.args.runs} {tool.name:<18} {m.wall:8.3f} s wall "
              f"{m.user + m.sys:8.3f} s CPU {m.maxrss_kib / 1024:8.1f} MiB  "
              f"src {rec['src_requests']:>5} req  dst {rec['dst_requests']:>5} req  {status}", flush=True)
        return rec

    def cold(self, scenario: str, src: Registry, refs: list[tuple[str, str]], images: list[Tagged],
             tools: list[Tool]) -> list[dict]:
        """Each run of each tool into a fresh destination registry; tools alternate run by run."""
        records = []
        for run in range(1, self.args.runs + 1):
            for tool in tools:
                with Registry(name=f"bench-{scenario}-dst") as dst:
                    try:
                        records.append(self.one_run(scenario, tool, run, src, dst, refs, images, cold=True))
                    finally:
                        self.release(dst)
        return records

    def warm(self, scenario: str, src: Registry, dst: Registry, refs: list[tuple[str, str]],
             tools: list[Tool]) -> list[dict]:
        records = []
        for run in range(1, self.args.runs + 1):
            for tool in tools:
                records.append(self.one_run(scenario, tool, run, src, dst, refs, None, cold=False))
        return records


def seeded(registry: Registry, fn: Callable[[seed.Client], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    start = time.perf_counter()
    refs = fn(seed.Client.for_registry(registry))
    print(f"  seeded {registry.host}: {len(refs)} tags in {time.perf_counter() - start:.1f} s", flush=True)
    return refs


def scenario_big(b: Bench) -> dict:
    mib = b.args.big_mib
    with Registry(name="bench-big-src") as src:
        refs = seeded(src, lambda c: seed_big(c, "bench/big", mib))
        images = catalog(src, refs)
        tools = b.keep([syncer_copy_tool(refs[0]),
                        syncer_sync_tool("syncer --proc 16", ("--proc", "16"), whole_repos=False),
                        skopeo_copy_tool(refs[0]), floor_tool()])
        records = b.cold("big", src, refs, images, tools)
    return {"title": f"big: 1 image, 4 layers x {mib} MiB, cold copy", "kind": "cold", "tools": tools,
            "records": records, "images": images,
            "workload": {"tags": 1, "blobs": distinct_blobs(images), "bytes": sum(blob_sizes(images).values())}}


def scenario_cold_sync(b: Bench, name: str, title: str, fn: Callable) -> dict:
    with Registry(name=f"bench-{name}-src") as src:
        refs = seeded(src, fn)
        images = catalog(src, refs)
        tools = b.keep([syncer_sync_tool(), skopeo_sync_tool(), floor_tool()])
        records = b.cold(name, src, refs, images, tools)
    return {"title": title, "kind": "cold", "tools": tools, "records": records, "images": images,
            "workload": {"repos": len(repos_of(refs)), "tags": len(refs), "blobs": distinct_blobs(images),
                         "bytes": sum(blob_sizes(images).values())}}


def scenario_family(b: Bench) -> dict:
    title = (f"family: {FAMILY_REPOS} repositories x {len(FAMILY_TAGS)} tags sharing 2 base layers "
             f"({FAMILY_BASE[0] // MIB} + {FAMILY_BASE[1] // MIB} MiB) plus {FAMILY_OWN // MIB} MiB each, cold sync")
    return scenario_cold_sync(b, "family", title, seed_family)


def scenario_multiarch(b: Bench) -> dict:
    title = (f"multiarch: {MULTIARCH_REPOS} repositories x {len(MULTIARCH_TAGS)} tags, OCI indexes of "
             f"{len(MULTIARCH_PLATFORMS)} platforms, cold sync")
    return scenario_cold_sync(b, "multiarch", title, seed_multiarch)


def scenario_noop(b: Bench) -> dict:
    with Registry(name="bench-noop-src") as src, Registry(name="bench-noop-dst") as dst:
        refs = seeded(src, seed_noop)
        seeded(dst, seed_noop)   # the same generator: byte-identical content at the destination
        tools = b.keep([syncer_sync_tool(), skopeo_sync_tool(), floor_tool(noop=True)])
        records = b.warm("noop", src, dst, refs, tools)
    return {"title": f"noop: {NOOP_REPOS} repositories x {NOOP_TAGS} tags, all present at the destination",
            "kind": "noop", "tools": tools, "records": records,
            "workload": {"repos": NOOP_REPOS, "tags": len(refs)}}


def scenario_referrers(b: Bench) -> dict:
    """The noop scenario with a signature on every tag, at both ends: what carrying referrers adds to a run
    that has nothing to do (syncer carries them by default; --no-referrers is the same run without)."""
    with Registry(name="bench-referrers-src") as src, Registry(name="bench-referrers-dst") as dst:
        refs = seeded(src, seed_noop_referrers)
        seeded(dst, seed_noop_referrers)
        tools = b.keep([syncer_sync_tool(), syncer_sync_tool("syncer --no-referrers", ("--no-referrers",)),
                        skopeo_sync_tool(), floor_tool(noop=True)])
        records = b.warm("referrers", src, dst, refs, tools)
    return {"title": f"referrers: the noop scenario with a signature on each of its {len(refs)} tags (tag schema), "
                     "all present at the destination",
            "kind": "noop", "tools": tools, "records": records,
            "workload": {"repos": NOOP_REPOS, "tags": len(refs)}}


def scenario_scale(b: Bench) -> dict:
    records, tools = [], []
    make = {"syncer": syncer_sync_tool, "skopeo": skopeo_sync_tool, "floor": lambda: floor_tool(noop=True)}
    for n in b.args.scale_counts:
        with Registry(name="bench-scale-src") as src, Registry(name="bench-scale-dst") as dst:
            refs = seeded(src, lambda c: seed_scale(c, n, b.args.scale_repos))
            seeded(dst, lambda c: seed_scale(c, n, b.args.scale_repos))
            tools = b.keep([make[t]() for t in b.args.scale_tool_names])
            for rec in b.warm(f"scale-{n}", src, dst, refs, tools):
                rec["tags"] = n
                # docker-registry has no referrers API: its /referrers/ requests are syncer's one probe per registry
                beyond = (rec["src_requests"] + rec["dst_requests"] - rec["tag_list_pages"] - rec["pings"]
                          - rec["referrer_api_requests"])
                rec["requests_per_tag"] = beyond / n
                rec["tags_per_s"] = n / rec["wall_s"] if rec["wall_s"] > 0 else 0.0
                records.append(rec)
    return {"title": f"scale: no-op sync of {', '.join(map(str, b.args.scale_counts))} tags in "
                     f"{b.args.scale_repos} repositories", "kind": "scale", "tools": tools, "records": records,
            "workload": {"repos": b.args.scale_repos, "tags": b.args.scale_counts}}


def scenario_memory(b: Bench) -> dict:
    small, large = b.args.big_mib, b.args.memory_big_mib
    with Registry(name="bench-memory-src") as src:
        refs_small = seeded(src, lambda c: seed_big(c, f"bench/big-{small}", small))
        refs_large = seeded(src, lambda c: seed_big(c, f"bench/big-{large}", large)) if large != small else []
        images = catalog(src, refs_small + refs_large)
        tools = []
        for refs, mib in ((refs_small, small), (refs_large, large)):
            if not refs:
                continue
            subset = [t for t in images if (t.repo, t.tag) in refs]
            tools.append(syncer_copy_tool(refs[0], f"syncer @{mib} MiB", subset))
            tools.append(syncer_sync_tool(f"syncer --proc 16 @{mib} MiB", ("--proc", "16"), whole_repos=False,
                                          images=subset))
        records = b.cold("memory", src, refs_small + refs_large, images, tools)
    return {"title": f"memory: peak RSS copying 4 layers x {small} MiB vs 4 x {large} MiB, cold",
            "kind": "memory", "tools": tools, "records": records, "sizes": [small, large],
            "pairs": [(f"{base} @{large} MiB", f"{base} @{small} MiB") for base in ("syncer", "syncer --proc 16")],
            "workload": {"layers": 4, "mib": [small, large]}}


AIRGAP_REFUSED = ("transport syncer does not have", "not supported yet", "is refused")


def archive_check(path_of: Callable[[Ctx], str]) -> Callable[[Ctx], list[str]]:
    def check(ctx: Ctx) -> list[str]:
        path = path_of(ctx)
        return [] if os.path.isfile(path) and os.path.getsize(path) > 0 else [f"no archive at {path}"]
    return check


def syncer_export_tool(ref: tuple[str, str], name: str, ext: str, images: list[Tagged] | None = None) -> Tool:
    """`syncer copy docker://SRC/REPO:TAG oci-archive:FILE` (the image keeps its repository and tag)."""
    repo, tag = ref

    def path(ctx: Ctx) -> str:
        return os.path.join(ctx.work, f"bundle{ext}")
    return Tool(name, "syncer", f"syncer copy SRC/{repo}:{tag} oci-archive:FILE{ext}",
                lambda ctx: [ctx.args.syncer, "copy", f"{ctx.src.host}/{repo}:{tag}", f"oci-archive:{path(ctx)}"],
                images, verify_destination=False, check=archive_check(path))


def skopeo_export_tool(ref: tuple[str, str]) -> Tool:
    repo, tag = ref

    def path(ctx: Ctx) -> str:
        return os.path.join(ctx.work, "bundle.tar")
    return Tool("skopeo export .tar", "skopeo",
                f"skopeo copy --src-tls-verify=false docker://SRC/{repo}:{tag} oci-archive:FILE.tar:{repo}:{tag}",
                lambda ctx: ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ctx.src.host}/{repo}:{tag}",
                             f"oci-archive:{path(ctx)}:{repo}:{tag}"],
                verify_destination=False, check=archive_check(path))


def syncer_import_tool(ref: tuple[str, str], bundle: str, name: str) -> Tool:
    repo, tag = ref
    return Tool(name, "syncer", f"syncer copy oci-archive:{os.path.basename(bundle)}:{repo}:{tag} DST/{repo}:{tag}",
                lambda ctx: [ctx.args.syncer, "copy", f"oci-archive:{bundle}:{repo}:{tag}",
                             f"{ctx.dst.host}/{repo}:{tag}"])


def skopeo_import_tool(ref: tuple[str, str], bundle: str) -> Tool:
    repo, tag = ref
    return Tool("skopeo import .tar", "skopeo",
                f"skopeo copy --dest-tls-verify=false oci-archive:{os.path.basename(bundle)}:{repo}:{tag} "
                f"docker://DST/{repo}:{tag}",
                lambda ctx: ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci-archive:{bundle}:{repo}:{tag}",
                             f"docker://{ctx.dst.host}/{repo}:{tag}"])


def compressor_floor_tool(name: str, command: str, blobs_file: str) -> Tool:
    """The raw speed of a compressor over the image's blobs (what an archive of them holds), to /dev/null."""
    return Tool(name, "floor", f"{command} < BLOBS > /dev/null",
                lambda ctx: ["bash", "-c", f"{command} < {shlex.quote(blobs_file)} > /dev/null"],
                verify_destination=False)


def write_blobs_file(src: Registry, images: list[Tagged], path: str) -> int:
    """The image's config and layer bytes, concatenated: what a bundle of it holds (less a few KiB of JSON)."""
    total = 0
    with open(path, "wb") as out:
        for image in images:
            for m in image.manifest.walk():
                for d, _ in m.blobs:
                    conn = http.client.HTTPSConnection(src.host, timeout=600, context=src.ssl_context()) \
                        if src.tls else http.client.HTTPConnection(src.host, timeout=600)
                    conn.request("GET", f"/v2/{image.repo}/blobs/{d}")
                    resp = conn.getresponse()
                    if resp.status != 200:
                        raise RuntimeError(f"GET blob {d} of {image.repo}: {resp.status}")
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
                        total += len(chunk)
                    conn.close()
    return total


def probe_syncer_archives(b: Bench, src: Registry, ref: tuple[str, str]) -> tuple[str | None, str]:
    """One export with syncer, unmeasured: the bundle the import runs read, or None and why syncer cannot."""
    work = b.run_dir("airgap", "probe", 0)
    bundle = os.path.join(work, "bundle.tar.zst")
    r = subprocess.run([b.args.syncer, "copy", f"{src.host}/{ref[0]}:{ref[1]}", f"oci-archive:{bundle}"],
                       capture_output=True, text=True, env=clean_env(), cwd=work, timeout=b.args.timeout)
    if r.returncode == 0 and os.path.isfile(bundle):
        return bundle, ""
    text = (r.stderr or r.stdout).strip()
    refused = any(marker in text for marker in AIRGAP_REFUSED)
    return None, ("this syncer refuses oci-archive: (the CLI transports of issue 16 are not in this build): "
                  if refused else "syncer's export failed: ") + text.splitlines()[-1] if text else "no output"


def scenario_airgap(b: Bench) -> dict:
    """Export `big` to an archive and import it into an empty registry, syncer against skopeo, with the raw
    speed of zstd and gzip over the same bytes as the floor; then peak RSS of an export at two layer sizes."""
    small, large = b.args.big_mib, b.args.memory_big_mib
    with Registry(name="bench-airgap-src") as src:
        refs = seeded(src, lambda c: seed_big(c, "bench/big", small))
        images = catalog(src, refs)
        ref = refs[0]
        blobs_file = os.path.join(b.work, "airgap-blobs.bin")
        write_blobs_file(src, images, blobs_file)
        bundle, why = probe_syncer_archives(b, src, ref)
        skopeo_bundle = os.path.join(b.run_dir("airgap", "skopeo-probe", 0), "bundle.tar")
        subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{src.host}/{ref[0]}:{ref[1]}",
                        f"oci-archive:{skopeo_bundle}:{ref[0]}:{ref[1]}"], env=clean_env(), check=True,
                       capture_output=True)
        tools: list[Tool] = []
        if bundle:
            tools += [syncer_export_tool(ref, "syncer export .tar.zst", ".tar.zst", images),
                      syncer_export_tool(ref, "syncer export .tar", ".tar", images)]
        else:
            print(f"  airgap: syncer's exports and imports skipped: {why}", flush=True)
        tools += [skopeo_export_tool(ref),
                  compressor_floor_tool("floor zstd -3", "zstd -q -3 -T1 -c", blobs_file),
                  compressor_floor_tool("floor gzip -6", "gzip -6 -c", blobs_file)]
        if bundle:
            tools.append(syncer_import_tool(ref, bundle, "syncer import .tar.zst"))
        tools.append(skopeo_import_tool(ref, skopeo_bundle))
        for t in tools:
            if t.verify_destination is False and t.images is None:
                t.images = images
        records = b.cold("airgap", src, refs, images, tools)
        pairs = [("syncer export .tar.zst", "skopeo export .tar"), ("syncer export .tar", "skopeo export .tar"),
                 ("syncer export .tar.zst", "floor zstd -3"), ("syncer import .tar.zst", "skopeo import .tar")]
        if bundle and large != small:
            refs_large = seeded(src, lambda c: seed_big(c, f"bench/big-{large}", large))
            large_images = catalog(src, refs_large)
            size_tools = [syncer_export_tool(ref, f"syncer export .tar.zst @{small} MiB", ".tar.zst", images),
                          syncer_export_tool(refs_large[0], f"syncer export .tar.zst @{large} MiB", ".tar.zst",
                                             large_images)]
            records += b.cold("airgap", src, refs + refs_large, images + large_images, size_tools)
            tools += size_tools
            pairs.append((f"syncer export .tar.zst @{large} MiB", f"syncer export .tar.zst @{small} MiB"))
    title = f"airgap: export of `big` (4 layers x {small} MiB) to an archive and import into an empty registry"
    if not bundle:
        title += f" (syncer skipped: {why})"
    return {"title": title, "kind": "cold", "tools": tools, "records": records, "images": images,
            "sizes": [small, large], "pairs": pairs, "syncer_skipped": why,
            "workload": {"tags": 1, "blobs": distinct_blobs(images), "bytes": sum(blob_sizes(images).values())}}


RUNNERS = {"big": scenario_big, "family": scenario_family, "multiarch": scenario_multiarch,
           "noop": scenario_noop, "referrers": scenario_referrers, "scale": scenario_scale,
           "memory": scenario_memory, "airgap": scenario_airgap}


# --- medians, ratios, targets ------------------------------------------------------------------------------

NUMERIC = ["wall_s", "cpu_s", "user_s", "sys_s", "rss_mib", "registry_cpu_s", "src_requests", "dst_requests",
           "src_manifest_gets", "dst_writes", "blob_puts", "distinct_blobs_put", "max_puts_per_blob", "bytes_sent",
           "mounts", "tag_list_pages", "pings", "requests_per_tag", "tags_per_s", "errors", "referrer_requests",
           "link_src_connections", "link_dst_connections", "link_src_resets", "link_dst_resets", "link_cpu_s",
           "link_src_mib_down", "link_dst_mib_up", "syncer_src_connections", "syncer_dst_connections",
           "syncer_src_tls_handshakes", "syncer_dst_tls_handshakes", "syncer_src_tls_resumed",
           "syncer_dst_tls_resumed", "syncer_src_concurrency", "syncer_dst_concurrency",
           "syncer_src_concurrency_reached", "syncer_dst_concurrency_reached",
           "syncer_full_handshakes_max"]


def summarize(records: list[dict]) -> dict:
    """Medians per metric (and per HTTP method), worst case of the counters a target bounds, run count."""
    out = {"runs": len(records), "failed_runs": sum(1 for r in records if not r["ok"])}
    for key in NUMERIC:
        values = [r[key] for r in records if key in r]
        if values:
            out[key] = statistics.median(values)
    for key in ("src_manifest_gets", "dst_writes", "max_puts_per_blob", "requests_per_tag", "rss_mib",
                "syncer_full_handshakes_max"):
        values = [r[key] for r in records if key in r]
        if values:
            out[f"{key}_max"] = max(values)
    for side in ("src", "dst"):
        methods = sorted({m for r in records for m in r[side]})
        out[side] = {m: statistics.median([r[side].get(m, 0) for r in records]) for m in methods}
    return out


def group(records: list[dict], key: Callable[[dict], object]) -> dict:
    groups: dict = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def target(label: str, measured: float | None, limit: float, fmt: str = "{:.3f}", ok: bool | None = None) -> dict:
    if measured is None:
        return {"target": label, "measured": "n/a", "pass": False}
    passed = measured <= limit if ok is None else ok
    return {"target": label, "measured": fmt.format(measured), "pass": bool(passed)}


DEFAULT_CONCURRENCY = 64   # docs/sync.md: the metadata limit's default cap per registry


def link_limit(name: str, result: dict, args: argparse.Namespace, concurrency: float, tags: int | None = None) -> dict:
    """What the link allows a scenario's work (docs/benchmarks.md, "The link limit"): the larger of
    - the dependent chain: setup + the round trips no client can overlap + payload / bandwidth, and
    - the request rounds: setup + the least requests the busiest registry must answer, `concurrency` at a time.
    Setup is the TCP connect and, with --tls, a TLS 1.3 handshake (1 RTT each), paid once per connection slot
    and in parallel. Request and response headers are left out (a few hundred bytes per request)."""
    rtt, rate = args.rtt_ms / 1000, args.bandwidth_mbit * 1e6 / 8
    setup = 1 + (1 if args.tls else 0)
    if result["kind"] in ("noop", "scale"):
        repos = result["workload"]["repos"]
        tags = tags if tags is not None else result["workload"]["tags"]
        # Source: a tag list per repository and a HEAD per tag; destination: a HEAD per tag, each after the
        # tag list that named it. Nothing else depends on anything.
        src_req, dst_req = repos + tags, tags
        rounds = max(-(-src_req // concurrency), 1 + -(-dst_req // concurrency))
        total = setup + 1 + rounds
        return {"seconds": total * rtt, "rtts": total, "payload_s": 0.0,
                "formula": f"{setup} setup + 1 ping + max(ceil({src_req} source requests / {concurrency:g}), "
                           f"1 tag list + ceil({dst_req} destination HEADs / {concurrency:g})) = {total} RTT"}
    images = result["images"]
    single = name in ("big", "memory")
    manifests = {(t.repo, m.digest): m for t in images for m in t.manifest.walk()}
    levels = 1 + max((1 for t in images if t.manifest.children), default=0)
    payload = sum(blob_sizes(images).values()) + sum(m.size for m in manifests.values())
    holders: dict[str, set[str]] = {}
    for t in images:
        for m in t.manifest.walk():
            for d, _ in m.blobs:
                holders.setdefault(d, set()).add(t.repo)
    uploads, mounts = len(holders), sum(len(r) - 1 for r in holders.values())
    repos = len({t.repo for t in images})
    # Chain: ping, tag list (sync), manifest GETs (per index level), the blob GET piped into its single-request
    # upload (one RTT for the GET to answer, one for the PUT's response), manifest PUTs (children first).
    chain = setup + 1 + (0 if single else 1) + levels + 2 + levels
    src_req = (0 if single else repos) + len(manifests) + uploads
    dst_req = uploads + mounts + len(manifests)
    rounds = setup + 1 + -(-max(src_req, dst_req) // concurrency)
    chain_s = chain * rtt + payload / rate
    return {"seconds": max(chain_s, rounds * rtt), "rtts": chain, "payload_s": payload / rate,
            "formula": f"{chain} RTT + {payload / MIB:.1f} MiB / {args.bandwidth_mbit:g} Mbit/s = {chain_s:.3f} s; "
                       f"request rounds {rounds} RTT ({max(src_req, dst_req)} requests / {concurrency:g}) = "
                       f"{rounds * rtt:.3f} s"}


def wan_evaluate(name: str, result: dict, args: argparse.Namespace) -> list[dict]:
    """Link limits per tool (and per tag count for scale), and the WAN targets of issue 14."""
    s = result["summary"]
    conc = [v.get(f"syncer_{r}_concurrency") for v in s.values() for r in ("src", "dst")]
    conc = [c for c in conc if c]
    concurrency = max(conc) if conc else DEFAULT_CONCURRENCY
    result["link_concurrency"] = {"value": concurrency, "from": "syncer's report" if conc else "docs/sync.md"}
    for key, v in s.items():
        tags = int(key.rsplit("@", 1)[1]) if result["kind"] == "scale" else None
        v["link_limit"] = link_limit(name, result, args, concurrency, tags)
        v["link_limit_ratio"] = ratio(v.get("wall_s"), v["link_limit"]["seconds"])
    targets = []

    def ok_runs(tool: str) -> bool:
        return tool in s and s[tool]["runs"] > 0 and s[tool]["failed_runs"] == 0

    limits = {"family": 1.3, "noop": 3.0}
    if name in limits and ok_runs("syncer"):
        targets.append(target(f"syncer wall <= {limits[name]} x link limit "
                              f"({s['syncer']['link_limit']['seconds']:.3f} s)",
                              s["syncer"]["link_limit_ratio"], limits[name]))
        targets.append(target("syncer wall <= 0.05 x skopeo",
                              ratio(s["syncer"]["wall_s"], s["skopeo"]["wall_s"]) if ok_runs("skopeo") else None,
                              0.05))
    elif name in limits:
        targets.append(target(f"syncer wall <= {limits[name]} x link limit", None, limits[name]))
    if args.tls and name in limits:
        worst = s.get("syncer", {}).get("syncer_full_handshakes_max_max")
        targets.append(target(f"syncer: full TLS handshakes per registry per run <= {concurrency:g} connection "
                              "slots (report: tls_handshakes, max of runs and registries)",
                              worst, concurrency, "{:.0f}"))
    return targets


def evaluate(name: str, result: dict) -> None:
    """Medians per tool (per tag count for scale), ratios pair by pair, and the issue's targets."""
    if result["kind"] == "scale":
        by = group(result["records"], lambda r: (r["tool"], r["tags"]))
        result["summary"] = {f"{tool} @{n}": summarize(rs) for (tool, n), rs in by.items()}
    else:
        by = group(result["records"], lambda r: r["tool"])
        result["summary"] = {t.name: summarize(by.get(t.name, [])) for t in result["tools"]}
    s = result["summary"]
    names = list(s)
    pairs = []
    if result["kind"] != "scale":
        wanted = result.get("pairs") or [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        for a, b in wanted:
            if a in s and b in s:
                pairs.append({"pair": f"{a} / {b}",
                              **{k: ratio(s[a].get(k), s[b].get(k)) for k in ("wall_s", "cpu_s", "rss_mib")}})
    result["ratios"] = pairs
    targets = []
    wan = ARGS is not None and ARGS.wan

    def ok_runs(tool: str) -> bool:
        return tool in s and s[tool]["runs"] > 0 and s[tool]["failed_runs"] == 0

    def wall_ratio(a: str, b: str, key: str = "wall_s") -> float | None:
        if not (ok_runs(a) and ok_runs(b)):
            return None
        return ratio(s[a].get(key), s[b].get(key))

    if wan:     # the loopback targets on wall time and CPU are loopback's; the link has its own
        targets += wan_evaluate(name, result, ARGS)
    if wan and name in ("big", "memory", "airgap"):
        pass
    elif name == "big":
        targets.append(target("syncer wall <= 0.8 x skopeo", wall_ratio("syncer", "skopeo"), 0.8))
        targets.append(target("syncer wall <= 1.15 x floor", wall_ratio("syncer", "floor"), 1.15))
        targets.append(target("syncer CPU <= 0.25 x skopeo CPU", wall_ratio("syncer", "skopeo", "cpu_s"), 0.25))
        p16 = "syncer --proc 16"
        targets.append(target("syncer --proc 16 peak RSS <= 48 MiB (max of runs)",
                              s[p16].get("rss_mib_max") if ok_runs(p16) else None, 48, "{:.1f} MiB"))
    elif name == "family":
        if not wan:
            targets.append(target("syncer wall <= 0.4 x skopeo sync", wall_ratio("syncer", "skopeo"), 0.4))
        blobs = distinct_blobs(result["images"])
        runs = [r for r in result["records"] if r["tool"] == "syncer"]
        once = bool(runs) and all(r["ok"] and r["max_puts_per_blob"] == 1 and r["distinct_blobs_put"] == blobs
                                  and r["blob_puts"] == blobs for r in runs)
        worst = max((r["max_puts_per_blob"] for r in runs), default=None)
        targets.append(target(f"syncer: each of the {blobs} blobs PUT exactly once per destination registry "
                              "(max PUTs of one blob, every run)", worst, 1, "{:.0f}", ok=once))
    elif name == "noop":
        if not wan:
            targets.append(target("syncer wall <= 0.15 x skopeo sync", wall_ratio("syncer", "skopeo"), 0.15))
        syncer = s.get("syncer", {})
        targets.append(target("syncer: zero manifest GETs at the source (max of runs)",
                              syncer.get("src_manifest_gets_max") if ok_runs("syncer") else None, 0, "{:.0f}"))
        targets.append(target("syncer: zero writes (PUT/POST/PATCH/DELETE) at the destination (max of runs)",
                              syncer.get("dst_writes_max") if ok_runs("syncer") else None, 0, "{:.0f}"))
    elif name == "referrers":
        tags = result["workload"]["tags"]
        on = s.get("syncer", {})
        # Per tag: the referrers API requests and tag schema index reads at both ends (the subject's index at
        # the source, to learn its referrers, and at the destination, to learn what is there already).
        # Each registry is asked once whether it has the referrers API (a 404 from docker-registry): 2 in all.
        added = (on["referrer_requests"] - 2) / tags if ok_runs("syncer") else None
        targets.append(target("looking for referrers costs <= 2 requests per tag (one per subject at each end; "
                              "median), plus one referrers API probe per registry", added, 2, "{:.3f}"))
        targets.append(target("syncer: zero writes (PUT/POST/PATCH/DELETE) at the destination (max of runs)",
                              on.get("dst_writes_max") if ok_runs("syncer") else None, 0, "{:.0f}"))
    elif name == "scale":
        for key, summ in s.items():
            if key.startswith("syncer @"):
                ok = summ["failed_runs"] == 0
                targets.append(target(f"{key} tags: <= 2 requests per tag beyond tag-list pages, /v2/ "
                                      "and referrers API probes "
                                      "(max of runs)", summ.get("requests_per_tag_max") if ok else None, 2,
                                      "{:.3f}"))
    elif name == "memory":
        small, large = result["sizes"]
        for base in ("syncer", "syncer --proc 16"):
            a, b = f"{base} @{small} MiB", f"{base} @{large} MiB"
            if small == large or b not in s:
                continue
            ok = ok_runs(a) and ok_runs(b)
            r = ratio(s[b].get("rss_mib"), s[a].get("rss_mib")) if ok else None
            targets.append(target(f"{base}: peak RSS with {large} MiB layers <= 1.10 x with {small} MiB", r, 1.10))
        a = f"syncer --proc 16 @{small} MiB"
        targets.append(target(f"syncer --proc 16 peak RSS <= 48 MiB at {small} MiB layers (max of runs)",
                              s[a].get("rss_mib_max") if ok_runs(a) else None, 48, "{:.1f} MiB"))
    elif name == "airgap" and result["syncer_skipped"]:
        targets.append({"target": "syncer exports to and imports from oci-archive:",
                        "measured": "skipped: " + result["syncer_skipped"][:200], "pass": False})
    elif name == "airgap":
        small, large = result["sizes"]
        targets.append(target("syncer export .tar.zst wall <= 1.0 x skopeo export .tar",
                              wall_ratio("syncer export .tar.zst", "skopeo export .tar"), 1.0))
        targets.append(target("syncer import .tar.zst wall <= 1.0 x skopeo import .tar",
                              wall_ratio("syncer import .tar.zst", "skopeo import .tar"), 1.0))
        targets.append(target("syncer export .tar.zst wall <= 1.5 x floor zstd -3 over the same bytes",
                              wall_ratio("syncer export .tar.zst", "floor zstd -3"), 1.5))
        a, b_ = f"syncer export .tar.zst @{small} MiB", f"syncer export .tar.zst @{large} MiB"
        if large != small:
            r = ratio(s[b_].get("rss_mib"), s[a].get("rss_mib")) if ok_runs(a) and ok_runs(b_) else None
            targets.append(target(f"export peak RSS with {large} MiB layers <= 1.10 x with {small} MiB", r, 1.10))
    for t in result["tools"]:
        if t.name in s and s[t.name]["failed_runs"]:
            targets.append({"target": f"{t.name}: every run succeeded and the destination verified",
                            "measured": f"{s[t.name]['failed_runs']} of {s[t.name]['runs']} failed", "pass": False})
    result["targets"] = targets


# --- report ------------------------------------------------------------------------------------------------

def fmt_num(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}" if abs(x) >= 1 or x == 0 else f"{x:.3f}"


def fmt_count(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def fmt_methods(methods: dict) -> str:
    order = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]
    keys = [m for m in order if m in methods] + sorted(m for m in methods if m not in order)
    return " ".join(f"{m} {fmt_count(methods[m])}" for m in keys if methods[m]) or "-"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def markdown_scenario(name: str, result: dict, runs: int) -> list[str]:
    s = result["summary"]
    out = [f"### {result['title']}", "", f"Medians of {runs} run(s) per tool, tools alternating run by run.", ""]
    if result["kind"] in ("cold", "memory"):
        header = ["tool", "wall s", "CPU s", "peak RSS MiB", "registries' CPU s", "sent MiB", "blob PUTs",
                  "max PUTs/blob", "mounts", "source requests", "destination requests", "failed runs"]
        rows = [[k, fmt_num(v.get("wall_s")), fmt_num(v.get("cpu_s")), fmt_num(v.get("rss_mib"), 1),
                 fmt_num(v.get("registry_cpu_s")),
                 fmt_num(v.get("bytes_sent", 0) / MIB, 1), fmt_count(v.get("blob_puts")),
                 fmt_count(v.get("max_puts_per_blob")), fmt_count(v.get("mounts")), fmt_methods(v["src"]),
                 fmt_methods(v["dst"]), str(v["failed_runs"])] for k, v in s.items()]
    elif result["kind"] == "noop":
        header = ["tool", "wall s", "CPU s", "peak RSS MiB", "registries' CPU s", "source manifest GETs",
                  "destination writes", "source requests", "destination requests", "failed runs"]
        rows = [[k, fmt_num(v.get("wall_s")), fmt_num(v.get("cpu_s")), fmt_num(v.get("rss_mib"), 1),
                 fmt_num(v.get("registry_cpu_s")),
                 fmt_count(v.get("src_manifest_gets")), fmt_count(v.get("dst_writes")), fmt_methods(v["src"]),
                 fmt_methods(v["dst"]), str(v["failed_runs"])] for k, v in s.items()]
    else:
        header = ["tool @ tags", "wall s", "tags/s", "CPU s", "peak RSS MiB", "registries' CPU s", "tag-list pages",
                  "requests/tag beyond tag lists", "source requests", "destination requests", "failed runs"]
        rows = [[k, fmt_num(v.get("wall_s")), fmt_num(v.get("tags_per_s"), 0), fmt_num(v.get("cpu_s")),
                 fmt_num(v.get("rss_mib"), 1), fmt_num(v.get("registry_cpu_s")), fmt_count(v.get("tag_list_pages")),
                 f"{v.get('requests_per_tag', 0):.3f}", fmt_methods(v["src"]), fmt_methods(v["dst"]),
                 str(v["failed_runs"])] for k, v in s.items()]
    out += table(header, rows) + [""]
    if any("link_limit" in v for v in s.values()):
        out += markdown_link(result)
    if result["ratios"]:
        out += table(["ratio of medians", "wall", "CPU", "peak RSS"],
                     [[p["pair"], fmt_num(p["wall_s"]), fmt_num(p["cpu_s"]), fmt_num(p["rss_mib"])]
                      for p in result["ratios"]]) + [""]
    if result["targets"]:
        out += table(["target", "measured", "result"],
                     [[t["target"], t["measured"], "PASS" if t["pass"] else "FAIL"] for t in result["targets"]])
        out += [""]
    out += ["Commands:", ""] + [f"- {t.name}: `{t.shows}`" for t in result["tools"]] + [""]
    return out


def markdown_link(result: dict) -> list[str]:
    """The WAN table: each tool's wall time against the link limit, and the connections each end saw."""
    s = result["summary"]
    conc = result["link_concurrency"]
    out = [f"Through the link: link limit per docs/benchmarks.md at {conc['value']:g} concurrent requests per "
           f"registry (from {conc['from']}); connections as the links counted them (accepted per run) and as "
           "syncer's report gives them (`n/a`: not in the report).", ""]

    def pair(v: dict, key: str) -> str:
        a, b = v.get(key.format("src")), v.get(key.format("dst"))
        return "n/a" if a is None and b is None else f"{fmt_count(a)} / {fmt_count(b)}"
    rows = [[k, fmt_num(v.get("wall_s")), fmt_num(v["link_limit"]["seconds"]), fmt_num(v.get("link_limit_ratio")),
             pair(v, "link_{}_connections"), pair(v, "link_{}_resets"), pair(v, "syncer_{}_connections"),
             pair(v, "syncer_{}_tls_handshakes"), pair(v, "syncer_{}_tls_resumed"), fmt_num(v.get("link_cpu_s"))]
            for k, v in s.items()]
    out += table(["tool", "wall s", "link limit s", "wall / link limit", "link connections src / dst",
                  "link resets src / dst", "syncer connections src / dst (report)",
                  "TLS handshakes src / dst (report)", "TLS resumed src / dst (report)", "link CPU s"], rows)
    out += ["", "Link limit: " + "; ".join(dict.fromkeys(
        f"{k}: {v['link_limit']['formula']}" if result["kind"] == "scale" else v["link_limit"]["formula"]
        for k, v in s.items())), ""]
    return out


def tool_version(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def syncer_build(binary: str) -> str:
    """Build type and assertion setting from the CMakeCache.txt of the build tree holding the binary."""
    d = os.path.dirname(binary)
    for _ in range(3):
        cache = os.path.join(d, "CMakeCache.txt")
        if os.path.isfile(cache):
            text = open(cache, errors="replace").read()
            found = dict(re.findall(r"^(CMAKE_BUILD_TYPE|SYNCER_ASSERTIONS):\w+=(.*)$", text, re.M))
            return ", ".join(f"{k}={v}" for k, v in found.items()) or "unknown"
        d = os.path.dirname(d)
    return "unknown"


def machine(args: argparse.Namespace) -> dict:
    cpu = "unknown"
    try:
        m = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
        cpu = m[1].strip() if m else cpu
        mem_kib = int(re.search(r"^MemTotal:\s*(\d+)", open("/proc/meminfo").read(), re.M)[1])
    except (OSError, TypeError):
        mem_kib = 0
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "registry_storage": STORAGE,
        "syncer": f"{tool_version([args.syncer, 'version'])} ({args.syncer}; {syncer_build(args.syncer)})",
        "skopeo": tool_version(["skopeo", "--version"]),
        "curl": tool_version(["curl", "--version"]),
        "docker-registry": tool_version(["docker-registry", "--version"]),
        "python": platform.python_version(),
    }


def write_report(args: argparse.Namespace, info: dict, results: dict, started: str, elapsed: float) -> str:
    lines = ["# syncer benchmark results", "",
             f"Command: `{args.command}`  ",
             f"Started: {started}, took {elapsed:.0f} s, {args.runs} run(s) per tool.", ""]
    if args.wan:
        lines += [f"Link (bench/link.py) in front of every registry: {args.rtt_ms:g} ms RTT, "
                  f"{args.bandwidth_mbit:g} Mbit/s each way, connection loss {args.link_loss:g}"
                  f"{'; registries serve HTTPS' if args.tls else ''}.", ""]
    elif args.tls:
        lines += ["Registries serve HTTPS (a CA per registry, made for the run).", ""]
    lines += ["| machine | |", "|---|---|"]
    lines += [f"| {k} | {', '.join(map(str, v)) if isinstance(v, list) else v} |" for k, v in info.items()]
    lines.append("")
    verdicts = [t for r in results.values() for t in r["targets"]]
    if verdicts:
        passed = sum(1 for t in verdicts if t["pass"])
        lines += [f"Targets: {passed} of {len(verdicts)} PASS.", ""]
    for name, result in results.items():
        lines += markdown_scenario(name, result, args.runs)
    text = "\n".join(lines)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "latest.md"), "w") as f:
        f.write(text)
    doc = {"command": args.command, "started": started, "elapsed_s": elapsed, "runs": args.runs,
           "options": {k: v for k, v in vars(args).items() if k not in ("command", "scenario")},
           "machine": info, "scenarios": {}}
    for name, r in results.items():
        doc["scenarios"][name] = {
            "title": r["title"], "workload": r["workload"],
            "tools": [{"name": t.name, "kind": t.kind, "command": t.shows} for t in r["tools"]],
            "summary": r["summary"], "ratios": r["ratios"], "targets": r["targets"], "runs": r["records"],
            "link_concurrency": r.get("link_concurrency")}
    with open(os.path.join(args.results, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return text


def main(argv: list[str]) -> int:
    global STORAGE, TLS, ARGS
    args = parse_args(argv)
    STORAGE, TLS, ARGS = args.storage, args.tls, args
    info = machine(args)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"syncer bench: {', '.join(args.scenarios)}; {args.runs} run(s) per tool; load average "
          f"{info['load_average_at_start']} on {info['nproc']} CPUs", flush=True)
    bench = Bench(args)
    info["measured_with"] = bench.launcher_info
    results = {}
    start = time.perf_counter()
    try:
        for name in args.scenarios:
            print(f"{name}:", flush=True)
            try:
                results[name] = RUNNERS[name](bench)
            finally:
                bench.release_all()
            evaluate(name, results[name])
    except KeyboardInterrupt:
        print("interrupted: reporting the scenarios that finished", file=sys.stderr)
    finally:
        bench.release_all()
        keep = args.keep_work or bench.failures
        if not keep:
            shutil.rmtree(bench.work, ignore_errors=True)
    text = write_report(args, info, results, started, time.perf_counter() - start)
    print()
    print(text)
    print(f"written: {os.path.join(args.results, 'latest.md')} and latest.json")
    if keep:
        print(f"tool logs and configs: {bench.work}")
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
