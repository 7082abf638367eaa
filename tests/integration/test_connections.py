"""Connections of a `syncer sync` between two TLS docker-registry processes: keep-alive for the whole run, TLS
session resumption, and the counts the report (`registries`) and the metrics file give (issue 14)."""

import contextlib
import json
import os
import re
import unittest

import harness
import seed
from harness import describe, run_syncer

# Calls in flight per registry (sync_options::metadata_concurrency + blob_concurrency caps), one request each.
PER_REGISTRY = 64 + 16  # the adaptive caps per registry: metadata requests + blob transfers (docs/sync.md)
REPOS = [f"conn/app-{i}" for i in range(6)]
TAGS = ["v1", "v2"]


def registry_entries(report: dict) -> dict:
    """The entries of registries the run talked to; layouts and archives carry only their `concurrency`."""
    return {entry["registry"]: entry for entry in report["registries"] if "requests" in entry}


def metric(text: str, name: str, registry: str) -> int:
    found = re.search(rf'^{name}{{registry="{re.escape(registry)}"}} (\d+)$', text, re.M)
    if not found:
        raise AssertionError(f"no {name} for {registry} in the metrics file:\n{text}")
    return int(found.group(1))


class ConnectionsTest(harness.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        stack = contextlib.ExitStack()
        cls.addClassCleanup(stack.close)
        cls.src = stack.enter_context(harness.Registry(name="conn-src", tls=True))
        cls.dst = stack.enter_context(harness.Registry(name="conn-dst", tls=True))
        client = seed.Client.for_registry(cls.src)
        for repo in REPOS:
            for tag in TAGS:
                seed.push_image(client, repo, f"{repo}:{tag}", tag=tag)

    def auth_file(self) -> str:
        return self.write("auth.yaml", "".join(f'"{r.host}":\n  insecure: true\n' for r in (self.src, self.dst)))

    def sync(self, name: str) -> tuple[dict, str]:
        images = self.write("images.yaml", "".join(
            f'"{self.src.host}/{repo}": "{self.dst.host}/{repo}"\n' for repo in REPOS))
        return self.run_reported(name, "sync", "--auth", self.auth_file(), "--images", images)

    def run_reported(self, name: str, *args: str) -> tuple[dict, str]:
        report_path = os.path.join(self.tmp, f"{name}.json")
        metrics_path = os.path.join(self.tmp, f"{name}.prom")
        result = run_syncer(*args, "--report", report_path, "--metrics-file", metrics_path)
        self.assertEqual(result.returncode, 0, describe(result))
        with open(report_path) as f:
            report = json.load(f)
        with open(metrics_path) as f:
            metrics = f.read()
        return report, metrics

    def assert_connections(self, report: dict, metrics: str, registries: list | None = None) -> None:
        entries = registry_entries(report)
        expected = [r.host for r in (registries or [self.src, self.dst])]
        self.assertEqual(sorted(entries), sorted(expected), report["registries"])
        for host, entry in entries.items():
            with self.subTest(registry=host):
                self.assertEqual(list(entry), ["registry", "requests", "token_fetches", "retries", "errors",
                                               "connections", "tls_handshakes", "tls_resumed", "concurrency"])
                # Keep-alive for the whole run: no more connections than requests in flight at once.
                self.assertGreaterEqual(entry["connections"], 1)
                self.assertLessEqual(entry["connections"], min(PER_REGISTRY, entry["requests"]))
                # The ping goes alone, before anything else: its connection's handshake is the only full one,
                # and every later connection resumes the session the registry issued on it. A loopback
                # registry may speak plain HTTP, so the ping asks that scheme too, at once: one connection
                # without TLS.
                self.assertEqual(entry["tls_handshakes"], 1, entry)
                self.assertEqual(entry["tls_resumed"], entry["connections"] - 2, entry)
                self.assertEqual(entry["errors"], 0, entry)
                for key, name in [("connections", "syncer_registry_connections"),
                                  ("tls_handshakes", "syncer_registry_tls_handshakes"),
                                  ("tls_resumed", "syncer_registry_tls_resumed"),
                                  ("requests", "syncer_registry_requests")]:
                    self.assertEqual(metric(metrics, name, host), entry[key], name)

    def test_cold_sync_then_no_op(self):
        report, metrics = self.sync("cold")
        self.assertEqual(report["totals"]["copied"], len(REPOS) * len(TAGS), report["totals"])
        self.assert_connections(report, metrics)
        # The destination's entry counts its own requests, not the source's.
        self.assertGreater(registry_entries(report)[self.dst.host]["requests"], 0)

        again, metrics = self.sync("no-op")
        self.assertEqual(again["totals"]["skipped"], len(REPOS) * len(TAGS), again["totals"])
        self.assert_connections(again, metrics)

    def test_export_and_import_report_their_registry(self):
        layout = os.path.join(self.tmp, "layout")
        images = self.write("export.yaml", "".join(f'"{self.src.host}/{repo}": "{repo}"\n' for repo in REPOS))
        exported, metrics = self.run_reported("export", "export", "--auth", self.auth_file(), "--images", images,
                                              "--to", f"oci:{layout}")
        self.assertEqual(exported["totals"]["copied"], len(REPOS) * len(TAGS), exported["totals"])
        self.assert_connections(exported, metrics, [self.src])

        imported, metrics = self.run_reported("import", "import", f"oci:{layout}", "--to",
                                              f"{self.dst.host}/imported", "--auth", self.auth_file())
        self.assertEqual(imported["totals"]["copied"], len(REPOS) * len(TAGS), imported["totals"])
        self.assert_connections(imported, metrics, [self.dst])


if __name__ == "__main__":
    unittest.main()
