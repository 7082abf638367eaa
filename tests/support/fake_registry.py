"""A scripted, in-memory OCI distribution registry for protocol edge cases a real docker-registry cannot produce.

Standard library only. `FakeRegistry` is a context manager running a ThreadingHTTPServer on 127.0.0.1 with an
ephemeral port in a background thread. It speaks enough of the distribution spec for a client to pull and push
images (manifests by tag and digest, blobs, uploads by POST/PATCH/PUT, cross-repository mounts, paginated tag
lists, HEAD/GET/PUT/DELETE) and records every request it receives, headers included, for assertions.

Switches, all off by default:
  bearer=True              Docker token auth (token_auth.TokenService, shared with fault_front.py). /v2/ and
                           every unauthorised request answer 401 with
                           `WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="fake"` (plus
                           `scope=` and, for a valid token lacking it, `error="insufficient_scope"`). GET /token
                           takes Basic auth and `scope=` parameters; POST /token takes the OAuth2 form
                           (grant_type=refresh_token with `identity_token`, or grant_type=password). Tokens are
                           opaque, bound to the granted scopes, and expire after `expires_in` seconds. Pull is
                           needed for GET/HEAD, push for writes; a mount also needs pull on `from`, else it falls
                           back to a plain upload session (202), as docker-registry does.
  users={name: password}   accounts for the token endpoint; without any, anyone gets a token.
  basic=True               HTTP Basic auth instead (not with bearer): /v2/ and every request without a valid
                           `Authorization: Basic` for one of `users` answer 401 with
                           `WWW-Authenticate: Basic realm="fake"`; `allow` refusing an action answers 403 DENIED.
  echo_auth=True           a registry (or proxy) that echoes credentials, as some do: every answer to a request
                           that carried Authorization also carries `X-Echo: <that header>`, and every error body
                           (JSON) says `denied for [<that header>] decoded [<user:password, or the token>]`, in
                           each `errors[].message` or else in `details`.
  identity_token="..."     refresh token accepted by the POST form (as the user `identity_user`).
  allow=f(user, repo, action) -> bool
                           restricts what the token endpoint grants (default: everything asked for).
  blob_redirect=True       blob GETs answer 307 to a second "storage" server that serves the bytes and answers
                           400 to any request carrying an Authorization header.
  page_size=N              tag lists come N per page with `Link: <...?n=N&last=OPAQUE>; rel="next"`; the token
                           is an opaque string, not a tag, and an unknown `last` is refused with 400.
  single_post=True         a `POST .../blobs/uploads/?digest=` with the blob as its body commits it (201), the
                           distribution-spec's single POST. Without it the body is ignored and a session opens
                           (202), as docker-registry 2.8 does.
  monolithic_refused=True  a blob PUT (or POST ?digest=) with a non-empty body is refused with 400 UNSUPPORTED;
                           data must come in PATCH chunks. chunk_min=N adds `OCI-Chunk-Min-Length: N` to upload
                           sessions and answers 416 when a chunk other than the last was shorter.
  reset_blob_once=True     the first GET of each blob sends the headers and half the body, then resets the
                           connection; `Range: bytes=N-` is always honoured with 206.
  reset_patch_once=True    the first PATCH of each upload session keeps half of its body and resets the connection
                           without answering; a GET on the session then reports that half in `Range`.
  no_digest_header=True    manifest HEAD/GET answers leave out Docker-Content-Digest.
  fail_first=K             the first K requests to /v2/<name>/... answer 503 with `Retry-After: retry_after`;
                           html_errors=True makes the body an HTML page (a proxy's), else an OCI error body.
  pull_limit=N             Docker Hub's pull limit: manifest GETs beyond N answer 429 TOOMANYREQUESTS with
                           `RateLimit-Remaining: 0;w=21600` and no Retry-After; HEADs are not counted.
                           pull_reset=S makes it the IETF draft's shape instead (`RateLimit-Remaining: 0`,
                           `RateLimit-Reset: <seconds left>`), and the quota resets S seconds after the first
                           refused pull (then N more pulls, and so on).
  check_references=True    (default) a manifest PUT whose blobs or child manifests are missing is refused, as
                           real registries do.
  referrers_api=True       the OCI 1.1 referrers API over what is stored: GET /v2/<name>/referrers/<digest>
                           answers an image index of the manifests whose `subject` is that digest (empty when
                           none; artifactType, else the config's media type; their annotations), and a manifest
                           PUT with a `subject` answers `OCI-Subject: <its digest>`. Without it that route is
                           404, as on docker-registry. referrers_page_size=N pages the answer N at a time with
                           `Link: <...?n=N&last=OPAQUE>; rel="next"`. referrers_filter (an attribute, may change
                           between runs) says what `?artifactType=` does: "applied" (default: filtered, with
                           `OCI-Filters-Applied: artifactType`), "ignored" (every referrer, no header) or
                           "unannounced" (filtered, no header).

Content can be put in place without HTTP (and without auth): `add_blob`, `add_manifest`, or `client()`, an
object with the methods of seed.Client that the seed.push_* helpers use.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable, NamedTuple

from loopback_http import LoopbackHandler
from seed import Descriptor  # the same shape, so seed.push_* helpers work with FakeRegistry.client()
from token_auth import Denied, TokenService, parse_scopes  # noqa: F401 - parse_scopes is re-exported
from token_auth import error_body as _error_body

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REFERRERS_FILTER_MODES = ("applied", "ignored", "unannounced")
SERVICE = "fake"

_ROUTE = re.compile(r"^/v2/(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
                    r"/(?P<kind>manifests|blobs/uploads|blobs|tags|referrers)/(?P<rest>.*)$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")

_HTML_503 = (b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
             b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
             b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def manifest_digest(body: bytes) -> str:
    """The digest a registry names a manifest by: of its bytes, but of the payload without the signatures for
    a signed Docker schema 1 manifest (libtrust's formatLength and formatTail, as docker-registry computes)."""
    try:
        doc = json.loads(body)
        protected = json.loads(_b64url(doc["signatures"][0]["protected"]))
        if doc.get("schemaVersion") == 1:
            return sha256(body[:protected["formatLength"]] + _b64url(protected["formatTail"]))
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    return sha256(body)


@dataclass
class LoggedRequest:
    """One request as the fake saw it. `path` is the request target with its query string; `status` is the
    status the fake answered (set before the first response byte is sent); `body` is kept when small."""

    server: str  # "registry" or "storage"
    method: str
    path: str
    headers: list[tuple[str, str]]
    status: int = 0
    body_size: int = 0
    body: bytes | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)

    @property
    def form(self) -> dict[str, list[str]]:
        """The body parsed as application/x-www-form-urlencoded (token POSTs)."""
        return urllib.parse.parse_qs((self.body or b"").decode(errors="replace"), keep_blank_values=True)

    def __str__(self) -> str:
        auth = self.header("Authorization")
        extra = f" [Authorization: {auth.split(' ')[0]} ...]" if auth else ""
        rng = self.header("Range") or self.header("Content-Range")
        extra += f" [range {rng}]" if rng else ""
        return f"{self.server}: {self.method} {self.path} -> {self.status} ({self.body_size} B in){extra}"


@dataclass
class _Upload:
    repo: str
    data: bytearray = field(default_factory=bytearray)
    chunks: list[int] = field(default_factory=list)  # sizes of the PATCH chunks received so far
    broken: bool = False  # reset_patch_once already broke a PATCH of this session


class _Done(Exception):
    """Raised after a handler wrote its answer itself: nothing more to send."""


class _Response(Exception):
    """Raised inside a handler to answer with this status, headers and body."""

    def __init__(self, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = (),
                 content_type: str = "application/json"):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = list(headers)
        self.content_type = content_type if body else None


def _echoed(body: bytes, authorization: str) -> bytes:
    """An error body that quotes the request's Authorization header and what it decodes to (echo_auth)."""
    scheme, _, value = authorization.partition(" ")
    decoded = value
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            pass
    echo = f"denied for [{authorization}] decoded [{decoded}]"
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        return body + b" " + echo.encode()
    if not isinstance(doc, dict):
        return body
    if isinstance(doc.get("errors"), list) and doc["errors"]:
        for e in doc["errors"]:
            if isinstance(e, dict):
                e["message"] = f"{e.get('message', '')}: {echo}"
    else:
        doc["details"] = echo
    return json.dumps(doc).encode()


class _Handler(LoopbackHandler):
    server_version = "fake-registry/1"

    # --- plumbing ----------------------------------------------------------------------------------------
    @property
    def fake(self) -> "FakeRegistry":
        return self.server.fake  # type: ignore[attr-defined]

    def tls_probe(self) -> None:
        with self.fake._lock:
            self.fake.tls_probes += 1

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = (),
              content_type: str | None = "application/json", head: bool = False,
              length: int | None = None) -> None:
        auth = self.headers.get("Authorization")
        if self.fake.echo_auth and auth:
            headers = [*headers, ("X-Echo", auth)]
            if status >= 400 and length is None:
                body = _echoed(body, auth)
        self.send_response(status)
        self.send_header(*API_VERSION_HEADER)
        if body and content_type:
            self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _dispatch(self) -> None:
        entry = LoggedRequest(self.server.role, self.command, self.path,  # type: ignore[attr-defined]
                              list(self.headers.items()))
        self._entry = entry
        self.fake._log(entry)
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        entry.body_size = len(body)
        if len(body) <= 64 * 1024:
            entry.body = body
        try:
            if self.server.role == "storage":  # type: ignore[attr-defined]
                self.fake._handle_storage(self, body)
            else:
                self.fake._handle(self, body)
        except _Done:
            pass
        except _Response as r:
            self._send(r.status, r.body, r.headers, r.content_type, head=self.command == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _dispatch


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, fake: "FakeRegistry", role: str):
        self.fake = fake
        self.role = role
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that drops a connection mid-request is part of what these tests do


class FakeRegistry:
    def __init__(self, *, bearer: bool = False, users: dict[str, str] | None = None,
                 identity_token: str | None = None, identity_user: str = "<token>",
                 allow: Callable[[str, str, str], bool] | None = None, expires_in: int = 300,
                 blob_redirect: bool = False, page_size: int | None = None,
                 monolithic_refused: bool = False, chunk_min: int = 0, reset_blob_once: bool = False,
                 reset_patch_once: bool = False, single_post: bool = False,
                 no_digest_header: bool = False, html_errors: bool = False, fail_first: int = 0,
                 retry_after: str = "1", check_references: bool = True, pull_limit: int | None = None,
                 basic: bool = False, echo_auth: bool = False, pull_reset: int | None = None,
                 referrers_api: bool = False, referrers_page_size: int | None = None,
                 referrers_filter: str = "applied"):
        if basic and bearer:
            raise ValueError("basic and bearer are exclusive")
        if referrers_filter not in REFERRERS_FILTER_MODES:
            raise ValueError(f"referrers_filter must be one of {REFERRERS_FILTER_MODES}, not {referrers_filter!r}")
        self.bearer = bearer
        self.basic = basic
        self.echo_auth = echo_auth
        self.users = dict(users or {})
        self.identity_token = identity_token
        self.identity_user = identity_user
        self.allow = allow
        self.expires_in = expires_in
        self.blob_redirect = blob_redirect
        self.page_size = page_size
        self.monolithic_refused = monolithic_refused
        self.single_post = single_post
        self.chunk_min = chunk_min
        self.reset_blob_once = reset_blob_once
        self.reset_patch_once = reset_patch_once
        self.patch_resets = 0
        self.no_digest_header = no_digest_header
        self.html_errors = html_errors
        self.fail_first = fail_first
        self.retry_after = retry_after
        self.check_references = check_references
        self.pull_limit = pull_limit
        self.pull_reset = pull_reset
        self._pulls = 0
        self._quota_resets: float | None = None  # when the used-up quota resets (pull_reset)
        self.referrers_api = referrers_api
        self.referrers_page_size = referrers_page_size
        self.referrers_filter = referrers_filter

        self._lock = threading.RLock()
        self._log_entries: list[LoggedRequest] = []
        self._blobs: dict[str, bytes] = {}
        self._repo_blobs: dict[str, set[str]] = {}
        self._manifests: dict[str, dict[str, tuple[bytes, str]]] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._uploads: dict[str, _Upload] = {}
        self._pages: dict[str, tuple[str, int]] = {}
        self._referrer_pages: dict[str, tuple[str, str, str | None, int]] = {}  # token -> name, digest, type, start
        self._blob_gets: dict[str, int] = {}
        self._failed = 0
        self.auth = TokenService(service=SERVICE, users=users, identity_token=identity_token,
                                 identity_user=identity_user, allow=allow, expires_in=expires_in)
        self.page_tokens: list[str] = []
        self.tls_probes = 0

        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self.port: int | None = None
        self.storage_port: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> "FakeRegistry":
        try:
            self.port = self._start("registry")
            self.auth.realm = self.realm
            if self.blob_redirect:
                self.storage_port = self._start("storage")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def _start(self, role: str) -> int:
        server = _Server(self, role)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"fake-registry-{role}", daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        return server.server_address[1]

    # --- addresses ---------------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage_host(self) -> str:
        return f"127.0.0.1:{self.storage_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def ref(self, repo: str, tag_or_digest: str) -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"

    # --- request log -------------------------------------------------------------------------------------
    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log_entries.append(entry)

    def requests(self, server: str | None = None, method: str | None = None,
                 path_regex: str | None = None) -> list[LoggedRequest]:
        """Logged requests in arrival order, optionally filtered (path_regex is re.search on path + query)."""
        pattern = re.compile(path_regex) if path_regex else None
        with self._lock:
            entries = list(self._log_entries)
        return [e for e in entries if (server is None or e.server == server)
                and (method is None or e.method == method) and (pattern is None or pattern.search(e.path))]

    def count(self, method: str, path_regex: str) -> int:
        """How many logged requests to the registry have `method` and a path (with query) matching `path_regex`
        (re.search); the same call as harness.Registry.count, so a test can count on either."""
        return len(self.requests(server="registry", method=method, path_regex=path_regex))

    def token_requests(self) -> list[LoggedRequest]:
        return self.requests(server="registry", path_regex=r"^/token(\?|$)")

    @staticmethod
    def requested_scopes(entry: LoggedRequest) -> set[tuple[str, str, str]]:
        """The (type, name, action) scopes a token request asked for, GET query or POST form alike."""
        values = entry.query.get("scope", []) + (entry.form.get("scope", []) if entry.method == "POST" else [])
        return parse_scopes(values)

    def clear_log(self) -> None:
        with self._lock:
            self._log_entries.clear()

    def log_text(self, last: int = 60) -> str:
        """The tail of the log, one request a line, for assertion messages."""
        return "\n".join(str(e) for e in self.requests()[-last:])

    # --- content without HTTP ----------------------------------------------------------------------------
    def add_blob(self, repo: str, data: bytes) -> str:
        d = sha256(data)
        with self._lock:
            self._blobs[d] = bytes(data)
            self._repo_blobs.setdefault(repo, set()).add(d)
        return d

    def add_manifest(self, repo: str, body: bytes, media_type: str, tags: Iterable[str] = ()) -> str:
        d = manifest_digest(body)
        with self._lock:
            self._manifests.setdefault(repo, {})[d] = (bytes(body), media_type)
            for tag in tags:
                self._tags.setdefault(repo, {})[tag] = d
        return d

    def client(self) -> "DirectClient":
        return DirectClient(self)

    def blob(self, repo: str, digest: str) -> bytes | None:
        with self._lock:
            if digest not in self._repo_blobs.get(repo, ()):
                return None
            return self._blobs.get(digest)

    def manifest(self, repo: str, ref: str) -> tuple[bytes, str] | None:
        """(bytes, media type) of a manifest by tag or digest, or None."""
        with self._lock:
            d = ref if _DIGEST.match(ref) else self._tags.get(repo, {}).get(ref)
            return self._manifests.get(repo, {}).get(d) if d else None

    def tags(self, repo: str) -> list[str]:
        with self._lock:
            return sorted(self._tags.get(repo, {}))

    def referrers(self, repo: str, subject: str, artifact_type: str | None = None) -> list[dict]:
        """Descriptors of the stored manifests of `repo` whose `subject` is `subject`, in the order they were
        stored, as the referrers API lists them (OCI distribution-spec "Listing Referrers"): artifactType, else
        the config's media type, and the manifest's annotations."""
        with self._lock:
            stored = list(self._manifests.get(repo, {}).items())
        result = []
        for d, (raw, media_type) in stored:
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("subject"), dict):
                continue
            if doc["subject"].get("digest") != subject:
                continue
            desc = {"mediaType": media_type, "digest": d, "size": len(raw)}
            kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
            if kind:
                desc["artifactType"] = kind
            if isinstance(doc.get("annotations"), dict) and doc["annotations"]:
                desc["annotations"] = doc["annotations"]
            if artifact_type is None or desc.get("artifactType") == artifact_type:
                result.append(desc)
        return result

    def verify_tree(self, repo: str, digest: str) -> list[str]:
        """Problems with the stored image `digest` in `repo` (missing or corrupt children); [] when complete."""
        problems: list[str] = []

        def walk(d: str) -> None:
            found = self.manifest(repo, d)
            if found is None:
                problems.append(f"manifest {repo}@{d} missing")
                return
            raw, _ = found
            if manifest_digest(raw) != d:
                problems.append(f"manifest {repo}@{d} hashes to {manifest_digest(raw)}")
                return
            doc = json.loads(raw)
            for m in doc.get("manifests", []):
                walk(m["digest"])
            for b in ([doc["config"]] if "config" in doc else []) + doc.get("layers", []):
                data = self.blob(repo, b["digest"])
                if data is None:
                    problems.append(f"blob {repo}@{b['digest']} missing")
                elif sha256(data) != b["digest"] or len(data) != b["size"]:
                    problems.append(f"blob {repo}@{b['digest']} corrupt ({sha256(data)}, {len(data)} B)")

        walk(digest)
        return problems

    # --- auth (token_auth.TokenService) ------------------------------------------------------------------
    @property
    def issued_tokens(self) -> list[str]:
        return self.auth.issued_tokens

    def _authorize(self, h: _Handler, needed: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Raise a 401 unless the request's bearer token grants every scope in `needed`; return its grants."""
        if self.basic:
            return self._authorize_basic(h, needed)
        if not self.bearer:
            return {("*", "*", "*")}
        try:
            return self.auth.authorize(h.headers.get("Authorization"), needed)
        except Denied as d:
            raise _Response(d.status, d.body, d.headers)

    def _authorize_basic(self, h: _Handler, needed: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        user = self.auth.basic_user(h.headers.get("Authorization"))
        if not user:
            raise _Response(401, _error_body("UNAUTHORIZED", "authentication required"),
                            [("WWW-Authenticate", f'Basic realm="{SERVICE}"')])
        for kind, name, action in needed:
            if self.allow is not None and not self.allow(user, name, action):
                raise _Response(403, _error_body("DENIED", f"requested access to {name} is denied"))
        return {("*", "*", "*")}

    def _token(self, h: _Handler, body: bytes) -> None:
        status, answer, headers = self.auth.issue(h.command, h.path, h.headers.get("Authorization"), body)
        raise _Response(status, answer, headers)

    # --- registry ----------------------------------------------------------------------------------------
    def _handle(self, h: _Handler, body: bytes) -> None:
        parts = urllib.parse.urlsplit(h.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        if path == "/token":
            if not self.bearer:
                raise _Response(404, _error_body("NOT_FOUND", "no token service"))
            self._token(h, body)
        if path == "/v2/" or path == "/v2":
            self._authorize(h, [])
            raise _Response(200, b"{}")
        m = _ROUTE.match(path)
        if not m:
            if path == "/v2/_catalog":
                self._authorize(h, [("registry", "catalog", "*")])
                with self._lock:
                    names = sorted(set(self._manifests) | set(self._repo_blobs))
                raise _Response(200, json.dumps({"repositories": names}).encode())
            raise _Response(404, _error_body("NOT_FOUND", f"no route for {path}"))
        name, kind, rest = m["name"], m["kind"], m["rest"]
        with self._lock:
            failing = self._failed < self.fail_first
            if failing:
                self._failed += 1
        if failing:
            if self.html_errors:
                raise _Response(503, _HTML_503, [("Retry-After", self.retry_after)], "text/html")
            raise _Response(503, _error_body("UNAVAILABLE", "try again later"), [("Retry-After", self.retry_after)])
        write = h.command not in ("GET", "HEAD")
        if kind == "manifests" and h.command == "GET" and self.pull_limit is not None:
            with self._lock:
                now = time.monotonic()
                if self._quota_resets is not None and now >= self._quota_resets:
                    self._pulls, self._quota_resets = 0, None
                exhausted = self._pulls >= self.pull_limit
                self._pulls += 0 if exhausted else 1
                if exhausted and self.pull_reset is not None and self._quota_resets is None:
                    self._quota_resets = now + self.pull_reset
                left = None if self._quota_resets is None else max(0, int(self._quota_resets - now + 0.999))
            if exhausted:
                limits = ([("RateLimit-Limit", f"{self.pull_limit};w=21600"), ("RateLimit-Remaining", "0"),
                           ("RateLimit-Reset", str(left))] if left is not None else
                          [("RateLimit-Limit", f"{self.pull_limit};w=21600"), ("RateLimit-Remaining", "0;w=21600")])
                raise _Response(429, _error_body("TOOMANYREQUESTS", "You have reached your pull rate limit."), limits)
        if kind == "manifests":
            self._authorize(h, [("repository", name, "pull")] + ([("repository", name, "push")] if write else []))
            self._manifest(h, name, rest, body)
        elif kind == "blobs/uploads":
            self._authorize(h, [("repository", name, "pull"), ("repository", name, "push")])
            self._upload(h, name, rest, query, body)
        elif kind == "blobs":
            self._authorize(h, [("repository", name, "pull")] + ([("repository", name, "push")] if write else []))
            self._blob(h, name, rest)
        elif kind == "tags" and rest == "list" and h.command in ("GET", "HEAD"):
            self._authorize(h, [("repository", name, "pull")])
            self._tag_list(h, name, query)
        elif kind == "referrers" and self.referrers_api and h.command in ("GET", "HEAD"):
            self._authorize(h, [("repository", name, "pull")])
            self._referrers_list(h, name, urllib.parse.unquote(rest), query)
        raise _Response(404, _error_body("NOT_FOUND", f"no route for {h.command} {path}"))

    def _manifest(self, h: _Handler, name: str, ref: str, body: bytes) -> None:
        if not (_DIGEST.match(ref) or _TAG.match(ref)):
            raise _Response(400, _error_body("MANIFEST_INVALID", f"bad reference {ref!r}"))
        if h.command in ("GET", "HEAD"):
            found = self.manifest(name, ref)
            if found is None:
                raise _Response(404, _error_body("MANIFEST_UNKNOWN", f"manifest {name}:{ref} unknown"))
            raw, media_type = found
            headers = [] if self.no_digest_header else [("Docker-Content-Digest", manifest_digest(raw))]
            h._send(200, raw, headers, media_type, head=h.command == "HEAD")
            raise _Done()
        if h.command == "PUT":
            media_type = (h.headers.get("Content-Type") or "").split(";")[0].strip()
            try:
                doc = json.loads(body)
            except ValueError:
                raise _Response(400, _error_body("MANIFEST_INVALID", "not JSON"))
            if not isinstance(doc, dict):
                raise _Response(400, _error_body("MANIFEST_INVALID", "not a JSON object"))
            media_type = media_type or doc.get("mediaType", "")
            d = manifest_digest(body)
            if _DIGEST.match(ref) and ref != d:
                raise _Response(400, _error_body("DIGEST_INVALID", f"body hashes to {d}, not {ref}"))
            if self.check_references:
                self._check_references(name, doc)
            self.add_manifest(name, body, media_type, [] if _DIGEST.match(ref) else [ref])
            headers = [("Location", f"/v2/{name}/manifests/{d}"), ("Docker-Content-Digest", d)]
            subject = doc.get("subject")
            if self.referrers_api and isinstance(subject, dict) and isinstance(subject.get("digest"), str):
                # distribution-spec "Pushing Manifests with Subject": the registry indexed it itself.
                headers.append(("OCI-Subject", subject["digest"]))
            raise _Response(201, b"", headers)
        if h.command == "DELETE":
            with self._lock:
                if _DIGEST.match(ref):
                    if self._manifests.get(name, {}).pop(ref, None) is None:
                        raise _Response(404, _error_body("MANIFEST_UNKNOWN", ref))
                    tags = self._tags.get(name, {})
                    for t in [t for t, d in tags.items() if d == ref]:
                        del tags[t]
                elif self._tags.get(name, {}).pop(ref, None) is None:
                    raise _Response(404, _error_body("MANIFEST_UNKNOWN", ref))
            raise _Response(202)
        raise _Response(405, _error_body("UNSUPPORTED", h.command))

    def _check_references(self, name: str, doc: dict) -> None:
        with self._lock:
            blobs = self._repo_blobs.get(name, set())
            manifests = self._manifests.get(name, {})
            for child in doc.get("manifests", []):
                if child.get("digest") not in manifests:
                    raise _Response(400, _error_body("MANIFEST_BLOB_UNKNOWN", "child manifest unknown",
                                                     {"digest": child.get("digest")}))
            for b in ([doc["config"]] if isinstance(doc.get("config"), dict) else []) + doc.get("layers", []):
                if b.get("urls"):
                    continue  # foreign layers live elsewhere
                if b.get("digest") not in blobs:
                    raise _Response(400, _error_body("MANIFEST_BLOB_UNKNOWN", "blob unknown",
                                                     {"digest": b.get("digest")}))

    def _blob(self, h: _Handler, name: str, d: str) -> None:
        if not _DIGEST.match(d):
            raise _Response(400, _error_body("DIGEST_INVALID", d))
        data = self.blob(name, d)
        if h.command == "DELETE":
            with self._lock:
                self._repo_blobs.get(name, set()).discard(d)
            raise _Response(202 if data is not None else 404)
        if data is None:
            raise _Response(404, _error_body("BLOB_UNKNOWN", f"blob {d} unknown to {name}"))
        if h.command == "GET" and self.blob_redirect:
            location = f"http://{self.storage_host}/storage/{d[7:]}?X-Fake-Signature={secrets.token_hex(8)}"
            raise _Response(307, b"", [("Location", location), ("Docker-Content-Digest", d)])
        self._serve_bytes(h, d, data)

    def _handle_storage(self, h: _Handler, body: bytes) -> None:
        m = re.match(r"^/storage/([a-f0-9]{64})(\?|$)", h.path)
        if h.headers.get("Authorization") is not None:
            # What S3 and GCS answer to a presigned URL that also carries credentials.
            raise _Response(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                                 b"</Message></Error>", content_type="application/xml")
        if not m or h.command not in ("GET", "HEAD"):
            raise _Response(404, b"<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml")
        d = "sha256:" + m[1]
        with self._lock:
            data = self._blobs.get(d)
        if data is None:
            raise _Response(404, b"<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml")
        self._serve_bytes(h, d, data)

    def _serve_bytes(self, h: _Handler, d: str, data: bytes) -> None:
        """Answer a blob GET/HEAD: 206 for `Range: bytes=N-[M]`, and the one broken answer when asked to."""
        headers = [("Docker-Content-Digest", d), ("Accept-Ranges", "bytes"), ("ETag", f'"{d}"')]
        rng = h.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not m:
                raise _Response(416, b"", [("Content-Range", f"bytes */{len(data)}")])
            start = int(m[1])
            end = min(int(m[2]), len(data) - 1) if m[2] else len(data) - 1
            if start >= len(data) or end < start:
                raise _Response(416, b"", [("Content-Range", f"bytes */{len(data)}")])
            h._send(206, data[start:end + 1], headers + [("Content-Range", f"bytes {start}-{end}/{len(data)}")],
                    "application/octet-stream", head=h.command == "HEAD")
            raise _Done()
        if h.command == "GET" and self.reset_blob_once:
            with self._lock:
                count = self._blob_gets.get(d, 0)
                self._blob_gets[d] = count + 1
            if count == 0 and len(data) >= 2:
                self._send_half_then_reset(h, data, headers)
                raise _Done()
        h._send(200, data, headers, "application/octet-stream", head=h.command == "HEAD")
        raise _Done()

    @staticmethod
    def _send_half_then_reset(h: _Handler, data: bytes, headers: list[tuple[str, str]]) -> None:
        h.send_response(200)
        h.send_header(*API_VERSION_HEADER)
        h.send_header("Content-Type", "application/octet-stream")
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            h.wfile.write(data[:len(data) // 2])
            h.wfile.flush()
            time.sleep(0.05)  # let the half leave the send buffer: a reset discards what is still queued
        except OSError:
            pass
        h.reset_on_close()

    def _tag_list(self, h: _Handler, name: str, query: dict[str, list[str]]) -> None:
        with self._lock:
            known = name in self._manifests
        tags = self.tags(name)
        if not tags and not known:
            raise _Response(404, _error_body("NAME_UNKNOWN", f"repository {name} unknown"))
        start = 0
        headers = []
        if self.page_size:
            last = query.get("last", [None])[0]
            if last is not None:
                with self._lock:
                    page = self._pages.get(last)
                if page is None or page[0] != name:
                    raise _Response(400, _error_body("PAGINATION_NUMBER_INVALID",
                                                     f"unknown pagination token {last!r}"))
                start = page[1]
            end = start + self.page_size
            if end < len(tags):
                # Opaque on purpose: characters a client must keep as they are, and nothing like a tag.
                token = "pg." + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode() + "~" + str(end)
                with self._lock:
                    self._pages[token] = (name, end)
                    self.page_tokens.append(token)
                headers.append(("Link", f'</v2/{name}/tags/list?n={self.page_size}&last={token}>; rel="next"'))
            page_tags = tags[start:end]
        else:
            page_tags = tags
        raise _Response(200, json.dumps({"name": name, "tags": page_tags}).encode(), headers)

    def _referrers_list(self, h: _Handler, name: str, subject: str, query: dict[str, list[str]]) -> None:
        if not _DIGEST.match(subject):
            raise _Response(400, _error_body("DIGEST_INVALID", f"bad digest {subject!r}"))
        artifact_type = query.get("artifactType", [None])[0]
        mode = self.referrers_filter
        start = 0
        last = query.get("last", [None])[0]
        if last is not None:
            with self._lock:
                page = self._referrer_pages.get(last)
            if page is None or page[:3] != (name, subject, artifact_type):
                raise _Response(400, _error_body("PAGINATION_NUMBER_INVALID", f"unknown pagination token {last!r}"))
            start = page[3]
        found = self.referrers(name, subject, artifact_type if mode != "ignored" else None)
        headers = []
        if artifact_type is not None and mode == "applied":
            headers.append(("OCI-Filters-Applied", "artifactType"))
        end = len(found)
        if self.referrers_page_size:
            end = min(start + self.referrers_page_size, len(found))
            if end < len(found):
                token = "rf." + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode() + "~" + str(end)
                with self._lock:
                    self._referrer_pages[token] = (name, subject, artifact_type, end)
                link = f"/v2/{name}/referrers/{subject}?n={self.referrers_page_size}&last={token}"
                if artifact_type is not None:
                    link += "&artifactType=" + urllib.parse.quote(artifact_type, safe="")
                headers.append(("Link", f'<{link}>; rel="next"'))
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found[start:end]}
        raise _Response(200, json.dumps(index).encode(), headers, OCI_INDEX)

    # --- uploads -----------------------------------------------------------------------------------------
    def _new_session(self, name: str) -> None:
        upload_id = str(uuid.uuid4())
        with self._lock:
            self._uploads[upload_id] = _Upload(name)
        headers = [("Location", f"/v2/{name}/blobs/uploads/{upload_id}?_state={secrets.token_urlsafe(12)}"),
                   ("Docker-Upload-UUID", upload_id), ("Range", "0-0")]
        if self.chunk_min:
            headers.append(("OCI-Chunk-Min-Length", str(self.chunk_min)))
        raise _Response(202, b"", headers)

    def _commit(self, name: str, d: str, data: bytes) -> None:
        if not _DIGEST.match(d):
            raise _Response(400, _error_body("DIGEST_INVALID", f"bad digest {d!r}"))
        if sha256(data) != d:
            raise _Response(400, _error_body("DIGEST_INVALID", f"content hashes to {sha256(data)}, not {d}"))
        self.add_blob(name, data)
        raise _Response(201, b"", [("Location", f"/v2/{name}/blobs/{d}"), ("Docker-Content-Digest", d)])

    def _upload(self, h: _Handler, name: str, rest: str, query: dict[str, list[str]], body: bytes) -> None:
        if rest == "":
            if h.command != "POST":
                raise _Response(405, _error_body("UNSUPPORTED", h.command))
            mount, source = query.get("mount", [None])[0], query.get("from", [None])[0]
            if mount and source:
                # distribution-spec "Mounting a blob from another repository": without pull on `from` (or
                # without the blob there) the registry opens an ordinary session instead.
                grants = self._authorize_soft(h, ("repository", source, "pull"))
                if grants and self.blob(source, mount) is not None:
                    self.add_blob(name, self._blobs[mount])
                    raise _Response(201, b"", [("Location", f"/v2/{name}/blobs/{mount}"),
                                               ("Docker-Content-Digest", mount)])
                self._new_session(name)
            d = query.get("digest", [None])[0]
            if d is not None:
                if self.monolithic_refused and body:
                    raise _Response(400, _error_body("UNSUPPORTED", "monolithic uploads are not supported; "
                                                                    "send the blob in PATCH chunks"))
                if self.single_post or not body:
                    self._commit(name, d, body)
            self._new_session(name)
        upload_id = rest.split("/")[0]
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None or upload.repo != name:
            raise _Response(404, _error_body("BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} unknown"))
        location = f"/v2/{name}/blobs/uploads/{upload_id}?_state={secrets.token_urlsafe(12)}"
        if h.command == "GET":
            raise _Response(204, b"", [("Location", location), ("Range", f"0-{max(len(upload.data) - 1, 0)}"),
                                       ("Docker-Upload-UUID", upload_id)])
        if h.command == "DELETE":
            with self._lock:
                self._uploads.pop(upload_id, None)
            raise _Response(204)
        if h.command == "PATCH":
            content_range = h.headers.get("Content-Range")
            with self._lock:
                if content_range:
                    m = re.fullmatch(r"(?:bytes )?(\d+)-(\d+)", content_range.strip())
                    if not m or int(m[1]) != len(upload.data) or int(m[2]) - int(m[1]) + 1 != len(body):
                        raise _Response(416, _error_body("BLOB_UPLOAD_INVALID", f"bad Content-Range "
                                                         f"{content_range!r} at offset {len(upload.data)} "
                                                         f"for {len(body)} bytes"),
                                        [("Location", location), ("Range", f"0-{max(len(upload.data) - 1, 0)}")])
                if self.chunk_min and upload.chunks and upload.chunks[-1] < self.chunk_min:
                    # Only now is it known that the short chunk was not the last one.
                    raise _Response(416, _error_body("BLOB_UPLOAD_INVALID", f"chunk of {upload.chunks[-1]} bytes "
                                                     f"is below OCI-Chunk-Min-Length {self.chunk_min}"),
                                    [("Location", location), ("Range", f"0-{max(len(upload.data) - 1, 0)}")])
                if self.reset_patch_once and not upload.broken and len(body) >= 2:
                    # Keep what "arrived" before the connection died, as a registry that writes a PATCH
                    # body as it streams in does; the session's Range then tells the client where to go on.
                    upload.broken = True
                    upload.data += body[:len(body) // 2]
                    upload.chunks.append(len(body) // 2)
                    self.patch_resets += 1
                    h.reset_on_close()
                    raise _Done()
                upload.data += body
                upload.chunks.append(len(body))
                end = len(upload.data) - 1
            raise _Response(202, b"", [("Location", location), ("Range", f"0-{max(end, 0)}"),
                                       ("Docker-Upload-UUID", upload_id)])
        if h.command == "PUT":
            if self.monolithic_refused and body:
                raise _Response(400, _error_body("UNSUPPORTED", "monolithic uploads are not supported; "
                                                                "send the blob in PATCH chunks"))
            d = query.get("digest", [None])[0]
            if d is None:
                raise _Response(400, _error_body("DIGEST_INVALID", "PUT without ?digest="))
            with self._lock:
                data = bytes(upload.data) + body
                self._uploads.pop(upload_id, None)
            self._commit(name, d, data)
        raise _Response(405, _error_body("UNSUPPORTED", h.command))

    def _authorize_soft(self, h: _Handler, scope: tuple[str, str, str]) -> bool:
        try:
            grants = self._authorize(h, [])
        except _Response:
            return False
        return ("*", "*", "*") in grants or scope in grants


class DirectClient:
    """Puts content straight into a FakeRegistry, with the methods of seed.Client the seed.push_* helpers use."""

    def __init__(self, fake: FakeRegistry):
        self.fake = fake

    def blob_exists(self, repo: str, digest: str) -> bool:
        return self.fake.blob(repo, digest) is not None

    def push_blob(self, repo: str, data: bytes, media_type: str = "application/octet-stream") -> Descriptor:
        return Descriptor(media_type, self.fake.add_blob(repo, data), len(data))

    def push_blob_stream(self, repo: str, chunks: Callable[[], Iterable[bytes]],
                         media_type: str = "application/octet-stream") -> Descriptor:
        return self.push_blob(repo, b"".join(chunks()), media_type)

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> Descriptor:
        tags = [] if _DIGEST.match(reference) else [reference]
        return Descriptor(media_type, self.fake.add_manifest(repo, body, media_type, tags), len(body))

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str
                     ) -> tuple[Descriptor, dict[str, str]]:
        """push_manifest and the headers the HTTP PUT would have answered that matter here (`OCI-Subject`)."""
        headers = {}
        subject = json.loads(body).get("subject")
        if self.fake.referrers_api and isinstance(subject, dict):
            headers["OCI-Subject"] = subject["digest"]
        return self.push_manifest(repo, reference, body, media_type), headers

    def get_manifest(self, repo: str, reference: str, accept: str = OCI_INDEX) -> tuple[bytes, str] | None:
        return self.fake.manifest(repo, reference)
