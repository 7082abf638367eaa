"""Referrers (issue 11): signatures, SBOMs and attestations travel with their images in `sync`, `copy`,
`sync-image`, `jobs` and the image-syncer entry point, and `syncer referrers` shows them.

The artifacts are built by tests/support/artifacts.py (never by syncer) and attached as the tools that make them
attach them: against docker-registry, which has no referrers API, through the tag schema's `sha256-<hex>` index
and cosign's `sha256-<hex>.sig` tag; against the fake registry with `referrers_api=True`, through the API. What
the destination holds is checked with urllib and skopeo: each referrer by digest with its exact bytes and every
blob, the destination's own `sha256-<hex>` index, and the subject's digest unchanged.

Every test writes its own repositories on the two shared registries (source `src`, destination `dst`).
"""

import contextlib
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import artifacts
from artifacts import COSIGN_SIG_ARTIFACT, IN_TOTO, SPDX, Artifact, cosign_tag, fallback_tag
import harness
from fake_registry import FakeRegistry
from harness import describe, get_manifest, run_syncer, sha256, skopeo_inspect_raw, tags_of, verify_tree
import seed

# What attach_all puts on an image, and what of it a filter keeps.
ALL = ("signature", "sbom", "attestation", "sbom-signature", "cosign-sig")
# A no-op run costs at most one referrers request per subject digest plus one probe of the referrers API per
# registry (issue 11, item 4; docs/referrers.md): against docker-registry a subject whose `sha256-<hex>` tag
# is not in the tag list costs nothing, so what is left is one request per referrer tag the source lists.
NOOP_API_PROBES = 1
# Variables that would send syncer elsewhere or give it other credentials (as harness.run_syncer removes them).
SCRUBBED = ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "docker_config", "registry_auth_file")


def writes(requests) -> list:
    """Requests that change a registry."""
    return [r for r in requests if r.method in ("PUT", "POST", "PATCH", "DELETE")]


def referrer_requests(requests) -> list:
    """Requests that look for referrers: the referrers API, and manifests by a tag of the tag schema or cosign."""
    return [r for r in requests
            if "/referrers/" in r.path or re.search(r"/manifests/sha256-[0-9a-f]{64}", r.path)]


class ReferrersTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = harness.class_registries(cls, "src", "dst")
        cls.client = seed.Client.for_registry(cls.src)

    # --- content -------------------------------------------------------------------------------------------
    def signed_image(self, repo: str, seed_text: str = "signed", tag: str = "v1", client=None
                     ) -> tuple[seed.Descriptor, dict[str, Artifact]]:
        """A single image tagged `tag` with every kind of referrer (artifacts.attach_all). The same seed_text
        in another repository gives the same digests."""
        client = client or self.client
        image = seed.push_image(client, repo, f"{seed_text}/image", tag=tag, layer_sizes=(700, 1300))
        return image, artifacts.attach_all(client, repo, image, seed_text)

    def signed_index(self, repo: str, seed_text: str = "signed-index", tag: str = "v2"
                     ) -> tuple[seed.Descriptor, list[seed.Descriptor], dict[str, Artifact]]:
        """An index (amd64, arm64) tagged `tag` with a signature on the index and one on each child."""
        index, children = artifacts.push_multi_platform(self.client, repo, seed_text, tag)
        arts = {"index-signature": artifacts.signature(self.client, repo, index, f"{seed_text}/index-sig"),
                "amd64-signature": artifacts.signature(self.client, repo, children[0], f"{seed_text}/amd64-sig"),
                "arm64-signature": artifacts.signature(self.client, repo, children[1], f"{seed_text}/arm64-sig")}
        for a in arts.values():
            artifacts.attach(self.client, repo, a)
        return index, children, arts

    # --- running syncer ------------------------------------------------------------------------------------
    def run_ok(self, *args: str, expect: int = 0, env: dict | None = None):
        r = run_syncer(*args, env=env)
        self.assertEqual(r.returncode, expect, describe(r))
        return r

    def sync(self, rules: dict, *flags: str, expect: int = 0) -> tuple[dict, object]:
        """Runs `syncer sync` on an images file holding `rules` (JSON); returns (report, process result)."""
        images = self.write("images.json", json.dumps(rules, indent=2))
        report_path = os.path.join(self.tmp, "report.json")
        with contextlib.suppress(FileNotFoundError):
            os.remove(report_path)
        r = self.run_ok("sync", "--images", images, "--report", report_path, *flags, expect=expect)
        with open(report_path) as f:
            return json.load(f), r

    def src_ref(self, repo: str) -> str:
        return f"{self.src.host}/{repo}"

    def dst_ref(self, repo: str) -> str:
        return f"{self.dst.host}/{repo}"

    @staticmethod
    def image_reports(report: dict, destination_repo: str) -> dict[str, dict]:
        """The report's images whose destination is in `destination_repo`, by destination tag."""
        result = {}
        for i in report["images"]:
            repo_and_tag = i["destination"].split("/", 1)[1]
            repo, _, tag = repo_and_tag.rpartition(":")
            if repo == destination_repo:
                result[tag] = i
        return result

    def counts(self, image_report: dict) -> dict:
        """An image's `referrers` counts in the report (found, copied, present, excluded, not_carried,
        fallback_updates)."""
        self.assertIn("referrers", image_report, "the report has no referrers counts for this image (issue 11)")
        return image_report["referrers"]

    def totals(self, report: dict) -> dict:
        totals = report["totals"]
        for key in ("referrers_found", "referrers_copied"):
            self.assertIn(key, totals, "the report's totals have no referrers counts (issue 11)")
        return totals

    # --- what a registry holds ---------------------------------------------------------------------------
    def manifest_or_none(self, registry, repo: str, reference: str) -> bytes | None:
        if isinstance(registry, FakeRegistry):
            found = registry.manifest(repo, reference)
            return found[0] if found else None
        try:
            return get_manifest(registry, repo, reference)[0]
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def fallback_digests(self, registry, repo: str, subject: str) -> list[str]:
        """Digests the destination's `sha256-<hex>` index of `subject` lists, in order; [] without one."""
        raw = self.manifest_or_none(registry, repo, fallback_tag(subject))
        return [] if raw is None else [d["digest"] for d in json.loads(raw)["manifests"]]

    def assert_carried(self, registry, repo: str, arts: dict[str, Artifact], names) -> None:
        """Each named artifact is at `registry/repo` by digest, with the source's exact bytes, complete."""
        for name in names:
            a = arts[name]
            raw = self.manifest_or_none(registry, repo, a.digest)
            self.assertIsNotNone(raw, f"{name} {a.digest} is not at {repo}")
            self.assertEqual(raw, a.body, f"{name} {a.digest} at {repo} does not have the source's bytes")
            if isinstance(registry, FakeRegistry):
                self.assertEqual(registry.verify_tree(repo, a.digest), [], f"{name} at {repo}")
            else:
                self.assertEqual(verify_tree(registry, repo, a.digest), [], f"{name} at {repo}")

    def assert_not_carried(self, registry, repo: str, arts: dict[str, Artifact], names) -> None:
        for name in names:
            self.assertIsNone(self.manifest_or_none(registry, repo, arts[name].digest),
                              f"{name} {arts[name].digest} should not be at {repo}")

    def assert_skopeo_reads(self, repo: str, image_digest: str, tag: str, arts: dict[str, Artifact], names) -> None:
        """skopeo, an independent client: the subject's digest is unchanged, each referrer reads by digest."""
        self.assertEqual(sha256(skopeo_inspect_raw(self.dst.ref(repo, tag))), image_digest,
                         f"{repo}:{tag} changed digest")
        for name in names:
            raw = skopeo_inspect_raw(self.dst.ref(repo, arts[name].digest))
            self.assertEqual(sha256(raw), arts[name].digest, f"skopeo reads {name} of {repo} differently")

    # --- sync ----------------------------------------------------------------------------------------------
    def test_sync_rules_carry_every_referrer_then_a_rerun_is_a_no_op(self):
        repo = "carry/app"
        image, arts = self.signed_image(repo)
        index, children, index_arts = self.signed_index(repo)
        every = {**arts, **index_arts}
        source_tags = tags_of(self.src, repo)
        referrer_tags = [t for t in source_tags if t.startswith("sha256-")]
        self.assertEqual(len(referrer_tags), 6, source_tags)  # image, its .sig, the SBOM, index, 2 children

        destinations = {"whole": "carry-whole/app", "listed": "carry-listed/app", "regex": "carry-regex/app"}
        rules = {self.src_ref(repo): self.dst_ref(destinations["whole"]),
                 self.src_ref(repo) + ":v1,v2": self.dst_ref(destinations["listed"]),
                 self.src_ref(repo) + ":/^v[0-9]$/": {"destinations": [self.dst_ref(destinations["regex"])]}}
        report, _ = self.sync(rules)

        self.assertEqual(report["totals"]["failed"], 0, report)
        for kind, dst_repo in destinations.items():
            with self.subTest(rule=kind):
                self.assertEqual(tags_of(self.dst, dst_repo), source_tags)
                self.assert_carried(self.dst, dst_repo, every, every)
                self.assertEqual(sorted(self.fallback_digests(self.dst, dst_repo, image.digest)),
                                 sorted(arts[n].digest for n in ("signature", "sbom", "attestation")))
                self.assertEqual(self.fallback_digests(self.dst, dst_repo, arts["sbom"].digest),
                                 [arts["sbom-signature"].digest])
                self.assertEqual(self.fallback_digests(self.dst, dst_repo, index.digest),
                                 [index_arts["index-signature"].digest])
                self.assertEqual(self.fallback_digests(self.dst, dst_repo, children[1].digest),
                                 [index_arts["arm64-signature"].digest])
                self.assertEqual(sha256(get_manifest(self.dst, dst_repo, cosign_tag(image.digest))[0]),
                                 arts["cosign-sig"].digest)
                self.assert_skopeo_reads(dst_repo, image.digest, "v1", every, every)
                self.assertEqual(sha256(skopeo_inspect_raw(self.dst.ref(dst_repo, "v2"))), index.digest)

                images = self.image_reports(report, dst_repo)
                # The tag schema's and cosign's tags come with their subject, not as images of their own.
                self.assertEqual(sorted(images), ["v1", "v2"], [i["destination"] for i in report["images"]])
                # v1: 5 referrers (the SBOM's signature at depth 2 included); v2: the index's and each child's.
                v1 = self.counts(images["v1"])
                self.assertEqual((v1["found"], v1["copied"], v1["present"]), (5, 5, 0), v1)
                # Two subjects get an index at the destination: the image and the SBOM.
                self.assertEqual(v1["fallback_updates"], 2, v1)
                v2 = self.counts(images["v2"])
                self.assertEqual((v2["found"], v2["copied"]), (3, 3), v2)
        self.assertEqual(self.totals(report)["referrers_found"], 3 * (5 + 3), report["totals"])
        self.assertEqual(self.totals(report)["referrers_copied"], 3 * (5 + 3), report["totals"])

        # Again: nothing to do. No write at the destination, and referrers cost at most one request per
        # referrer tag of the source (per destination repository there) plus one probe of the API.
        src_before, dst_before = len(self.src.requests()), len(self.dst.requests())
        report, _ = self.sync(rules)
        src_new, dst_new = self.src.requests()[src_before:], self.dst.requests()[dst_before:]
        totals = self.totals(report)
        self.assertEqual((totals["copied"], totals["skipped"], totals["failed"]), (0, 6, 0), totals)
        self.assertEqual((totals["referrers_found"], totals["referrers_copied"]), (3 * 8, 0), totals)
        for image_report in report["images"]:
            r = self.counts(image_report)
            self.assertEqual((r["copied"], r["fallback_updates"], r["present"]), (0, 0, r["found"]), image_report)
        self.assertEqual(writes(dst_new), [], "a no-op run wrote to the destination")
        source_cost = referrer_requests(src_new)
        self.assertLessEqual(len(source_cost), NOOP_API_PROBES + len(referrer_tags),
                             "referrer requests at the source in a no-op run:\n" + "\n".join(map(str, source_cost)))
        dest_cost = referrer_requests(dst_new)
        self.assertLessEqual(len(dest_cost), NOOP_API_PROBES + len(destinations) * len(referrer_tags),
                             "referrer requests at the destination in a no-op run:\n" + "\n".join(map(str, dest_cost)))

    def test_a_signature_added_to_an_unchanged_image_is_copied_by_the_next_run(self):
        repo = "later/app"
        image = seed.push_image(self.client, repo, "later/image", tag="v1", layer_sizes=(800,))
        first = artifacts.signature(self.client, repo, image, "later/first")
        artifacts.attach(self.client, repo, first)
        rules = {self.src_ref(repo) + ":v1": self.dst_ref(repo)}
        report, _ = self.sync(rules)
        self.assert_carried(self.dst, repo, {"first": first}, ["first"])
        self.assertEqual(self.counts(report["images"][0])["copied"], 1, report["images"])

        second = artifacts.signature(self.client, repo, image, "later/second")
        artifacts.attach(self.client, repo, second)
        report, _ = self.sync(rules)
        (only,) = report["images"]
        self.assertEqual(only["status"], "skipped", only)  # the image itself is in sync
        self.assert_carried(self.dst, repo, {"first": first, "second": second}, ["first", "second"])
        self.assertEqual(self.fallback_digests(self.dst, repo, image.digest), [first.digest, second.digest])
        r = self.counts(only)
        self.assertEqual((r["found"], r["copied"], r["present"], r["fallback_updates"]), (2, 1, 1, 1), r)

    def test_a_destination_fallback_index_keeps_the_descriptors_it_already_has(self):
        repo = "keep/app"
        image, arts = self.signed_image(repo, "keep")
        # At the destination: the same image (same seed, same digest) with an SBOM only the destination has,
        # attached the way oras would, so its `sha256-<hex>` index already lists it.
        dst_client = seed.Client.for_registry(self.dst)
        same = seed.push_image(dst_client, repo, "keep/image", tag="v1", layer_sizes=(700, 1300))
        self.assertEqual(same.digest, image.digest)
        local = artifacts.sbom(dst_client, repo, same, "keep/destination-only")
        artifacts.attach(dst_client, repo, local)
        before = json.loads(get_manifest(self.dst, repo, fallback_tag(image.digest))[0])["manifests"]
        self.assertEqual([d["digest"] for d in before], [local.digest])

        report, _ = self.sync({self.src_ref(repo) + ":v1": self.dst_ref(repo)})
        after = json.loads(get_manifest(self.dst, repo, fallback_tag(image.digest))[0])["manifests"]
        self.assertEqual(after[0], before[0], "the destination's own descriptor was dropped or changed")
        self.assertEqual(sorted(d["digest"] for d in after),
                         sorted([local.digest] + [arts[n].digest for n in ("signature", "sbom", "attestation")]),
                         "the fallback index should list the destination's own SBOM and the 3 referrers carried")
        self.assert_carried(self.dst, repo, arts, ALL)
        self.assertEqual(self.counts(report["images"][0])["copied"], 5, report["images"])

    def test_switches_and_artifact_type_filters(self):
        # The same signed image in one source repository per rule (a file holds each source once).
        sources = ["off-rule", "include", "exclude", "depth", "off-flag", "off-flag-whole", "flag-types",
                   "flag-exclude"]
        signed = {name: self.signed_image(f"sel/{name}", "sel") for name in sources}
        image, arts = signed["include"]

        def rule(name: str, referrers=None, listed: bool = True) -> tuple[str, dict]:
            value = {"destinations": [self.dst_ref(f"sel-dst/{name}")]}
            if referrers is not None:
                value["referrers"] = referrers
            return self.src_ref(f"sel/{name}") + (":v1" if listed else ""), value

        report, _ = self.sync(dict([
            rule("off-rule", False),
            rule("include", {"include": ["/cosign/"]}),
            rule("exclude", {"exclude": [SPDX]}),
            rule("depth", {"depth": 1}),
        ]))
        self.assertEqual(report["totals"]["failed"], 0, report)
        expected = {
            "off-rule": [],
            # The OCI 1.1 signature by artifactType, the cosign tag's manifest by its layer; the SBOM's
            # signature is never reached, its subject being left out.
            "include": ["signature", "cosign-sig"],
            "exclude": ["signature", "attestation", "cosign-sig"],
            "depth": ["signature", "sbom", "attestation", "cosign-sig"],
        }
        for name, carried in expected.items():
            with self.subTest(rule=name):
                self.assert_carried(self.dst, f"sel-dst/{name}", arts, carried)
                self.assert_not_carried(self.dst, f"sel-dst/{name}", arts, [n for n in ALL if n not in carried])
                wanted = ["v1"] + ([fallback_tag(image.digest)] if {"signature", "sbom", "attestation"} & set(carried)
                                   else []) + ([cosign_tag(image.digest)] if "cosign-sig" in carried else [])
                self.assertEqual(tags_of(self.dst, f"sel-dst/{name}"), sorted(wanted))
        self.assertGreaterEqual(self.counts(self.image_reports(report, "sel-dst/include")["v1"])["excluded"], 2)

        # --no-referrers: a rule naming its tags brings the image alone; a whole-repository rule copies the
        # tag schema's and cosign's tags as the ordinary tags they then are, as before referrers existed.
        self.sync(dict([rule("off-flag"), rule("off-flag-whole", listed=False)]), "--no-referrers")
        self.assertEqual(tags_of(self.dst, "sel-dst/off-flag"), ["v1"])
        self.assert_not_carried(self.dst, "sel-dst/off-flag", arts, ALL)
        self.assertEqual(tags_of(self.dst, "sel-dst/off-flag-whole"), tags_of(self.src, "sel/off-flag-whole"))

        self.sync(dict([rule("flag-types")]), "--referrer-types", f"{COSIGN_SIG_ARTIFACT},/simplesigning/")
        self.assert_carried(self.dst, "sel-dst/flag-types", arts, ["signature", "cosign-sig"])
        self.assert_not_carried(self.dst, "sel-dst/flag-types", arts, ["sbom", "attestation", "sbom-signature"])

        self.sync(dict([rule("flag-exclude")]), "--exclude-referrer-types", "/in-toto/", "--referrers-depth", "1")
        self.assert_carried(self.dst, "sel-dst/flag-exclude", arts, ["signature", "sbom", "cosign-sig"])
        self.assert_not_carried(self.dst, "sel-dst/flag-exclude", arts, ["attestation", "sbom-signature"])

    def test_platform_filter_carries_the_kept_childs_referrers_not_the_rewritten_indexs(self):
        repo = "plat/app"
        index, children, arts = self.signed_index(repo, "plat", tag="v1")
        report, r = self.sync({self.src_ref(repo) + ":v1": self.dst_ref(repo)}, "--os", "linux", "--arch", "amd64")
        (only,) = report["images"]
        self.assertEqual(only["status"], "copied", only)
        rewritten = sha256(get_manifest(self.dst, repo, "v1")[0])
        self.assertNotEqual(rewritten, index.digest, "the filter should have rewritten the index")
        self.assertEqual([m["digest"] for m in json.loads(get_manifest(self.dst, repo, "v1")[0])["manifests"]],
                         [children[0].digest])
        self.assert_carried(self.dst, repo, arts, ["amd64-signature"])
        self.assert_not_carried(self.dst, repo, arts, ["index-signature", "arm64-signature"])
        self.assertEqual(self.fallback_digests(self.dst, repo, children[0].digest), [arts["amd64-signature"].digest])
        self.assertEqual(self.fallback_digests(self.dst, repo, rewritten), [])
        self.assertNotIn(fallback_tag(index.digest), tags_of(self.dst, repo))
        self.assertGreaterEqual(self.counts(only)["not_carried"], 1, only)
        self.assertRegex(r.stderr, r"(?i)not (be )?carried", "the log should say the index's signature is left")

    # --- the fake registry's referrers API -----------------------------------------------------------------
    def test_source_with_the_referrers_api_paged_and_filtered(self):
        with FakeRegistry(referrers_api=True, referrers_page_size=2) as fake:
            repo = "api/app"
            image, arts = self.signed_image(repo, "api", client=fake.client())
            self.assertEqual(fake.tags(repo), sorted(["v1", cosign_tag(image.digest)]), "no tag schema at the fake")
            rules = {f"{fake.host}/{repo}:v1": self.dst_ref("from-api/app")}
            report, _ = self.sync(rules)
            self.assert_carried(self.dst, "from-api/app", arts, ALL)
            # docker-registry has no referrers API: syncer wrote the fallback index there.
            self.assertEqual(sorted(self.fallback_digests(self.dst, "from-api/app", image.digest)),
                             sorted(arts[n].digest for n in ("signature", "sbom", "attestation")))
            self.assertEqual(self.fallback_digests(self.dst, "from-api/app", arts["sbom"].digest),
                             [arts["sbom-signature"].digest])
            # Three referrers, two a page: the second page was followed; the tag schema was never read.
            pages = fake.requests(method="GET", path_regex=rf"/referrers/sha256(:|%3[Aa]){image.digest[7:]}")
            self.assertGreaterEqual(len(pages), 2, fake.log_text())
            self.assertTrue(any("last=" in p.path for p in pages), fake.log_text())
            self.assertEqual(fake.requests(path_regex=rf"/manifests/{fallback_tag(image.digest)}$"), [],
                             fake.log_text())
            self.assertEqual(self.counts(report["images"][0])["copied"], 5, report["images"])

            # Only signatures, whether the registry filters (and says so) or ignores the filter.
            for mode in ("applied", "ignored"):
                with self.subTest(filter=mode):
                    fake.referrers_filter = mode
                    self.assert_fake_filters(fake, repo, image.digest, mode)
                    dst_repo = f"from-api-{mode}/app"
                    self.sync({f"{fake.host}/{repo}:v1": self.dst_ref(dst_repo)},
                              "--referrer-types", COSIGN_SIG_ARTIFACT)
                    self.assert_carried(self.dst, dst_repo, arts, ["signature"])
                    self.assert_not_carried(self.dst, dst_repo, arts, ["sbom", "attestation", "sbom-signature",
                                                                       "cosign-sig"])

            # `syncer referrers` says where each one came from.
            r = self.run_ok("referrers", f"{fake.host}/{repo}:v1", "--format", "json")
            tree = {n["digest"]: n for n in json.loads(r.stdout)["referrers"]}
            for name in ("signature", "sbom", "attestation"):
                self.assertEqual(tree[arts[name].digest]["via"], "api", tree)
            self.assertEqual(tree[arts["cosign-sig"].digest]["via"], "cosign tag", tree)

    def assert_fake_filters(self, fake: FakeRegistry, repo: str, subject: str, mode: str) -> None:
        """The fake answers an artifactType filter as `mode` says, so the test above is not vacuous."""
        query = urllib.parse.urlencode({"artifactType": COSIGN_SIG_ARTIFACT})
        url = f"{fake.url}/v2/{repo}/referrers/{subject}?{query}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            applied = resp.headers.get("OCI-Filters-Applied")
            kinds = {d["artifactType"] for d in json.loads(resp.read())["manifests"]}
        if mode == "applied":
            self.assertEqual((applied, kinds), ("artifactType", {COSIGN_SIG_ARTIFACT}))
        else:
            self.assertEqual(applied, None)
            self.assertGreater(len(kinds), 1, "in this mode the fake should answer more than signatures")

    def test_destination_with_the_referrers_api_gets_no_fallback_tag(self):
        repo = "tofake/app"
        image, arts = self.signed_image(repo, "tofake")
        with FakeRegistry(referrers_api=True) as fake:
            self.sync({self.src_ref(repo) + ":v1": f"{fake.host}/{repo}"})
            self.assert_carried(fake, repo, arts, ALL)
            # The fake answered OCI-Subject to each referrer's PUT: no `sha256-<hex>` index is written there.
            self.assertEqual(fake.tags(repo), sorted(["v1", cosign_tag(image.digest)]))
            self.assertEqual(fake.count("PUT", r"/manifests/sha256-[0-9a-f]{64}$"), 0, fake.log_text())
            self.assertEqual(sorted(d["digest"] for d in fake.referrers(repo, image.digest)),
                             sorted(arts[n].digest for n in ("signature", "sbom", "attestation")))
            self.assertEqual([d["digest"] for d in fake.referrers(repo, arts["sbom"].digest)],
                             [arts["sbom-signature"].digest])
            # Subject before referrer: each referrer PUT comes after its subject's.
            puts = [p.path.rsplit("/", 1)[1] for p in fake.requests(method="PUT", path_regex="/manifests/")]
            subject_put = min(puts.index(ref) for ref in ("v1", image.digest) if ref in puts)
            for name in ("signature", "sbom", "attestation"):
                self.assertLess(subject_put, puts.index(arts[name].digest), puts)
            self.assertLess(puts.index(arts["sbom"].digest), puts.index(arts["sbom-signature"].digest), puts)
            # Harbor refuses a cosign tag whose subject is not there yet.
            self.assertLess(subject_put, puts.index(cosign_tag(image.digest)), puts)

    # --- copy and referrers --------------------------------------------------------------------------------
    def test_copy_carries_referrers_and_referrers_shows_the_tree(self):
        repo = "cp/app"
        image, arts = self.signed_image(repo, "cp")
        index, children, index_arts = self.signed_index(repo, "cp-index")

        self.run_ok("copy", self.src.ref(repo, "v1"), self.dst.ref(repo, "v1"))
        self.assert_carried(self.dst, repo, arts, ALL)
        self.assertEqual(sorted(self.fallback_digests(self.dst, repo, image.digest)),
                         sorted(arts[n].digest for n in ("signature", "sbom", "attestation")))
        self.assertEqual(sha256(get_manifest(self.dst, repo, cosign_tag(image.digest))[0]), arts["cosign-sig"].digest)
        self.assert_skopeo_reads(repo, image.digest, "v1", arts, ALL)
        self.run_ok("copy", self.src.ref(repo, "v2"), self.dst.ref(repo, "v2"))
        self.assert_carried(self.dst, repo, index_arts, index_arts)

        r = self.run_ok("referrers", self.src.ref(repo, "v1"), "--format", "json")
        doc = json.loads(r.stdout)
        self.assertEqual((doc["digest"], doc["media_type"]), (image.digest, seed.OCI_MANIFEST), doc)
        tree = {n["digest"]: n for n in doc["referrers"]}
        self.assertEqual(sorted(tree), sorted(arts[n].digest for n in ("signature", "sbom", "attestation",
                                                                       "cosign-sig")))
        for name, kind, via in (("signature", COSIGN_SIG_ARTIFACT, "tag schema"), ("sbom", SPDX, "tag schema"),
                                ("attestation", IN_TOTO, "tag schema")):
            node = tree[arts[name].digest]
            self.assertEqual((node["artifact_type"], node["via"], node["size"], node["media_type"]),
                             (kind, via, len(arts[name].body), seed.OCI_MANIFEST), node)
            self.assertEqual(node["annotations"], artifacts.CREATED, node)
        self.assertEqual(tree[arts["cosign-sig"].digest]["via"], "cosign tag")
        self.assertEqual(tree[arts["cosign-sig"].digest]["tag"], cosign_tag(image.digest))
        self.assertEqual([n["digest"] for n in tree[arts["sbom"].digest]["referrers"]], [arts["sbom-signature"].digest])
        self.assertEqual(tree[arts["signature"].digest].get("referrers", []), [])

        r = self.run_ok("referrers", self.src.ref(repo, "v2"), "--format", "json")
        doc = json.loads(r.stdout)
        self.assertEqual(doc["digest"], index.digest)
        self.assertEqual([n["digest"] for n in doc["referrers"]], [index_arts["index-signature"].digest])
        children_by_digest = {c["digest"]: c for c in doc["children"]}
        self.assertEqual(sorted(children_by_digest), sorted(c.digest for c in children))
        self.assertEqual([n["digest"] for n in children_by_digest[children[0].digest]["referrers"]],
                         [index_arts["amd64-signature"].digest])
        self.assertIn("amd64", json.dumps(children_by_digest[children[0].digest]["platform"]))

        text = self.run_ok("referrers", self.src.ref(repo, "v1")).stdout
        for name in ALL:
            self.assertIn(arts[name].digest, text)
        for kind in (COSIGN_SIG_ARTIFACT, SPDX, IN_TOTO):
            self.assertIn(kind, text)
        # The SBOM's signature is shown under the SBOM: on a later line, further right.
        lines = text.splitlines()
        where = {name: next((i, line.index(arts[name].digest)) for i, line in enumerate(lines)
                            if arts[name].digest in line) for name in ("sbom", "sbom-signature")}
        self.assertGreater(where["sbom-signature"][0], where["sbom"][0], text)
        self.assertGreater(where["sbom-signature"][1], where["sbom"][1], text)

    # --- the LabNow commands and image-syncer ---------------------------------------------------------------
    def test_sync_image_jobs_and_image_syncer_bring_referrers(self):
        labnow_env = {k: None for k in ("REGISTRY_URL", "IMG_NAMESPACE", "DOCKER_MIRROR_REGISTRY", "FILE_AUTH",
                                        "DOCKER_REGISTRY_USERNAME", "DOCKER_REGISTRY_PASSWORD",
                                        "DOCKER_MIRROR_REGISTRY_USERNAME", "DOCKER_MIRROR_REGISTRY_PASSWORD")}
        image, arts = self.signed_image("lab/signed", "lab")

        self.run_ok("sync-image", "lab/signed", "--tags=v1", f"--source-registry={self.src.host}",
                    f"--target-registry={self.dst.host}/si", env=labnow_env)
        self.assert_carried(self.dst, "si/lab/signed", arts, ALL)

        workflow = self.write("build-docker.yml", "jobs:\n  job-signed:\n    name: 'signed'\n"
                                                  "    runs-on: ubuntu-latest\n")
        self.run_ok("jobs", f"--workflow-file={workflow}", f"--source-registry={self.src.host}",
                    "--image-namespace=lab", f"--target-registry={self.dst.host}/jobs", env=labnow_env)
        self.assert_carried(self.dst, "jobs/lab/signed", arts, ALL)
        # Every tag of the repository: the referrer tags came with their subject, not as images.
        self.assertEqual(tags_of(self.dst, "jobs/lab/signed"), tags_of(self.src, "lab/signed"))

        # image-syncer's own command line and an images file without any new key.
        link = os.path.join(self.tmp, "image-syncer")
        os.symlink(os.path.abspath(os.environ["SYNCER_BIN"]), link)
        images = self.write("images.yaml", f"{self.src.host}/lab/signed:v1: {self.dst.host}/compat/signed\n")
        env = {k: v for k, v in os.environ.items() if k not in labnow_env and k.lower() not in SCRUBBED}
        r = subprocess.run([link, "--images", images], capture_output=True, text=True, timeout=120, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assert_carried(self.dst, "compat/signed", arts, ALL)


if __name__ == "__main__":
    import unittest
    unittest.main()
