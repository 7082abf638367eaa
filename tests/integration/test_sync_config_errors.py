"""`syncer sync` refuses bad configuration with exit status 2 and a message naming the file, line and key.

No registry is contacted: every file names 127.0.0.1:9 (discard), and the run must fail before any network.
"""

import json
import os
import unittest

import harness
from harness import describe, run_syncer

HOST = "127.0.0.1:9"
GOOD_IMAGES = f'"{HOST}/src/app:v1": "{HOST}/dst/app"\n'


class SyncConfigErrorTest(harness.TempDirTestCase):
    def refused(self, *args: str, env: dict | None = None, mentions: tuple[str, ...] = ()) -> str:
        """Runs sync, expects exit 2 and every string of `mentions` in stderr; returns stderr."""
        result = run_syncer("sync", "--retries", "0", *args, env=env, timeout=60)
        self.assertEqual(result.returncode, 2, describe(result))
        for text in mentions:
            self.assertIn(text, result.stderr, describe(result))
        self.assertEqual(result.stdout, "", "nothing should be planned or printed on stdout")
        return result.stderr

    def test_unknown_extension(self):
        images = self.write("images.txt", GOOD_IMAGES)
        stderr = self.refused("--images", images, mentions=(images,))
        self.assertRegex(stderr, r"(?i)extension")
        auth = self.write("auth.conf", "{}\n")
        stderr = self.refused("--auth", auth, "--images", self.write("ok.yaml", GOOD_IMAGES), mentions=(auth,))
        self.assertRegex(stderr, r"(?i)extension")

    def test_invalid_yaml(self):
        images = self.write("broken.yaml", GOOD_IMAGES + f'"{HOST}/src/b": ["{HOST}/dst/b"\n'
                                                         f'"{HOST}/src/c": "{HOST}/dst/c"\n')
        stderr = self.refused("--images", images, mentions=(images,))
        # The unclosed flow sequence opens on line 2; the parser notices it on line 3.
        self.assertRegex(stderr, rf"{images}:[23]: ", "the message should give the line")
        self.assertRegex(stderr, r"(?i)invalid yaml")

    def test_invalid_json(self):
        images = self.write("broken.json", '{\n  "a/b": "c/d",\n  "e/f": \n}\n')
        stderr = self.refused("--images", images, mentions=(images,))
        self.assertRegex(stderr, rf"{images}:\d+", "the message should give the line")

    def test_bad_regex(self):
        images = self.write("regex.yaml", GOOD_IMAGES + f'"{HOST}/src/x:/[/": "{HOST}/dst/x"\n')
        self.refused("--images", images, mentions=(f"{images}:2", "/src/x:/[/", "regex"))

    def test_tag_count_mismatch(self):
        images = self.write("mismatch.yaml", "# two source tags, one destination tag\n" + GOOD_IMAGES +
                            f'"{HOST}/src/y:a,b":\n  - "{HOST}/dst/y1"\n  - "{HOST}/dst/y2:c"\n')
        self.refused("--images", images, mentions=(f"{images}:5", f"{HOST}/dst/y2:c", "2 tags"))

    def test_unknown_key_in_auth_entry(self):
        auth = self.write("auth.json", json.dumps({HOST: {"username": "u", "password": "p", "token": "x"}}, indent=2))
        # Line 5: {, "host": {, "username", "password", "token".
        self.refused("--auth", auth, "--images", self.write("ok.yaml", GOOD_IMAGES),
                     mentions=(f"{auth}:5", '"token"', HOST))

    def test_unset_variable_in_password(self):
        auth = self.write("auth.yaml", f'"{HOST}":\n  username: someone\n  password: pre-$SYNCER_TEST_UNSET_VAR\n')
        stderr = self.refused("--auth", auth, "--images", self.write("ok.yaml", GOOD_IMAGES),
                              env={"SYNCER_TEST_UNSET_VAR": None},
                              mentions=(f"{auth}:3", "SYNCER_TEST_UNSET_VAR", "password"))
        self.assertNotIn("pre-", stderr, "the message should not quote the password")

    def test_json_values_that_are_not_strings(self):
        # Before: 42 was read as the destination docker.io/library/42, and 5 as the password "5".
        images = self.write("numbers.json", '{\n  "%s/src/repo": 42\n}\n' % HOST)
        self.refused("--images", images, mentions=(f"{images}:2", "destination must be a string", "quote it"))
        auth = self.write("typed.json", json.dumps({HOST: {"username": "u", "password": 5}}, indent=2))
        # Line 4: {, "host": {, "username", "password".
        self.refused("--auth", auth, "--images", self.write("ok.yaml", GOOD_IMAGES),
                     mentions=(f"{auth}:4", '"password" must be a string', "quote it"))

    def test_unknown_key_in_config(self):
        config = self.write("config.json", '{\n  "auth": {},\n  "imagez": {}\n}\n')
        self.refused("--config", config, mentions=(f"{config}:3", '"imagez"'))

    def test_missing_images(self):
        auth = self.write("auth.yaml", f'"{HOST}":\n  username: u\n  password: p\n')
        self.refused("--auth", auth, mentions=("--images",))
        self.refused(mentions=("--images",))

    def test_missing_file(self):
        missing = os.path.join(self.tmp, "nope.yaml")
        self.refused("--images", missing, mentions=(missing,))

    def test_bad_shard(self):
        images = self.write("ok.yaml", GOOD_IMAGES)
        for bad in ("3/3", "1", "-1/2", "a/b"):
            with self.subTest(shard=bad):
                self.refused("--images", images, "--dry-run", f"--shard={bad}", mentions=("--shard",))


if __name__ == "__main__":
    unittest.main()
