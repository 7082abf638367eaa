"""Integration-test support: real registry and proxy processes on loopback, and independent clients.

Everything here uses the Python standard library plus the Debian packages installed by scripts/install-deps
(docker-registry, skopeo, apache2-utils, tinyproxy, openssl). No test ever uses port 5000: installing
docker-registry on Debian starts a system registry there, so every process below listens on an ephemeral port.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid
from typing import NamedTuple

STARTUP_TIMEOUT = 10.0
START_ATTEMPTS = 3


def sha256(data: bytes) -> str:
    """Digest string of `data` in the form used by the distribution spec."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    """A port that was free a moment ago. Racy by nature, hence the retries in the process starters."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(path: str, limit: int = 20000) -> str:
    try:
        with open(path, "r", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    return text[-limit:]


def _stop_process(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Request(NamedTuple):
    """One line of an access log: `path` is the request target including the query string."""

    method: str
    path: str
    status: int


# docker-registry 2.8 writes its access log (gorilla/handlers "combined" format) to STDOUT, one line per
# request, after the handler returns; its application log (logrus) goes to stderr. Example:
#   127.0.0.1 - - [30/Nov/2026:06:12:12 +0000] "POST /v2/b/blobs/uploads/?mount=sha256:..&from=a HTTP/1.1" 202 0 ""
#   "curl/7.88.1"   (one line)
_ACCESS_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')

_MARKER_PATH = "/v2/?syncer-test-marker="


class Registry:
    """A `docker-registry serve` process on 127.0.0.1 with temporary storage.

    auth='htpasswd' protects it with Basic auth for (user, password); tls=True serves HTTPS with a certificate
    for IP:127.0.0.1 and DNS:localhost issued by a throwaway CA whose certificate is `ca_file`, alone in
    `cert_dir` (the containers-certs.d layout that `--cert-dir` of skopeo and syncer expects). `parent_dir`
    is where its temporary directory goes (default: the system's), e.g. a tmpfs for tests that write many files.
    delete_enabled=False leaves `storage.delete.enabled` off, as docker-registry ships: every DELETE is refused.
    """

    def __init__(self, auth: str | None = None, tls: bool = False, user: str = "tester",
                 password: str = "Pa55-w0rd-for-tests", name: str = "registry", parent_dir: str | None = None,
                 delete_enabled: bool = True):
        if auth not in (None, "htpasswd"):
            raise ValueError(f"unsupported auth mode {auth!r}")
        self.auth = auth
        self.tls = tls
        self.user = user if auth else None
        self.password = password if auth else None
        self.name = name
        self.parent_dir = parent_dir
        # `storage: delete: enabled`: without it docker-registry answers every DELETE 405 UNSUPPORTED.
        self.delete_enabled = delete_enabled
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None
        self.cert_dir: str | None = None
        self.ca_file: str | None = None

    # --- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> "Registry":
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def start(self) -> None:
        self.workdir = tempfile.mkdtemp(prefix=f"syncer-{self.name}-", dir=self.parent_dir)
        self.storage_dir = os.path.join(self.workdir, "storage")
        self.access_log = os.path.join(self.workdir, "access.log")
        self.app_log = os.path.join(self.workdir, "registry.log")
        os.makedirs(self.storage_dir)
        if self.tls:
            self._make_certificates()
        if self.auth == "htpasswd":
            self.htpasswd_file = os.path.join(self.workdir, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", self.user, self.password], check=True,
                                 capture_output=True, text=True).stdout
            with open(self.htpasswd_file, "w") as f:
                f.write(out.strip() + "\n")

        last_error = ""
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            config = os.path.join(self.workdir, "config.yml")
            with open(config, "w") as f:
                f.write(self._config())
            # REGISTRY_* variables override the configuration file; REGISTRY_AUTH_FILE, meant for skopeo,
            # even makes 2.8 refuse to start ("cannot unmarshal !!str"). None reaches the registry.
            env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
            with open(self.access_log, "wb") as out, open(self.app_log, "wb") as err:
                self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=out, stderr=err,
                                             stdin=subprocess.DEVNULL, env=env)
            if self._wait_ready():
                return
            _stop_process(self.proc)
            last_error = _read(self.app_log)
            if "address already in use" not in last_error:
                break
        raise RuntimeError(f"docker-registry did not start on 127.0.0.1:{self.port}; its log:\n{last_error}")

    def stop(self) -> None:
        _stop_process(self.proc)

    def _wait_ready(self) -> bool:
        # Probe only once the registry says it listens: if another process holds the port, its socket
        # would accept our probe while the registry has already died of the failed bind.
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            # 2.8 logs `msg="listening on 127.0.0.1:PORT"`, with TLS `msg="listening on 127.0.0.1:PORT, tls"`.
            if re.search(rf'msg="listening on 127\.0\.0\.1:{self.port}[",]', _read(self.app_log)):
                try:
                    if self._get("/v2/", timeout=1)[0] in (200, 401):
                        return True
                except OSError:
                    pass
            time.sleep(0.05)
        return False

    def _config(self) -> str:
        # JSON is valid YAML, and it spares us quoting rules.
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}, "fields": {"service": self.name}},
            "storage": {
                "filesystem": {"rootdirectory": self.storage_dir},
                "delete": {"enabled": self.delete_enabled},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": uuid.uuid4().hex},
        }
        if self.tls:
            config["http"]["tls"] = {"certificate": self.server_cert, "key": self.server_key}
        if self.auth == "htpasswd":
            config["auth"] = {"htpasswd": {"realm": "syncer-tests", "path": self.htpasswd_file}}
        return json.dumps(config, indent=2) + "\n"

    def _make_certificates(self) -> None:
        tls_dir = os.path.join(self.workdir, "tls")
        self.cert_dir = os.path.join(self.workdir, "certs.d")
        os.makedirs(tls_dir)
        os.makedirs(self.cert_dir)
        ca_key = os.path.join(tls_dir, "ca.key")
        self.ca_file = os.path.join(self.cert_dir, "ca.crt")
        self.server_key = os.path.join(tls_dir, "server.key")
        self.server_cert = os.path.join(tls_dir, "server.crt")
        csr = os.path.join(tls_dir, "server.csr")
        ext = os.path.join(tls_dir, "server.ext")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def openssl(*args: str) -> None:
            r = subprocess.run(["openssl", *args], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"openssl {' '.join(args)} failed:\n{r.stderr}")

        openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", self.ca_file, "-days", "3",
                "-subj", f"/CN=syncer test CA {self.name}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        openssl("req", "-new", *ec, "-keyout", self.server_key, "-out", csr, "-subj", "/CN=localhost")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", ca_key, "-CAcreateserial",
                "-out", self.server_cert, "-days", "3", "-extfile", ext)

    # --- addresses and credentials ---------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def creds(self) -> str | None:
        """USER:PASS for --src-creds/--dest-creds/--creds, or None without auth."""
        return f"{self.user}:{self.password}" if self.auth else None

    def ref(self, repo: str, tag_or_digest: str) -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    def auth_header(self) -> dict:
        if not self.auth:
            return {}
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    # --- raw HTTP, for readiness and log markers -------------------------------------------------------
    def _get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, headers=self.auth_header())
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context()) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    # --- access log ------------------------------------------------------------------------------------
    def requests(self) -> list[Request]:
        """Every request the registry has served so far, in log order, (method, path with query, status).

        The registry logs a request only after answering it, so a client can finish before its last line is
        written. A unique marker request, waited for here and left out of the result, closes that gap.
        """
        marker = uuid.uuid4().hex
        running = self.proc is not None and self.proc.poll() is None
        if running:
            self._get(_MARKER_PATH + marker)
        deadline = time.monotonic() + 5
        while True:
            text = _read(self.access_log, limit=1 << 30)
            if not running or marker in text:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the access log of {self.host} never showed the marker request")
            time.sleep(0.02)
        result = []
        for line in text.splitlines():
            m = _ACCESS_LINE.match(line)
            if m and not m["path"].startswith(_MARKER_PATH):
                result.append(Request(m["method"], m["path"], int(m["status"])))
        return result

    def count(self, method: str, path_regex: str, requests: list[Request] | None = None) -> int:
        """How many logged requests have `method` and a path (with query) matching `path_regex` (re.search)."""
        pattern = re.compile(path_regex)
        reqs = self.requests() if requests is None else requests
        return sum(1 for r in reqs if r.method == method and pattern.search(r.path))

    def log_tail(self) -> str:
        """The registry's application log, for failure messages."""
        return _read(self.app_log, limit=8000)


class Tinyproxy:
    """`tinyproxy -d` on 127.0.0.1 with an ephemeral port, admitting loopback clients only.

    tinyproxy 1.11 allows CONNECT to every port when the configuration has no ConnectPort line at all
    (`ConnectPort 0` disables CONNECT instead; the packaged sample config limits it to 443 and 563).
    """

    def __init__(self):
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None

    def __enter__(self) -> "Tinyproxy":
        self.workdir = tempfile.mkdtemp(prefix="syncer-tinyproxy-")
        self.log_file = os.path.join(self.workdir, "tinyproxy.log")
        self.stderr_file = os.path.join(self.workdir, "stderr.log")
        conf = os.path.join(self.workdir, "tinyproxy.conf")
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.log_file)
            with open(conf, "w") as f:
                f.write(f"Port {self.port}\n"
                        "Listen 127.0.0.1\n"
                        "Timeout 120\n"
                        f'LogFile "{self.log_file}"\n'
                        "LogLevel Info\n"
                        "MaxClients 64\n"
                        "Allow 127.0.0.1\n"
                        "DisableViaHeader Yes\n")
            with open(self.stderr_file, "wb") as err:
                self.proc = subprocess.Popen(["tinyproxy", "-d", "-c", conf], stdout=err, stderr=err,
                                             stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while time.monotonic() < deadline and self.proc.poll() is None:
                # As for the registry: trust the port only after tinyproxy reports it listens.
                if "Accepting connections" in _read(self.log_file) and _port_accepts(self.port):
                    return self
                time.sleep(0.05)
            _stop_process(self.proc)
        log = _read(self.log_file) + _read(self.stderr_file)
        self.__exit__()
        raise RuntimeError(f"tinyproxy did not start; its log:\n{log}")

    def __exit__(self, *exc) -> None:
        _stop_process(self.proc)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[tuple[str, str]]:
        """(method, target) of every request the proxy received, e.g. ("CONNECT", "127.0.0.1:41234")."""
        result = []
        for line in _read(self.log_file, limit=1 << 30).splitlines():
            m = re.search(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP/", line)
            if m:
                result.append((m[1], m[2]))
        return result

    def connects(self) -> list[str]:
        """host:port targets of the CONNECT requests seen so far."""
        return [target for method, target in self.requests() if method == "CONNECT"]


# --- independent clients ------------------------------------------------------------------------------

def skopeo_inspect_raw(ref: str, creds: str | None = None, tls_verify: bool = False,
                       cert_dir: str | None = None) -> bytes:
    """Exact manifest bytes of `ref` (host/repo:tag or host/repo@digest) as skopeo sees them."""
    if ref.startswith("docker://"):
        ref = ref[len("docker://"):]
    cmd = ["skopeo", "inspect", "--raw", f"--tls-verify={'true' if tls_verify else 'false'}"]
    if creds:
        cmd += ["--creds", creds]
    else:
        cmd += ["--no-creds"]
    if cert_dir:
        cmd += ["--cert-dir", cert_dir]
    r = subprocess.run(cmd + [f"docker://{ref}"], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"skopeo inspect --raw docker://{ref} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout


_SCRUBBED_ENV = ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "docker_config", "registry_auth_file")


def _syncer_binary() -> str:
    binary = os.environ.get("SYNCER_BIN")
    if not binary:
        raise RuntimeError("SYNCER_BIN is not set: run the integration tests through ctest, "
                           "or export SYNCER_BIN=/path/to/build/syncer/syncer")
    return binary


def _syncer_env(env: dict | None) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k.lower() not in _SCRUBBED_ENV}
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    return full_env


def run_syncer(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run $SYNCER_BIN with `args`, capturing text output. `env` entries override (None removes) variables.

    Proxy and auth-file variables are removed unless `env` sets them, so a developer's settings cannot leak
    into a test. The result also carries `max_rss_kib`, the peak resident memory of the syncer process.
    """
    cmd = [_syncer_binary(), *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_syncer_env(env))
    out: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda k, f: out.__setitem__(k, f.read()), args=(k, f), daemon=True)
               for k, f in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for t in readers:
        t.start()
    # os.wait4 instead of Popen.wait: it reports the resource usage of this one child.
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    killer = threading.Timer(timeout, kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    proc.stdout.close()
    proc.stderr.close()
    stdout = out.get("stdout", b"").decode(errors="replace")
    stderr = out.get("stderr", b"").decode(errors="replace")
    if timed_out.is_set():
        raise subprocess.TimeoutExpired(cmd, timeout, output=stdout, stderr=stderr)
    result = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    result.max_rss_kib = usage.ru_maxrss
    return result


def describe(result: subprocess.CompletedProcess) -> str:
    """A failure message body: the command line, its exit status and output."""
    return (f"\n$ {' '.join(result.args)}\nexit status {result.returncode}\n"
            f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}")


MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def get_manifest(registry: Registry, repo: str, reference: str) -> tuple[bytes, str]:
    """(exact bytes, Content-Type) of a manifest, fetched with urllib."""
    req = urllib.request.Request(f"{registry.url}/v2/{repo}/manifests/{reference}",
                                 headers={"Accept": MANIFEST_TYPES, **registry.auth_header()})
    with urllib.request.urlopen(req, timeout=30, context=registry.ssl_context()) as resp:
        return resp.read(), resp.headers.get("Content-Type", "")


def verify_tree(registry: Registry, repo: str, digest: str) -> list[str]:
    """Problems found walking the manifest `digest` in `repo`: every child manifest and blob it references
    must be present and hash to its digest. An empty list means the image is complete. `subject` is not
    followed: a referrer does not own its subject.
    """
    problems: list[str] = []

    def walk(d: str) -> None:
        try:
            raw, _ = get_manifest(registry, repo, d)
        except urllib.error.HTTPError as e:
            problems.append(f"manifest {repo}@{d}: HTTP {e.code}")
            return
        if sha256(raw) != d:
            problems.append(f"manifest {repo}@{d}: content hashes to {sha256(raw)}")
            return
        manifest = json.loads(raw)
        for child in child_manifests(manifest):
            walk(child)
        for blob in referenced_blobs(manifest):
            try:
                got = fetch_blob(registry, repo, blob)
            except urllib.error.HTTPError as e:
                problems.append(f"blob {repo}@{blob}: HTTP {e.code}")
                continue
            if got != blob:
                problems.append(f"blob {repo}@{blob}: content hashes to {got}")

    walk(digest)
    return problems


def fetch_blob(registry: Registry, repo: str, digest: str) -> str:
    """Download a blob and return the sha256 digest of the body, hashed as it streams in."""
    req = urllib.request.Request(f"{registry.url}/v2/{repo}/blobs/{digest}", headers=registry.auth_header())
    h = hashlib.sha256()
    with urllib.request.urlopen(req, timeout=120, context=registry.ssl_context()) as resp:
        while chunk := resp.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def referenced_blobs(manifest: dict) -> list[str]:
    """Digests of the config and layers of an image manifest (empty for an index)."""
    digests = []
    if "config" in manifest:
        digests.append(manifest["config"]["digest"])
    digests += [layer["digest"] for layer in manifest.get("layers", [])]
    return digests


def child_manifests(manifest: dict) -> list[str]:
    """Digests of the manifests an index or manifest list points to (empty for an image)."""
    return [m["digest"] for m in manifest.get("manifests", [])]


def tags_of(registry, repo: str) -> list[str] | None:
    """The repository's tags, sorted; None when the registry does not know the repository."""
    req = urllib.request.Request(f"{registry.url}/v2/{repo}/tags/list", headers=registry.auth_header())
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return sorted(json.loads(resp.read()).get("tags") or [])
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


class SyncerProcess:
    """$SYNCER_BIN running in the background, for tests that signal or kill it mid-run. Environment as for
    run_syncer; stderr is collected line by line as it comes, so a test can act on a log line. With
    stdin_pipe=True its stdin is a pipe the test writes (`proc.stdin`, text) instead of /dev/null."""

    def __init__(self, *args: str, env: dict | None = None, stdin_pipe: bool = False):
        self.args = [_syncer_binary(), *args]
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_syncer_env(env),
                                     text=True, errors="replace")
        self.lines: list[str] = []
        self.stdout = ""
        self._changed = threading.Condition()
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stderr_reader.start()
        self._stdout_reader.start()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stdout(self) -> None:
        self.stdout = self.proc.stdout.read()

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 60) -> str | None:
        """The first stderr line matching `pattern` (re.search), waiting up to `timeout` seconds for it; None
        if the process ended or time ran out first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if regex.search(line):
                        return line
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._stderr_reader.is_alive()):
                    return None
                self._changed.wait(min(remaining, 0.1))

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        """The exit status (negative: killed by that signal). Kills the process if it outlives `timeout`."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._stderr_reader.join(5)
            self._stdout_reader.join(5)
            self.proc.stdout.close()
            self.proc.stderr.close()
        return self.proc.returncode

    def describe(self) -> str:
        return (f"\n$ {' '.join(self.args)}\nexit status {self.proc.returncode}\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


def tag_digests(registry: Registry, repo: str) -> dict[str, str]:
    """tag -> digest of the manifest it points at, for every tag of `repo` (empty when it does not exist)."""
    return {tag: sha256(get_manifest(registry, repo, tag)[0]) for tag in tags_of(registry, repo) or []}


def incomplete_tags(registry: Registry, repos: list[str]) -> list[str]:
    """What is wrong with any tag of `repos`: a tag whose manifest, child manifests or blobs are not all
    present and intact (verify_tree). Empty when every tag there is points at a complete image."""
    problems = []
    for repo in repos:
        for tag, digest in tag_digests(registry, repo).items():
            problems += [f"{repo}:{tag}: {p}" for p in verify_tree(registry, repo, digest)]
    return problems


def class_registries(cls, *names: str) -> tuple:
    """Starts one docker-registry per name for a test class (from setUpClass), stopped by its class cleanup."""
    stack = contextlib.ExitStack()
    cls.addClassCleanup(stack.close)
    return tuple(stack.enter_context(Registry(name=name)) for name in names)


class TempDirTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory per test (`self.tmp`) and `write(name, text)` into it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=f"syncer-{type(self).__name__}-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path
