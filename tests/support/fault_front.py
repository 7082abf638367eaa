"""A fault-injecting reverse proxy in front of a real registry, for integration tests. Standard library only.

`FaultFront(backend)` is a context manager running ThreadingHTTPServer listeners on 127.0.0.1 with ephemeral
ports in background threads. It forwards every request to `backend` (a harness.Registry, or "host:port" of a
plain-HTTP registry without auth) with http.client, streaming bodies both ways in chunks (a blob is never held
in memory), and misbehaves on the way the way Docker Hub, Quay, ECR and S3-backed registries do. Every request
is recorded (`requests()`, `log_text()`): listener, method, path with query, Authorization (its value, so tests
can tell Basic from Bearer), Range, Content-Range, Content-Length, the status answered and the fault injected.

Switches, all off by default:
  bearer=True              Docker token auth (token_auth.TokenService) with the token endpoint on a listener of
                           its own (another host:port, `realm`). Pull is needed for GET/HEAD, push for writes; a
                           mount POST also needs pull on `from`, else the front opens a plain upload session (the
                           mount parameters are dropped when forwarding: 202), as docker-registry does.
                           Tokens last `expires_in` seconds (the front enforces it; clients clamp it to 60 s).
  users={name: password}   accounts of the token endpoint (Basic on GET); without any, anyone gets any token.
  anonymous_pull=True      with users, a token request without credentials still gets pull (public images).
  allow=f(user, repo, action) -> bool   restricts what the token endpoint grants.
  max_repositories=N       one token grants the scopes of at most N repositories, however many a request asks
                           for (token_auth.TokenService); requests for the others answer 401 insufficient_scope.
  blob_redirect=True       blob GETs answer 307 to a "storage" listener (another port) serving the bytes from the
                           backend; it answers 400 to any request carrying Authorization, as S3 does for presigned
                           URLs.
  page_size=N              tag lists come N at a time with `Link: <...?n=N&last=OPAQUE>; rel="next"`; OPAQUE is
                           not a tag, and an unknown one is refused with 400.
  fault_rate=P, faults=..., seed=S
                           each request to a repository (and each storage request) fails with probability P with
                           one of the fault kinds below that applies to it, chosen by weight from `faults` (an
                           iterable of kinds, or {kind: weight}); random.Random(seed), shared under a lock.
  ensure={kind: N}         additionally inject `kind` into the first N requests it applies to, so a test can rely
                           on every kind having happened.
  mutate={repo: kind}      a persistent bad response for every request of that repository (MUTATIONS below).
  stall={repo: N}          the first N blob GETs of that repository (-1: every one) whose answer has at least
                           `drag_min` body bytes send half the body and then nothing, the connection left open,
                           until the client closes it (or `stall_seconds` pass, or the front is closed); later
                           GETs are answered normally. The fault recorded is "stall".
  trickle={repo: N}        the same, but after the first half the body goes on `trickle_chunk` bytes every
                           `trickle_delay` seconds (100 B every 0.1 s by default: 1000 B/s). Fault "trickle".
  throttle_every=N, throttle_shape="ietf"|"hub"
                           every Nth request to a repository answers 429 TOOMANYREQUESTS (fault "throttle") with
                           a rate-limit header set: "ietf" is `Retry-After: retry_after`, `RateLimit-Limit:
                           100;w=21600`, `RateLimit-Remaining: 0` (the IETF draft's fields on a short throttle);
                           "hub" is Docker Hub's `ratelimit-limit: 100;w=21600`, `ratelimit-remaining: 0;w=21600`
                           with no Retry-After.
  host / token_host        the addresses the registry and token listeners bind to (default 127.0.0.1).

`max_in_flight(listener)` is the most requests a listener ("registry", "token", "storage") was serving at once.

Fault kinds (FAULTS):
  429                429 TOOMANYREQUESTS with `Retry-After: retry_after` (1 s by default)
  503                503 with Retry-After (on the storage listener: an S3 SlowDown-style XML body)
  429_html           429 with an HTML page and no Retry-After (a CDN or WAF in front of the registry)
  reset              blob GET: headers and 25-75 % of the body, then the connection is reset (SO_LINGER 0);
                     only bodies of at least `reset_min` bytes
  slow               GET bodies sent `slow_chunk` bytes at a time with `slow_delay` seconds between chunks
  no_digest          manifest HEAD/GET answered without Docker-Content-Digest
  refuse_mount       a mount POST is forwarded without mount/from: a plain upload session (202)
  refuse_monolithic  a blob PUT/POST with a non-empty body answers 400 UNSUPPORTED (the client must PATCH)

Mutations (MUTATIONS), for `mutate`:
  invalid_json             manifest GETs send a body cut in half (not JSON); headers as the backend sent them
  manifest_digest_mismatch manifest GETs send changed bytes (still valid JSON) under the original digest header
  blob_digest_mismatch     blob GETs send the same number of bytes with one byte flipped
  truncated_blob           blob GETs announce the full Content-Length, send half of it and close the connection
  wrong_content_length     blob GETs announce and send `length_delta` bytes more than the blob has
  short_content_length     blob GETs announce and send fewer bytes than the blob has (a well-framed answer)
  oversized_manifest       the tag's manifest padded with spaces to `oversize` bytes (8 MiB), under the padded
                           body's digest (HEAD and GET agree, so only the size is wrong)
  unknown_media_type       the manifest's own mediaType and its Content-Type become application/x-unknown, under
                           the changed body's digest
  html_error               every request for the repository answers 502 with an nginx HTML page
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import json
import random
import re
import secrets
import select
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from loopback_http import LoopbackHandler
from token_auth import Denied, TokenService, error_body, needed_scopes

# The rate-limit headers of a throttled answer (throttle_every), by shape; "ietf" adds Retry-After.
THROTTLE_SHAPES = {
    "ietf": [("RateLimit-Limit", "100;w=21600"), ("RateLimit-Remaining", "0")],
    "hub": [("ratelimit-limit", "100;w=21600"), ("ratelimit-remaining", "0;w=21600")],
}
FAULTS = ("429", "503", "429_html", "reset", "slow", "no_digest", "refuse_mount", "refuse_monolithic")
MANIFEST_MUTATIONS = ("invalid_json", "manifest_digest_mismatch", "oversized_manifest", "unknown_media_type")
BLOB_MUTATIONS = ("blob_digest_mismatch", "truncated_blob", "wrong_content_length", "short_content_length")
MUTATIONS = MANIFEST_MUTATIONS + BLOB_MUTATIONS + ("html_error",)
SERVICE = "fault-front"
MIB = 1 << 20

_ROUTE = re.compile(r"^/v2/(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
                    r"/(?P<kind>manifests|blobs/uploads|blobs|tags)/(?P<rest>.*)$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "content-length", "host", "authorization", "expect"}

_HTML_429 = (b"<!DOCTYPE html>\n<html><head><title>429 Too Many Requests</title></head>\n<body><h1>Too Many "
             b"Requests</h1><p>You are being rate limited. Ray ID: 7d1f2e3a4b5c6d7e</p></body></html>\n")
_HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
             b"</body>\r\n</html>\r\n")
_S3_SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                b"<Message>Please reduce your request rate.</Message></Error>")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    """One request as a listener of the front saw it. `status` is what the front answered (0: the connection
    ended before an answer); `fault` the fault or mutation injected, if any; `bytes_out` the body bytes sent."""

    listener: str  # "registry", "token" or "storage"
    method: str
    path: str
    authorization: str | None
    range: str | None
    content_range: str | None
    content_length: str | None
    connection: int
    started: float
    status: int = 0
    fault: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    finished: float | None = None

    @property
    def auth_scheme(self) -> str | None:
        return self.authorization.split(" ", 1)[0].lower() if self.authorization else None

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)

    @property
    def route(self) -> str:
        """The path without the query."""
        return urllib.parse.urlsplit(self.path).path

    @property
    def range_start(self) -> int | None:
        m = re.fullmatch(r"bytes=(\d+)-\d*", (self.range or "").strip())
        return int(m[1]) if m else None

    def __str__(self) -> str:
        extra = f" [auth {self.auth_scheme}]" if self.authorization else ""
        extra += f" [Range {self.range}]" if self.range else ""
        extra += f" [Content-Range {self.content_range}]" if self.content_range else ""
        extra += f" FAULT {self.fault}" if self.fault else ""
        return (f"{self.started:.3f} #{self.connection} {self.listener}: {self.method} {self.path} -> {self.status}"
                f" ({self.bytes_in} B in, {self.bytes_out} B out){extra}")


class _Done(Exception):
    """The answer was sent (or the connection was dropped on purpose): nothing more to do."""


class _RequestBody:
    """The request body, read from the client as it is needed: Content-Length or chunked."""

    def __init__(self, h: "_Handler"):
        self.rfile = h.rfile
        self.chunked = "chunked" in (h.headers.get("Transfer-Encoding") or "").lower()
        self.length = 0 if self.chunked else int(h.headers.get("Content-Length") or 0)
        self.read = 0
        self.finished = not self.chunked and self.length <= 0

    @property
    def non_empty(self) -> bool:
        return self.chunked or self.length > 0

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        if self.finished:
            return
        if self.chunked:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed the connection inside a chunked body")
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                while n:
                    data = self.rfile.read(min(n, size))
                    if not data:
                        raise ConnectionError("client closed the connection inside a chunk")
                    n -= len(data)
                    self.read += len(data)
                    yield data
                self.rfile.readline(65537)
        else:
            left = self.length - self.read
            while left > 0:
                data = self.rfile.read(min(left, size))
                if not data:
                    raise ConnectionError("client closed the connection inside the body")
                left -= len(data)
                self.read += len(data)
                yield data
        self.finished = True

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def drain(self) -> None:
        for _ in self.chunks():
            pass


class _Handler(LoopbackHandler):
    server_version = "fault-front/1"
    _backend: http.client.HTTPConnection | None = None
    _entry: Entry | None = None

    @property
    def front(self) -> "FaultFront":
        return self.server.front  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.front._next_connection()

    def tls_probe(self) -> None:
        self.front._tls_probe(self.server.role)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.drop_backend()
        try:
            super().finish()
        except OSError:
            pass

    # --- the backend connection (one per client connection, kept alive) -------------------------------------
    def backend(self) -> http.client.HTTPConnection:
        if self._backend is None:
            self._backend = http.client.HTTPConnection(self.front.backend_host, timeout=120)
        return self._backend

    def drop_backend(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    # --- answers ----------------------------------------------------------------------------------------------
    def answer(self, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = (),
               content_type: str | None = "application/json", length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if body and content_type:
            self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            if self._entry is not None:
                self._entry.bytes_out += len(body)
        raise _Done()

    def reset(self) -> None:
        """Drop the connection with a TCP reset, as a dying proxy or load balancer does."""
        try:
            self.wfile.flush()
            time.sleep(0.05)  # let what was written leave the send buffer: a reset discards what is queued
        except OSError:
            pass
        self.reset_on_close()
        # Close here, every file object first (the socket closes only with its last reference): socketserver
        # would shutdown(SHUT_WR) first, which sends a FIN.
        try:
            self.wfile.close()
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass
        self.drop_backend()
        raise _Done()

    def _dispatch(self) -> None:
        entry = Entry(self.server.role, self.command, self.path,  # type: ignore[attr-defined]
                      self.headers.get("Authorization"), self.headers.get("Range"),
                      self.headers.get("Content-Range"), self.headers.get("Content-Length"),
                      self.connection_id, time.time())
        self._entry = entry
        self.front._log(entry)
        body = _RequestBody(self)
        self.front._begin(entry.listener)
        try:
            self.front._serve(self, entry, body)
        except _Done:
            pass
        except (OSError, http.client.HTTPException, ValueError):
            # The client or the backend went away mid-request; this connection cannot be trusted any more.
            self.close_connection = True
            self.drop_backend()
        finally:
            self.front._end(entry.listener)
            entry.bytes_in = body.read
            entry.finished = time.time()
            self._entry = None
        if not body.finished:
            self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _dispatch


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 128

    def __init__(self, front: "FaultFront", role: str, host: str):
        self.front = front
        self.role = role
        super().__init__((host, 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        pass  # clients dropping connections mid-request is what these tests are about


class FaultFront:
    def __init__(self, backend, *, name: str = "front", bearer: bool = False,
                 users: dict[str, str] | None = None, anonymous_pull: bool = False,
                 allow: Callable[[str, str, str], bool] | None = None, expires_in: int = 300,
                 blob_redirect: bool = False, page_size: int | None = None, fault_rate: float = 0.0,
                 faults: Iterable[str] | dict[str, float] = FAULTS, seed: int = 0,
                 ensure: dict[str, int] | None = None, mutate: dict[str, str] | None = None,
                 retry_after: str = "1", slow_chunk: int = 32 * 1024, slow_delay: float = 0.02,
                 reset_min: int = 64 * 1024, length_delta: int = 1000, oversize: int = 8 * MIB,
                 stall: dict[str, int] | None = None, trickle: dict[str, int] | None = None,
                 drag_min: int = 64 * 1024, stall_seconds: float = 120, trickle_chunk: int = 100,
                 trickle_delay: float = 0.1, throttle_every: int = 0, throttle_shape: str = "ietf",
                 host: str = "127.0.0.1", token_host: str = "127.0.0.1", max_repositories: int | None = None):
        self.backend_host = backend if isinstance(backend, str) else backend.host
        self.name = name
        self.bearer = bearer
        self.auth = TokenService(service=SERVICE, users=users, anonymous_pull=anonymous_pull, allow=allow,
                                 expires_in=expires_in, token_prefix="front-tok-",
                                 max_repositories=max_repositories)
        self.blob_redirect = blob_redirect
        self.page_size = page_size
        self.fault_rate = fault_rate
        weights = dict(faults) if isinstance(faults, dict) else {k: 1.0 for k in faults}
        unknown = set(weights) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULTS}")
        self.weights = weights
        self.ensure_left = dict(ensure or {})
        unknown = set(self.ensure_left) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)} in ensure")
        self.mutate = dict(mutate or {})
        unknown = set(self.mutate.values()) - set(MUTATIONS)
        if unknown:
            raise ValueError(f"unknown mutations {sorted(unknown)}; known: {MUTATIONS}")
        self.retry_after = retry_after
        if throttle_shape not in THROTTLE_SHAPES:
            raise ValueError(f"unknown throttle shape {throttle_shape!r}; known: {sorted(THROTTLE_SHAPES)}")
        self.throttle_every = throttle_every
        self.throttle_shape = throttle_shape
        self._repo_requests = 0
        self.slow_chunk = slow_chunk
        self.slow_delay = slow_delay
        self.reset_min = reset_min
        self.length_delta = length_delta
        self.oversize = oversize
        self.drag = {"stall": dict(stall or {}), "trickle": dict(trickle or {})}
        self.drag_min = drag_min
        self.stall_seconds = stall_seconds
        self.trickle_chunk = trickle_chunk
        self.trickle_delay = trickle_delay
        self._closing = threading.Event()  # ends stalls and trickles when the front shuts down
        self.bind_host = host
        self.token_bind_host = token_host

        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._connections = 0
        self._pages: dict[str, tuple[str, int]] = {}
        self._mutated: dict[tuple[str, str], tuple[bytes, str]] = {}  # (repo, digest) -> (bytes, media type)
        self.page_tokens: list[str] = []
        self._in_flight: Counter = Counter()  # requests being served now, by listener
        self._max_in_flight: Counter = Counter()
        self.tls_probes: Counter = Counter()

        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    # --- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> "FaultFront":
        try:
            self._start("registry", self.bind_host)
            if self.bearer:
                self._start("token", self.token_bind_host)
                self.auth.realm = self.realm
            if self.blob_redirect:
                self._start("storage", "127.0.0.1")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        for s in self._servers.values():
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def _start(self, role: str, host: str) -> None:
        server = _Server(self, role, host)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"fault-front-{self.name}-{role}", daemon=True)
        thread.start()
        self._servers[role] = server
        self._threads.append(thread)

    def _address(self, role: str) -> str:
        host, port = self._servers[role].server_address[:2]
        return f"{host}:{port}"

    # --- addresses --------------------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """host:port of the registry listener, what clients are given."""
        return self._address("registry")

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def token_host(self) -> str:
        return self._address("token")

    @property
    def realm(self) -> str:
        return f"http://{self.token_host}/token"

    @property
    def storage_host(self) -> str:
        return self._address("storage")

    def ref(self, repo: str, tag_or_digest: str) -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"

    # --- the record -------------------------------------------------------------------------------------------
    def _next_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def _tls_probe(self, role: str) -> None:
        with self._lock:
            self.tls_probes[role] += 1

    def _begin(self, listener: str) -> None:
        with self._lock:
            self._in_flight[listener] += 1
            self._max_in_flight[listener] = max(self._max_in_flight[listener], self._in_flight[listener])

    def _end(self, listener: str) -> None:
        with self._lock:
            self._in_flight[listener] -= 1

    def max_in_flight(self, listener: str = "registry") -> int:
        """The most requests the listener was serving at once (from the request line to the answer's end)."""
        with self._lock:
            return self._max_in_flight[listener]

    def _log(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def requests(self, listener: str | None = None, method: str | None = None, path_regex: str | None = None,
                 fault: str | None = None) -> list[Entry]:
        """Recorded requests in arrival order, optionally filtered (path_regex: re.search on path + query)."""
        pattern = re.compile(path_regex) if path_regex else None
        with self._lock:
            entries = list(self._entries)
        return [e for e in entries if (listener is None or e.listener == listener)
                and (method is None or e.method == method) and (pattern is None or pattern.search(e.path))
                and (fault is None or e.fault == fault)]

    def count(self, **filters) -> int:
        return len(self.requests(**filters))

    def faults_injected(self) -> Counter:
        """How many times each fault or mutation was injected so far."""
        return Counter(e.fault for e in self.requests() if e.fault)

    def token_requests(self) -> list[Entry]:
        return self.requests(listener="token")

    @property
    def issued_tokens(self) -> list[str]:
        return self.auth.issued_tokens

    @property
    def connections(self) -> int:
        """Client connections accepted so far, all listeners together."""
        return self._connections

    def log_text(self, last: int = 80, **filters) -> str:
        return "\n".join(str(e) for e in self.requests(**filters)[-last:])

    # --- faults -----------------------------------------------------------------------------------------------
    def _applicable(self, listener: str, method: str, kind: str | None, rest: str, query: dict,
                    body: _RequestBody) -> list[str]:
        kinds: list[str] = []
        if listener == "storage":
            kinds += ["503"]
            if method == "GET":
                kinds += ["reset", "slow"]
            return kinds
        if kind is None:
            return kinds
        kinds += ["429", "503", "429_html"]
        if method == "GET" and kind == "blobs" and not self.blob_redirect:
            kinds += ["reset", "slow"]
        if method == "GET" and kind == "manifests":
            kinds += ["slow"]
        if kind == "manifests" and method in ("GET", "HEAD"):
            kinds += ["no_digest"]
        if kind == "blobs/uploads" and method == "POST" and rest == "" and query.get("mount"):
            kinds += ["refuse_mount"]
        if kind == "blobs/uploads" and body.non_empty and (method == "PUT" or (method == "POST" and
                                                                               query.get("digest"))):
            kinds += ["refuse_monolithic"]
        return kinds

    def _pick(self, applicable: list[str]) -> str | None:
        with self._lock:
            for k in applicable:
                if self.ensure_left.get(k, 0) > 0:
                    self.ensure_left[k] -= 1
                    return k
            if self.fault_rate <= 0:
                return None
            candidates = [k for k in applicable if self.weights.get(k, 0) > 0]
            if not candidates or self._rng.random() >= self.fault_rate:
                return None
            return self._rng.choices(candidates, [self.weights[k] for k in candidates])[0]

    def _unpick(self, kind: str) -> None:
        """A picked fault that could not apply after all (a reset of a small body): give an ensured one back."""
        with self._lock:
            if kind in self.ensure_left:
                self.ensure_left[kind] += 1

    def _status_fault(self, h: _Handler, entry: Entry, body: _RequestBody, kind: str) -> None:
        entry.fault = kind
        body.drain()
        if kind == "429":
            h.answer(429, error_body("TOOMANYREQUESTS", "too many requests, slow down"),
                     [("Retry-After", self.retry_after)])
        if kind == "429_html":
            h.answer(429, _HTML_429, [], "text/html; charset=utf-8")
        if kind == "503":
            if entry.listener == "storage":
                h.answer(503, _S3_SLOWDOWN, [("Retry-After", self.retry_after)], "application/xml")
            h.answer(503, error_body("UNAVAILABLE", "service temporarily unavailable"),
                     [("Retry-After", self.retry_after)])
        if kind == "refuse_monolithic":
            h.answer(400, error_body("UNSUPPORTED", "monolithic uploads are not supported; send the blob in "
                                                    "PATCH chunks"))

    # --- serving ----------------------------------------------------------------------------------------------
    def _serve(self, h: _Handler, entry: Entry, body: _RequestBody) -> None:
        if entry.listener == "token":
            self._serve_token(h, entry, body)
        elif entry.listener == "storage":
            self._serve_storage(h, entry, body)
        else:
            self._serve_registry(h, entry, body)

    def _serve_token(self, h: _Handler, entry: Entry, body: _RequestBody) -> None:
        data = body.read_all()
        route = urllib.parse.urlsplit(h.path).path
        if route != "/token":
            h.answer(404, error_body("NOT_FOUND", f"no route for {route}"))
        status, answer, headers = self.auth.issue(h.command, h.path, h.headers.get("Authorization"), data)
        h.answer(status, answer, headers)

    def _serve_registry(self, h: _Handler, entry: Entry, body: _RequestBody) -> None:
        parts = urllib.parse.urlsplit(h.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        m = _ROUTE.match(path)
        name, kind, rest = (m["name"], m["kind"], m["rest"]) if m else (None, None, "")
        mutation = self.mutate.get(name) if name else None
        if mutation == "html_error":
            entry.fault = mutation
            body.drain()
            h.answer(502, _HTML_502, [], "text/html")

        if self.bearer:
            needed = [] if name is None else needed_scopes(h.command, name, kind)
            if path == "/v2/_catalog":
                needed = [("registry", "catalog", "*")]
            try:
                self.auth.authorize(h.headers.get("Authorization"), needed)
            except Denied as d:
                body.drain()
                h.answer(d.status, d.body, d.headers)

        if kind is not None and self.throttle_every > 0:
            with self._lock:
                self._repo_requests += 1
                throttle = self._repo_requests % self.throttle_every == 0
            if throttle:
                entry.fault = "throttle"
                body.drain()
                headers = list(THROTTLE_SHAPES[self.throttle_shape])
                if self.throttle_shape == "ietf":
                    headers.insert(0, ("Retry-After", self.retry_after))
                h.answer(429, error_body("TOOMANYREQUESTS", "rate limit exceeded, retry later"), headers)

        fault = self._pick(self._applicable("registry", h.command, kind, rest, query, body))
        if fault in ("429", "503", "429_html", "refuse_monolithic"):
            self._status_fault(h, entry, body, fault)

        target = h.path
        if kind == "blobs/uploads" and h.command == "POST" and rest == "" and query.get("mount"):
            source = query.get("from", [""])[0]
            allowed = not self.bearer or self.auth.allows(h.headers.get("Authorization"),
                                                          ("repository", source, "pull"))
            if fault == "refuse_mount" or not allowed:
                entry.fault = fault
                kept = [(k, v) for k, vs in query.items() if k not in ("mount", "from") for v in vs]
                target = path + (("?" + urllib.parse.urlencode(kept)) if kept else "")

        if kind == "tags" and rest == "list" and self.page_size and h.command == "GET":
            self._tags_page(h, entry, body, name, query)
        # A HEAD tells the truth about a manifest whose GET brings bad bytes; otherwise the mutation answers.
        if (kind == "manifests" and h.command in ("GET", "HEAD") and mutation in MANIFEST_MUTATIONS
                and not (h.command == "HEAD" and mutation in ("invalid_json", "manifest_digest_mismatch"))):
            if fault in ("no_digest", "slow"):
                self._unpick(fault)
            self._mutated_manifest(h, entry, body, name, rest, mutation)
        if kind == "blobs" and h.command == "GET" and self.blob_redirect and _DIGEST.match(rest):
            self._redirect_blob(h, entry, body, name, rest)

        resp = self._forward(h, body, h.command, target)
        blob_get = kind == "blobs" and h.command == "GET"
        self._relay(h, entry, resp, fault=fault,
                    mutation=mutation if blob_get and mutation in BLOB_MUTATIONS else None,
                    blob=blob_get, repo=name)

    def _serve_storage(self, h: _Handler, entry: Entry, body: _RequestBody) -> None:
        body.drain()
        parts = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(parts.query)
        if h.headers.get("Authorization") is not None:
            # What S3 and GCS answer to a presigned URL that also carries credentials.
            h.answer(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only "
                          b"the X-Amz-Algorithm query parameter, Signature query string parameter or the "
                          b"Authorization header should be specified</Message></Error>", [],
                     "application/xml")
        m = re.fullmatch(r"/storage/([a-f0-9]{64})", parts.path)
        repo = query.get("repo", [""])[0]
        if not m or not repo or h.command not in ("GET", "HEAD"):
            h.answer(404, b"<Error><Code>NoSuchKey</Code></Error>", [], "application/xml")
        fault = self._pick(self._applicable("storage", h.command, None, "", {}, body))
        if fault == "503":
            self._status_fault(h, entry, body, fault)
        resp = self._forward(h, body, h.command, f"/v2/{repo}/blobs/sha256:{m[1]}", host=self.backend_host)
        mutation = self.mutate.get(repo)
        self._relay(h, entry, resp, fault=fault, mutation=mutation if mutation in BLOB_MUTATIONS else None,
                    blob=h.command == "GET")

    def _redirect_blob(self, h: _Handler, entry: Entry, body: _RequestBody, name: str, d: str) -> None:
        resp = self._forward(h, body, "HEAD", h.path)
        resp.read()
        if resp.status != 200:
            self._relay(h, entry, resp)
        location = (f"http://{self.storage_host}/storage/{d[7:]}?repo={urllib.parse.quote(name, safe='')}"
                    f"&X-Amz-Expires=900&X-Amz-Signature={secrets.token_hex(16)}")
        h.answer(307, b"", [("Location", location), ("Docker-Content-Digest", d)])

    def _tags_page(self, h: _Handler, entry: Entry, body: _RequestBody, name: str, query: dict) -> None:
        resp = self._forward(h, body, "GET", f"/v2/{name}/tags/list")
        if resp.status != 200:
            self._relay(h, entry, resp)
        tags = sorted(json.loads(resp.read()).get("tags") or [])
        start = 0
        last = query.get("last", [None])[0]
        if last is not None:
            with self._lock:
                page = self._pages.get(last)
            if page is None or page[0] != name:
                h.answer(400, error_body("PAGINATION_NUMBER_INVALID", f"unknown pagination token {last!r}"))
            start = page[1]
        end = start + self.page_size
        headers = []
        if end < len(tags):
            # Opaque on purpose: characters a client must keep as they are, and nothing like a tag.
            token = "pg." + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode() + "~" + str(end)
            with self._lock:
                self._pages[token] = (name, end)
                self.page_tokens.append(token)
            headers.append(("Link", f'</v2/{name}/tags/list?n={self.page_size}&last={token}>; rel="next"'))
        h.answer(200, json.dumps({"name": name, "tags": tags[start:end]}).encode(), headers)

    def _mutated_manifest(self, h: _Handler, entry: Entry, body: _RequestBody, name: str, ref: str,
                          mutation: str) -> None:
        with self._lock:
            stored = self._mutated.get((name, ref))
        if stored is None:
            resp = self._forward(h, body, "GET", f"/v2/{name}/manifests/{ref}")
            if resp.status != 200:
                self._relay(h, entry, resp)
            original = resp.read()
            media_type = resp.getheader("Content-Type") or ""
            digest_header = resp.getheader("Docker-Content-Digest") or sha256(original)
            if mutation == "invalid_json":
                data = original[:len(original) // 2]
            elif mutation == "manifest_digest_mismatch":
                data = original.rstrip() + b"\n\n"
                if data == original:
                    data += b" "
            elif mutation == "oversized_manifest":
                data = original + b" " * max(self.oversize - len(original), 1)
                digest_header = sha256(data)
            else:  # unknown_media_type
                data = original.replace(media_type.split(";")[0].strip().encode(), b"application/x-unknown", 1)
                if data == original:
                    data = original.replace(b"{", b'{"mediaType":"application/x-unknown",', 1)
                media_type = "application/x-unknown"
                digest_header = sha256(data)
            if digest_header == sha256(data):
                with self._lock:
                    self._mutated[(name, digest_header)] = (data, media_type)
        else:
            data, media_type = stored
            digest_header = ref
        entry.fault = mutation
        h.send_response(200)
        h.send_header("Docker-Distribution-API-Version", "registry/2.0")
        h.send_header("Content-Type", media_type)
        h.send_header("Docker-Content-Digest", digest_header)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command == "GET":
            self._write(h, entry, data)
        raise _Done()

    # --- forwarding -------------------------------------------------------------------------------------------
    def _forward(self, h: _Handler, body: _RequestBody, method: str, target: str,
                 host: str | None = None) -> http.client.HTTPResponse:
        """Send the request to the backend, streaming the client's body if there is one (and it is a request
        that carries it on), and return the backend's response with its body unread."""
        send_body = method == h.command and body.non_empty and not body.finished
        for attempt in (1, 2):
            conn = h.backend()
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                # The client's Host, so the Location URLs docker-registry builds point at the front.
                conn.putheader("Host", host or h.headers.get("Host") or self.host)
                for k, v in h.headers.items():
                    if k.lower() in _HOP_BY_HOP or (k.lower() == "range" and method != "GET"):
                        continue
                    if not send_body and k.lower() in ("content-type", "content-range", "digest"):
                        continue
                    conn.putheader(k, v)
                if send_body and body.chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                elif send_body:
                    conn.putheader("Content-Length", str(body.length))
                elif method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", "0")
                conn.endheaders()
                if send_body:
                    for chunk in body.chunks():
                        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if body.chunked else chunk)
                    if body.chunked:
                        conn.send(b"0\r\n\r\n")
                return conn.getresponse()
            except (OSError, http.client.HTTPException):
                h.drop_backend()
                # A kept-alive backend connection may have been closed by the backend: retry once, if no
                # body was consumed.
                if attempt == 2 or send_body:
                    raise
        raise AssertionError("unreachable")

    def _relay(self, h: _Handler, entry: Entry, resp: http.client.HTTPResponse, *, fault: str | None = None,
               mutation: str | None = None, blob: bool = False, repo: str | None = None) -> None:
        """Send the backend's response to the client, with the fault or mutation applied."""
        status = resp.status
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
        if fault == "no_digest":
            entry.fault = fault
            headers = [(k, v) for k, v in headers if k.lower() != "docker-content-digest"]
        length_header = resp.getheader("Content-Length")
        bodiless = h.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if bodiless or length_header is None:
            data = resp.read()
            h.send_response(status)
            for k, v in headers:
                h.send_header(k, v)
            h.send_header("Content-Length", length_header if bodiless and length_header else str(len(data)))
            h.end_headers()
            if not bodiless:
                self._write(h, entry, data)
            raise _Done()

        length = int(length_header)
        start, total = 0, length
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", (resp.getheader("Content-Range") or "").strip())
        if status == 206 and m:
            start, total = int(m[1]), int(m[3])
        bad_blob = blob and status in (200, 206) and mutation is not None
        send_length = length
        if bad_blob and mutation == "wrong_content_length":
            send_length = length + self.length_delta
        elif bad_blob and mutation == "short_content_length":
            send_length = max(length - self.length_delta, length // 2)
        cut = None  # body bytes after which the connection ends
        if bad_blob and mutation == "truncated_blob":
            cut = length // 2
        if bad_blob:
            entry.fault = mutation
        if fault == "reset":
            if blob and status in (200, 206) and length >= self.reset_min:
                entry.fault = fault
                cut = self._rng_between(length // 4, 3 * length // 4)
            else:
                self._unpick(fault)
                fault = None
        if fault == "slow":
            entry.fault = fault
        drag = None
        if blob and repo and status in (200, 206) and cut is None and not bad_blob:
            drag = self._take_drag(repo, length)
        if drag:
            if fault is not None:
                self._unpick(fault)
            entry.fault = drag

        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(send_length))
        h.end_headers()

        if drag:
            self._drag(h, entry, resp, drag, length)
        flip_at = total // 2 - start if bad_blob and mutation == "blob_digest_mismatch" else None
        limit = min(send_length, length) if cut is None else cut
        sent = 0
        step = self.slow_chunk if fault == "slow" else 64 * 1024
        while sent < limit:
            chunk = resp.read(min(step, limit - sent))
            if not chunk:
                raise ConnectionError("the backend ended the body early")
            if flip_at is not None and sent <= flip_at < sent + len(chunk):
                i = flip_at - sent
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1:]
            self._write(h, entry, chunk)
            sent += len(chunk)
            if fault == "slow" and sent < limit:
                time.sleep(self.slow_delay)
        if cut is not None:
            if fault == "reset":
                h.reset()
            # truncated_blob: an orderly close (FIN) short of the announced length.
            h.close_connection = True
            h.drop_backend()
            raise _Done()
        if send_length > length:
            self._write(h, entry, b"\0" * (send_length - length))
        if sent < length:
            h.drop_backend()  # the rest of the backend's body is unread
        else:
            resp.read()  # b"": marks the response complete, so the backend connection can carry the next one
        raise _Done()

    def _take_drag(self, repo: str, length: int) -> str | None:
        """"stall" or "trickle" when this blob answer is to be one (and counts it), else None."""
        if length < self.drag_min:
            return None
        with self._lock:
            for kind, left in self.drag.items():
                n = left.get(repo, 0)
                if n != 0:
                    left[repo] = n - 1 if n > 0 else n
                    return kind
        return None

    def _drag(self, h: _Handler, entry: Entry, resp: http.client.HTTPResponse, kind: str, length: int) -> None:
        """Half the body at once, then a stall or a trickle; ends the connection unless the trickle got through."""
        sent = 0
        while sent < length // 2:
            chunk = resp.read(min(64 * 1024, length // 2 - sent))
            if not chunk:
                raise ConnectionError("the backend ended the body early")
            self._write(h, entry, chunk)
            sent += len(chunk)
        if kind == "trickle":
            while sent < length and not self._closing.wait(self.trickle_delay):
                chunk = resp.read(min(self.trickle_chunk, length - sent))
                if not chunk:
                    raise ConnectionError("the backend ended the body early")
                self._write(h, entry, chunk)  # raises once the client has closed the connection
                sent += len(chunk)
            if sent == length:
                resp.read()
                raise _Done()
        else:
            deadline = time.monotonic() + self.stall_seconds
            while time.monotonic() < deadline and not self._closing.is_set():
                readable, _, _ = select.select([h.connection], [], [], 0.1)
                if readable:  # the client closed the connection (it sends nothing else mid-response)
                    break
        h.close_connection = True
        h.drop_backend()
        raise _Done()

    def _rng_between(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, max(low, high))

    @staticmethod
    def _write(h: _Handler, entry: Entry, data: bytes) -> None:
        h.wfile.write(data)
        entry.bytes_out += len(data)


def storage_blob_digest(entry: Entry) -> str | None:
    """The blob digest a storage-listener request was for."""
    m = re.match(r"^/storage/([a-f0-9]{64})", entry.path)
    return "sha256:" + m[1] if m else None


def blob_digest(entry: Entry) -> str | None:
    """The blob digest of a registry blob request or a storage request."""
    m = re.match(r"^/v2/.+/blobs/(sha256:[a-f0-9]{64})$", entry.route)
    return m[1] if m else storage_blob_digest(entry)
