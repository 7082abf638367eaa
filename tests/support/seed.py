#!/usr/bin/env python3
"""Push deterministic synthetic images to a registry over the distribution-spec HTTP API.

An independent client (standard library only, never syncer) so tests can check syncer against content it did
not write. Every blob and manifest is derived from fixed seeds: two runs push byte-identical manifests, hence
identical digests.

As a module:  client = seed.Client("127.0.0.1:5000"); images = seed.push_kinds(client)
As a command: python3 tests/support/seed.py --registry 127.0.0.1:5000 [--user U --password P] [--ca FILE]
              [--scheme http|https] [--set demo|kinds|all] [--large-mib N]
It prints one line per pushed image: NAME REPO:TAG DIGEST MEDIA_TYPE.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import random
import ssl
import sys
import urllib.parse
from typing import Callable, Iterable, Iterator, NamedTuple

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SBOM_ARTIFACT = "application/vnd.example.sbom.v1+json"
IN_TOTO = "application/vnd.in-toto+json"

MIB = 1 << 20


class Seeded(NamedTuple):
    repo: str
    tag: str
    digest: str
    media_type: str


class Descriptor(NamedTuple):
    media_type: str
    digest: str
    size: int

    def json(self, **extra) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


class PushError(RuntimeError):
    pass


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def det_bytes(seed: str, size: int) -> bytes:
    """`size` pseudo-random bytes, always the same for the same seed (str seeds are hashed with SHA-512)."""
    return random.Random(seed).randbytes(size)


def det_stream(seed: str, size: int, chunk: int = MIB) -> Iterator[bytes]:
    """Deterministic bytes for large blobs, produced chunk by chunk so they never sit in memory at once.

    randbytes runs at roughly 150 MiB/s, too slow to produce hundreds of MiB twice per test, so a small pool
    of random blocks is reused, each copy stamped with its offset so no two chunks are equal.
    """
    pool = [det_bytes(f"{seed}/pool/{i}", chunk) for i in range(8)]
    offset = 0
    while offset < size:
        n = min(chunk, size - offset)
        block = pool[(offset // chunk * 5) % len(pool)]
        yield (offset.to_bytes(8, "big") + block[8:n])[:n]
        offset += n


def canonical(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def pretty(obj) -> bytes:
    # Docker tooling indents manifests with three spaces; keeping that shape checks that copies keep bytes.
    return json.dumps(obj, indent=3).encode()


class Client:
    """A small distribution-spec client: monolithic blob uploads, manifest PUTs, Basic auth."""

    def __init__(self, host: str, scheme: str = "http", user: str | None = None, password: str | None = None,
                 ca_file: str | None = None):
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, not {scheme!r}")
        self.host = host
        self.scheme = scheme
        self.headers = {"User-Agent": "syncer-tests-seed/1"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.ssl_context = ssl.create_default_context(cafile=ca_file) if scheme == "https" else None

    @classmethod
    def for_registry(cls, registry) -> "Client":
        """A client for a harness.Registry."""
        return cls(registry.host, registry.scheme, registry.user, registry.password, registry.ca_file)

    def _request(self, method: str, url: str, body=None, headers: dict | None = None
                 ) -> tuple[int, http.client.HTTPMessage, bytes]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.netloc, timeout=300, context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=300)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, body=body, headers={**self.headers, **(headers or {})})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.headers, data
        finally:
            conn.close()

    def _check(self, what: str, status: int, body: bytes, expected: tuple[int, ...]) -> None:
        if status in expected:
            return
        hint = " (credentials missing or wrong)" if status == 401 else ""
        raise PushError(f"{what}: HTTP {status}{hint}: {body[:500].decode(errors='replace')}")

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}{path}"

    def blob_exists(self, repo: str, digest: str) -> bool:
        status, _, body = self._request("HEAD", self.url(f"/v2/{repo}/blobs/{digest}"))
        self._check(f"HEAD blob {digest} in {repo}", status, body, (200, 404))
        return status == 200

    def _start_upload(self, repo: str) -> str:
        status, headers, body = self._request("POST", self.url(f"/v2/{repo}/blobs/uploads/"),
                                              headers={"Content-Length": "0"})
        self._check(f"start upload to {repo}", status, body, (202,))
        location = headers.get("Location")
        if not location:
            raise PushError(f"start upload to {repo}: no Location header")
        # distribution-spec "Pushing blobs": Location may be relative to the request URL or absolute.
        return urllib.parse.urljoin(self.url(f"/v2/{repo}/blobs/uploads/"), location)

    def _finish_upload(self, repo: str, location: str, digest: str, size: int, body) -> None:
        sep = "&" if urllib.parse.urlsplit(location).query else "?"
        url = f"{location}{sep}digest={urllib.parse.quote(digest, safe='')}"
        status, _, resp = self._request("PUT", url, body=body, headers={
            "Content-Type": "application/octet-stream", "Content-Length": str(size)})
        self._check(f"upload blob {digest} to {repo}", status, resp, (201,))

    def push_blob(self, repo: str, data: bytes, media_type: str = "application/octet-stream") -> Descriptor:
        digest = sha256(data)
        if not self.blob_exists(repo, digest):
            self._finish_upload(repo, self._start_upload(repo), digest, len(data), data)
        return Descriptor(media_type, digest, len(data))

    def push_blob_stream(self, repo: str, chunks: Callable[[], Iterable[bytes]],
                         media_type: str = "application/octet-stream") -> Descriptor:
        """Upload a blob produced by `chunks()`, called twice: once to hash and size it, once to send it."""
        h = hashlib.sha256()
        size = 0
        for c in chunks():
            h.update(c)
            size += len(c)
        digest = "sha256:" + h.hexdigest()
        if not self.blob_exists(repo, digest):
            # http.client sends an iterable body as is when Content-Length is given: one monolithic PUT.
            self._finish_upload(repo, self._start_upload(repo), digest, size, iter(chunks()))
        return Descriptor(media_type, digest, size)

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> Descriptor:
        return self.put_manifest(repo, reference, body, media_type)[0]

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str
                     ) -> tuple[Descriptor, http.client.HTTPMessage]:
        """push_manifest, also returning the answer's headers (`OCI-Subject` says the registry indexed the
        manifest's subject itself)."""
        status, headers, resp = self._request("PUT", self.url(f"/v2/{repo}/manifests/{reference}"), body=body,
                                              headers={"Content-Type": media_type,
                                                       "Content-Length": str(len(body))})
        self._check(f"put manifest {repo}:{reference}", status, resp, (201,))
        digest = sha256(body)
        returned = headers.get("Docker-Content-Digest")
        if returned and returned != digest:
            raise PushError(f"put manifest {repo}:{reference}: registry says {returned}, expected {digest}")
        return Descriptor(media_type, digest, len(body)), headers

    def get_manifest(self, repo: str, reference: str, accept: str = OCI_INDEX) -> tuple[bytes, str] | None:
        """(exact bytes, media type) of a manifest, or None when the registry does not know it (404)."""
        status, headers, body = self._request("GET", self.url(f"/v2/{repo}/manifests/{reference}"),
                                              headers={"Accept": accept})
        self._check(f"get manifest {repo}:{reference}", status, body, (200, 404))
        if status == 404:
            return None
        return body, (headers.get("Content-Type") or "").split(";")[0].strip()


# --- building blocks -------------------------------------------------------------------------------------

def _platform(spec: str) -> dict:
    os_, arch, *variant = spec.split("/")
    p = {"architecture": arch, "os": os_}
    if variant:
        p["variant"] = variant[0]
    return p


def push_image(client: Client, repo: str, seed: str, *, platform: str = "linux/amd64", docker: bool = False,
               layers: list[bytes] | None = None, layer_sizes: tuple[int, ...] = (2048, 40000),
               tag: str | None = None, layer_media_types: list[str] | None = None,
               created: str = "2024-01-01T00:00:00Z") -> Descriptor:
    """Push one image manifest (Docker schema 2 or OCI) with its config and layers; return its descriptor.

    `layers` defaults to fresh random layers of `layer_sizes`; pass shared bytes to share layers across images.
    The manifest is pushed by digest, and also by `tag` when given; `created` goes in the config.
    """
    if layers is None:
        layers = [det_bytes(f"{seed}/layer/{i}", n) for i, n in enumerate(layer_sizes)]
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    types = layer_media_types or [layer_type] * len(layers)
    layer_descs = [client.push_blob(repo, data, mt) for data, mt in zip(layers, types)]
    config = {
        **_platform(platform),
        "created": created,
        "config": {"Env": ["PATH=/usr/bin:/bin", f"SEED={seed}"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layer_descs]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))],
    }
    config_desc = client.push_blob(repo, canonical(config), DOCKER_CONFIG if docker else OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": config_desc.json(),
        "layers": [d.json() for d in layer_descs],
    }
    if not docker:
        manifest["annotations"] = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
    body = pretty(manifest) if docker else canonical(manifest)
    desc = client.push_manifest(repo, sha256(body), body, manifest["mediaType"])
    if tag:
        client.push_manifest(repo, tag, body, manifest["mediaType"])
    return desc


def push_index(client: Client, repo: str, tag: str | None, entries: list[dict], *, docker: bool = False,
               annotations: dict | None = None) -> Descriptor:
    media_type = DOCKER_LIST if docker else OCI_INDEX
    index = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    if annotations:
        index["annotations"] = annotations
    body = pretty(index) if docker else canonical(index)
    desc = client.push_manifest(repo, sha256(body), body, media_type)
    if tag:
        client.push_manifest(repo, tag, body, media_type)
    return desc


def _attestation(client: Client, repo: str, seed: str, subject: Descriptor) -> dict:
    """An index entry shaped like BuildKit's provenance attestation for `subject`."""
    statement = canonical({"_type": "https://in-toto.io/Statement/v0.1", "subject": [
        {"name": "_", "digest": {"sha256": subject.digest.split(":", 1)[1]}}],
        "predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {"seed": seed}})
    layer = client.push_blob(repo, statement, IN_TOTO)
    config = client.push_blob(repo, canonical({"architecture": "unknown", "os": "unknown", "config": {},
                                               "rootfs": {"type": "layers", "diff_ids": [layer.digest]}}),
                              OCI_CONFIG)
    manifest = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.json(), "layers": [
        layer.json(annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"})]})
    desc = client.push_manifest(repo, sha256(manifest), manifest, OCI_MANIFEST)
    return desc.json(annotations={"vnd.docker.reference.digest": subject.digest,
                                  "vnd.docker.reference.type": "attestation-manifest"},
                     platform={"architecture": "unknown", "os": "unknown"})


def _multi_arch(client: Client, repo: str, seed: str, platforms: list[str], *, docker: bool = False,
                shared: list[bytes] | None = None) -> list[dict]:
    entries = []
    for p in platforms:
        layers = None
        if shared is not None:
            layers = shared + [det_bytes(f"{seed}/{p}/own", 30000)]
        d = push_image(client, repo, f"{seed}/{p}", platform=p, docker=docker, layers=layers)
        entries.append(d.json(platform=_platform(p)))
    return entries


# --- the kinds tests iterate over -------------------------------------------------------------------------

def push_docker_v2(client: Client, repo: str = "kinds/docker-v2", tag: str = "v1") -> Seeded:
    d = push_image(client, repo, "docker-v2", docker=True, tag=tag, layer_sizes=(1500, 70000, 5))
    return Seeded(repo, tag, d.digest, d.media_type)


def push_docker_list(client: Client, repo: str = "kinds/docker-list", tag: str = "v1") -> Seeded:
    entries = _multi_arch(client, repo, "docker-list", ["linux/amd64", "linux/arm64/v8"], docker=True)
    d = push_index(client, repo, tag, entries, docker=True)
    return Seeded(repo, tag, d.digest, d.media_type)


def push_oci_image(client: Client, repo: str = "kinds/oci-image", tag: str = "v1") -> Seeded:
    layers = [det_bytes("oci-image/0", 3000), det_bytes("oci-image/1", 120000), b""]
    d = push_image(client, repo, "oci-image", tag=tag, layers=layers,
                   layer_media_types=[OCI_LAYER, OCI_LAYER_ZSTD, OCI_LAYER])
    return Seeded(repo, tag, d.digest, d.media_type)


OCI_INDEX_PLATFORMS = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]


def push_oci_index(client: Client, repo: str = "kinds/oci-index", tag: str = "v1") -> Seeded:
    """Three platforms plus an attestation entry (platform unknown/unknown) for the amd64 image."""
    entries = _multi_arch(client, repo, "oci-index", OCI_INDEX_PLATFORMS)
    amd64 = Descriptor(entries[0]["mediaType"], entries[0]["digest"], entries[0]["size"])
    entries.append(_attestation(client, repo, "oci-index", amd64))
    d = push_index(client, repo, tag, entries,
                   annotations={"org.opencontainers.image.source": "https://example.invalid/oci-index"})
    return Seeded(repo, tag, d.digest, d.media_type)


def push_nested_index(client: Client, repo: str = "kinds/nested-index", tag: str = "v1") -> Seeded:
    """An index whose first entry is itself an index of two images; the second entry is a plain image."""
    inner = push_index(client, repo, None, _multi_arch(client, repo, "nested/inner",
                                                         ["linux/amd64", "linux/arm64/v8"]))
    s390x = push_image(client, repo, "nested/s390x", platform="linux/s390x")
    d = push_index(client, repo, tag, [inner.json(), s390x.json(platform=_platform("linux/s390x"))])
    return Seeded(repo, tag, d.digest, d.media_type)


def push_artifact(client: Client, repo: str = "kinds/artifact", tag: str = "sbom",
                  subject_tag: str = "base") -> tuple[Seeded, Seeded]:
    """An OCI artifact (artifactType, empty config `{}`) whose `subject` is an image in the same repository.

    Returns (artifact, subject); both are tagged.
    """
    subject = push_image(client, repo, "artifact/subject", tag=subject_tag)
    empty = client.push_blob(repo, b"{}", OCI_EMPTY)
    sbom = client.push_blob(repo, canonical({"spdxVersion": "SPDX-2.3", "name": "synthetic", "packages": []}),
                            "application/spdx+json")
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SBOM_ARTIFACT,
        "config": empty.json(),
        "layers": [sbom.json(annotations={"org.opencontainers.image.title": "sbom.spdx.json"})],
        "subject": subject.json(),
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    })
    client.push_manifest(repo, sha256(manifest), manifest, OCI_MANIFEST)
    d = client.push_manifest(repo, tag, manifest, OCI_MANIFEST)
    return Seeded(repo, tag, d.digest, d.media_type), Seeded(repo, subject_tag, subject.digest, subject.media_type)


FAMILY = ["family/alpha", "family/beta", "family/gamma"]


def family_base_layers() -> list[bytes]:
    return [det_bytes("family/base/0", 150000), det_bytes("family/base/1", 60000)]


def push_family(client: Client, tag: str = "1") -> dict[str, Seeded]:
    """Repositories whose images share two base layers, each with one layer of its own."""
    base = family_base_layers()
    result = {}
    for repo in FAMILY:
        d = push_image(client, repo, repo, tag=tag, layers=base + [det_bytes(f"{repo}/own", 20000)])
        result[repo.replace("/", "-")] = Seeded(repo, tag, d.digest, d.media_type)
    return result


def push_kinds(client: Client) -> dict[str, Seeded]:
    """Every manifest kind tests iterate over, keyed by kind name."""
    artifact, subject = push_artifact(client)
    return {
        "docker-v2": push_docker_v2(client),
        "docker-list": push_docker_list(client),
        "oci-image": push_oci_image(client),
        "oci-index": push_oci_index(client),
        "nested-index": push_nested_index(client),
        "artifact": artifact,
        "artifact-subject": subject,
        **push_family(client),
    }


def push_large_image(client: Client, mib: int, repo: str = "large/image", tag: str = "v1",
                     seed: str = "large") -> Seeded:
    """An OCI image with one layer of `mib` MiB, streamed from a generator in both passes."""
    layer = client.push_blob_stream(repo, lambda: det_stream(f"{seed}/layer", mib * MIB), OCI_LAYER)
    config = client.push_blob(repo, canonical({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [layer.digest]}}), OCI_CONFIG)
    body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.json(),
                      "layers": [layer.json()]})
    d = client.push_manifest(repo, tag, body, OCI_MANIFEST)
    return Seeded(repo, tag, d.digest, d.media_type)


def push_demo(client: Client) -> dict[str, Seeded]:
    """A small, realistic-looking set: a base image, an app built on it, and a multi-arch tool."""
    result = {}
    base_layers = [det_bytes("demo/base/os", 300000), det_bytes("demo/base/libs", 120000)]
    for tag, extra in (("1.0", []), ("1.1", [det_bytes("demo/base/patch-1.1", 20000)])):
        d = push_image(client, "demo/base", f"demo/base/{tag}", tag=tag, layers=base_layers + extra)
        result[f"demo/base:{tag}"] = Seeded("demo/base", tag, d.digest, d.media_type)
    for tag in ("1.0", "2.0"):
        layers = base_layers + [det_bytes(f"demo/app/{tag}", 80000)]
        d = push_image(client, "demo/app", f"demo/app/{tag}", docker=True, tag=tag, layers=layers)
        result[f"demo/app:{tag}"] = Seeded("demo/app", tag, d.digest, d.media_type)
    d = push_image(client, "demo/app", "demo/app/2.0", docker=True, tag="latest",
                   layers=base_layers + [det_bytes("demo/app/2.0", 80000)])
    result["demo/app:latest"] = Seeded("demo/app", "latest", d.digest, d.media_type)
    for tag, platforms in (("v1", ["linux/amd64", "linux/arm64/v8"]), ("v2", OCI_INDEX_PLATFORMS)):
        entries = _multi_arch(client, "demo/tools", f"demo/tools/{tag}", platforms, shared=base_layers[:1])
        d = push_index(client, "demo/tools", tag, entries)
        result[f"demo/tools:{tag}"] = Seeded("demo/tools", tag, d.digest, d.media_type)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", required=True, help="HOST:PORT of the target registry")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--ca", help="CA certificate file to trust for https")
    ap.add_argument("--scheme", choices=["http", "https"], default=None,
                    help="default: https when --ca is given, else http")
    ap.add_argument("--set", dest="which", choices=["demo", "kinds", "all"], default="all")
    ap.add_argument("--large-mib", type=int, default=0, help="also push large/image:v1 with one layer this big")
    args = ap.parse_args(argv)
    if args.password is not None and args.user is None:
        ap.error("--password needs --user")
    scheme = args.scheme or ("https" if args.ca else "http")
    client = Client(args.registry, scheme, args.user, args.password, args.ca)
    images: dict[str, Seeded] = {}
    try:
        if args.which in ("demo", "all"):
            images.update(push_demo(client))
        if args.which in ("kinds", "all"):
            images.update(push_kinds(client))
        if args.large_mib:
            images["large"] = push_large_image(client, args.large_mib)
    except (PushError, OSError) as e:
        print(f"seed.py: pushing to {args.registry} failed: {e}", file=sys.stderr)
        return 1
    for name, s in images.items():
        print(f"{name} {s.repo}:{s.tag} {s.digest} {s.media_type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
