"""Supply-chain artifacts that point at an image (signatures, SBOMs, attestations), pushed the way the tools that
make them push them, over the distribution-spec HTTP API with seed.Client (or a FakeRegistry's DirectClient).

Like seed.py, an independent client: syncer never writes what the tests compare it against. Every byte comes from
fixed seeds, so two runs build identical manifests and digests.

Two steps: a builder (`signature`, `sbom`, `attestation`, `cosign_signature`) uploads an artifact's blobs and
returns its manifest as an `Artifact`; `attach` or `attach_cosign_tag` then pushes that manifest:

- `attach` as an OCI 1.1 client (oras, cosign 2.x with OCI 1.1 referrers) does: the manifest by digest; when the
  registry does not answer `OCI-Subject` (docker-registry has no referrers API) the referrers tag schema's index,
  tag `sha256-<hex>` of the subject, is read, the new descriptor merged in (nothing already there is dropped),
  and written back (distribution-spec "Pushing Manifests with Subject", the fallback).
- `attach_cosign_tag` as cosign's legacy layout: the manifest under the tag `sha256-<hex>.sig` (`.att`, `.sbom`).
  Such manifests carry no `subject`; the tag names it.

`attach_all` puts a whole set on one subject: a signature, an SPDX SBOM, an in-toto attestation (all three through
the tag schema), a signature of the SBOM (a referrer of the SBOM, depth 2) and a cosign `.sig` tag.
"""

from __future__ import annotations

import base64
import json
from typing import NamedTuple

import seed
from seed import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, Descriptor, canonical, det_bytes, sha256

COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
# cosign 2.x's artifactType for a signature pushed as an OCI 1.1 referrer.
COSIGN_SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
SPDX = "application/spdx+json"
IN_TOTO = "application/vnd.in-toto+json"
EMPTY_BLOB = b"{}"  # image-spec "Guidance for an Empty Descriptor"
CREATED = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}


class Artifact(NamedTuple):
    """A manifest whose blobs are uploaded; `body` is its exact bytes, `subject` the digest it is about."""

    repo: str
    body: bytes
    subject: str
    kind: str  # "signature", "sbom", "attestation", "cosign-signature": for messages

    @property
    def digest(self) -> str:
        return sha256(self.body)

    @property
    def doc(self) -> dict:
        return json.loads(self.body)

    @property
    def artifact_type(self) -> str:
        """artifactType, else the config's media type: what a referrers index lists."""
        doc = self.doc
        return doc.get("artifactType") or doc["config"]["mediaType"]

    @property
    def descriptor(self) -> dict:
        """This manifest's entry in a referrers index (image-spec: artifactType and annotations included)."""
        desc = {"mediaType": OCI_MANIFEST, "digest": self.digest, "size": len(self.body),
                "artifactType": self.artifact_type}
        if self.doc.get("annotations"):
            desc["annotations"] = self.doc["annotations"]
        return desc

    @property
    def blobs(self) -> list[str]:
        doc = self.doc
        return [doc["config"]["digest"]] + [layer["digest"] for layer in doc["layers"]]


def fallback_tag(digest: str) -> str:
    """The referrers tag schema's tag for `digest`: `sha256-<hex>`."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}-{encoded}"


def cosign_tag(digest: str, suffix: str = "sig") -> str:
    return f"{fallback_tag(digest)}.{suffix}"


def _subject_json(subject: Descriptor | Artifact) -> dict:
    if isinstance(subject, Artifact):
        return {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.body)}
    return subject.json()


def _digest_of(subject: Descriptor | Artifact) -> str:
    return subject.digest


def _empty_config(client, repo: str) -> Descriptor:
    return client.push_blob(repo, EMPTY_BLOB, OCI_EMPTY)


def _simplesigning(subject_digest: str, seed_text: str) -> bytes:
    """cosign's "simple signing" payload: what the signature signs (the subject's digest)."""
    return canonical({"critical": {"identity": {"docker-reference": "example.invalid/signed"},
                                   "image": {"docker-manifest-digest": subject_digest},
                                   "type": "cosign container image signature"},
                      "optional": {"seed": seed_text}})


def _signature_layer(client, repo: str, subject_digest: str, seed_text: str) -> dict:
    payload = client.push_blob(repo, _simplesigning(subject_digest, seed_text), COSIGN_SIMPLESIGNING)
    fake_signature = base64.b64encode(det_bytes(f"{seed_text}/signature", 71)).decode()
    return payload.json(annotations={COSIGN_SIGNATURE_ANNOTATION: fake_signature})


def signature(client, repo: str, subject: Descriptor | Artifact, seed_text: str) -> Artifact:
    """A cosign-style signature as an OCI 1.1 referrer: artifactType COSIGN_SIG_ARTIFACT, empty config, one
    simplesigning layer with the `dev.cosignproject.cosign/signature` annotation, `subject` set."""
    layer = _signature_layer(client, repo, _digest_of(subject), seed_text)
    body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": COSIGN_SIG_ARTIFACT,
                      "config": _empty_config(client, repo).json(), "layers": [layer],
                      "subject": _subject_json(subject), "annotations": CREATED})
    return Artifact(repo, body, _digest_of(subject), "signature")


def cosign_signature(client, repo: str, subject: Descriptor | Artifact, seed_text: str) -> Artifact:
    """A signature in cosign's legacy layout (for the `sha256-<hex>.sig` tag): an OCI image manifest with an
    image config and the simplesigning layer, no artifactType and no `subject` (the tag names it)."""
    layer = _signature_layer(client, repo, _digest_of(subject), seed_text)
    config = client.push_blob(repo, canonical({
        "architecture": "", "os": "", "config": {}, "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}), seed.OCI_CONFIG)
    body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.json(), "layers": [layer]})
    return Artifact(repo, body, _digest_of(subject), "cosign-signature")


def sbom(client, repo: str, subject: Descriptor | Artifact, seed_text: str) -> Artifact:
    """An SPDX SBOM: artifactType application/spdx+json, the empty config `{}`, one application/spdx+json layer."""
    document = canonical({"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
                          "name": seed_text, "documentNamespace": f"https://example.invalid/spdx/{seed_text}",
                          "packages": [{"SPDXID": "SPDXRef-Package-busybox", "name": "busybox",
                                        "versionInfo": "1.36.1"}]})
    layer = client.push_blob(repo, document, SPDX)
    body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SPDX,
                      "config": _empty_config(client, repo).json(),
                      "layers": [layer.json(annotations={"org.opencontainers.image.title": "sbom.spdx.json"})],
                      "subject": _subject_json(subject), "annotations": CREATED})
    return Artifact(repo, body, _digest_of(subject), "sbom")


def attestation(client, repo: str, subject: Descriptor | Artifact, seed_text: str) -> Artifact:
    """An in-toto attestation (SLSA provenance statement): artifactType and layer application/vnd.in-toto+json."""
    statement = canonical({"_type": "https://in-toto.io/Statement/v1",
                           "subject": [{"name": "image", "digest": {"sha256": _digest_of(subject).split(":")[1]}}],
                           "predicateType": "https://slsa.dev/provenance/v1",
                           "predicate": {"buildDefinition": {"buildType": "https://example.invalid/build",
                                                             "externalParameters": {"seed": seed_text}}}})
    layer = client.push_blob(repo, statement, IN_TOTO).json(
        annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"})
    body = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": IN_TOTO,
                      "config": _empty_config(client, repo).json(), "layers": [layer],
                      "subject": _subject_json(subject), "annotations": CREATED})
    return Artifact(repo, body, _digest_of(subject), "attestation")


# --- attaching -------------------------------------------------------------------------------------------

def read_fallback_index(client, repo: str, subject: str) -> list[dict]:
    """The descriptors of the tag schema's index for `subject` in `repo`; empty when the tag does not exist."""
    found = client.get_manifest(repo, fallback_tag(subject), OCI_INDEX)
    if found is None:
        return []
    return json.loads(found[0]).get("manifests", [])


def update_fallback_index(client, repo: str, subject: str, descriptors: list[dict]) -> list[dict]:
    """Read, merge, write the `sha256-<hex>` index of `subject`, as oras and cosign do against a registry without
    the referrers API: descriptors already there are kept as they are, new digests appended once. Returns the
    manifests of the index written."""
    merged = read_fallback_index(client, repo, subject)
    known = {d["digest"] for d in merged}
    merged += [d for d in descriptors if d["digest"] not in known]
    body = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": merged})
    client.push_manifest(repo, fallback_tag(subject), body, OCI_INDEX)
    return merged


def attach(client, repo: str, artifact: Artifact, fallback: bool | None = None) -> bool:
    """Push `artifact` by digest. With fallback=None the tag schema's index is updated only when the registry did
    not answer `OCI-Subject`; True or False forces it. Returns whether the index was written."""
    _, headers = client.put_manifest(repo, artifact.digest, artifact.body, OCI_MANIFEST)
    if fallback is None:
        fallback = not headers.get("OCI-Subject")
    if fallback:
        update_fallback_index(client, repo, artifact.subject, [artifact.descriptor])
    return fallback


def attach_cosign_tag(client, repo: str, artifact: Artifact, suffix: str = "sig") -> str:
    """Push `artifact` under cosign's tag `sha256-<hex>.<suffix>` of its subject; returns the tag."""
    tag = cosign_tag(artifact.subject, suffix)
    client.push_manifest(repo, tag, artifact.body, OCI_MANIFEST)
    return tag


# --- whole sets ------------------------------------------------------------------------------------------

def attach_all(client, repo: str, subject: Descriptor, seed_text: str, fallback: bool | None = None
               ) -> dict[str, Artifact]:
    """Signature, SBOM, attestation, a signature of the SBOM (all attached with `attach`) and a cosign `.sig`
    tag on `subject`; keyed "signature", "sbom", "attestation", "sbom-signature", "cosign-sig"."""
    result = {
        "signature": signature(client, repo, subject, f"{seed_text}/signature"),
        "sbom": sbom(client, repo, subject, f"{seed_text}/sbom"),
        "attestation": attestation(client, repo, subject, f"{seed_text}/attestation"),
    }
    for artifact in result.values():
        attach(client, repo, artifact, fallback)
    result["sbom-signature"] = signature(client, repo, result["sbom"], f"{seed_text}/sbom-signature")
    attach(client, repo, result["sbom-signature"], fallback)
    result["cosign-sig"] = cosign_signature(client, repo, subject, f"{seed_text}/cosign")
    attach_cosign_tag(client, repo, result["cosign-sig"])
    return result


def push_multi_platform(client, repo: str, seed_text: str, tag: str | None,
                        platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
                        ) -> tuple[Descriptor, list[Descriptor]]:
    """An OCI index of one small image per platform, tagged `tag`; returns (index, children in order)."""
    children = [seed.push_image(client, repo, f"{seed_text}/{p}", platform=p, layer_sizes=(900,))
                for p in platforms]
    entries = [c.json(platform=seed._platform(p)) for c, p in zip(children, platforms)]
    return seed.push_index(client, repo, tag, entries), children


SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def signed_schema1(repo: str, tag: str, layers: list[bytes]) -> tuple[bytes, bytes]:
    """A signed Docker schema 1 manifest of `layers`, as docker-registry 2.x served them: (payload, signed
    bytes). Its digest is the payload's (without the signatures), the way libtrust's JWS formatLength and
    formatTail delimit it."""
    fs_layers = ", ".join('{"blobSum": "%s"}' % sha256(data) for data in layers)
    history = ", ".join('{"v1Compatibility": "{}"}' for _ in layers)
    payload = ('{\n   "schemaVersion": 1,\n   "name": "%s",\n   "tag": "%s",\n   "architecture": "amd64",\n'
               '   "fsLayers": [%s],\n   "history": [%s]\n}' % (repo, tag, fs_layers, history)).encode()
    cut = len(payload) - 2  # the JWS formatTail is the payload's closing "\n}"

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    protected = b64url(json.dumps({"formatLength": cut, "formatTail": b64url(b"\n}"),
                                   "time": "2017-06-01T10:00:00Z"}).encode())
    signed = payload[:cut] + (',\n   "signatures": [{"header": {"alg": "ES256"}, "signature": "c2lnbmF0dXJl", '
                              f'"protected": "{protected}"}}]\n}}').encode()
    return payload, signed
