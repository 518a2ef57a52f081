"""`cb-pipeline portal-user add` and `cb-pipeline serve` configuration errors, as a user runs them.

What belongs here: the commands in a subprocess (password on stdin, never argv), the users file
they write, and exit code 2 with one line for bad input. What does not: the running portal
(test_portal_browser.py).
"""

import subprocess

import yaml

from cb_pipeline.portal.users import load_users, verify
from cb_pipeline_tests.portal.pipeline import clean_env, command


def _cli(*args, stdin="", **env):
    return subprocess.run(command() + list(args), input=stdin, env=clean_env(**env), capture_output=True,
                          text=True, timeout=60)


def test_add_user_reads_the_password_from_stdin_and_stores_only_its_hash(tmp_path):
    users = tmp_path / "users.yaml"
    done = _cli("portal-user", "add", "carol", "--hwb", "E06000056", "e06000055", stdin="a-long-password-1\n",
                CB_PORTAL_USERS=str(users))
    assert done.returncode == 0, done.stderr
    assert "a-long-password-1" not in users.read_text() + done.stdout + done.stderr
    user = load_users(users)["carol"]
    assert user.hwbs == ("E06000056", "E06000055") and user.password_hash.startswith("$argon2id$")
    assert verify(user, "a-long-password-1") and not verify(user, "a-long-password-2") and not verify(None, "x")
    # again: the password and HWBs are replaced
    assert _cli("portal-user", "add", "carol", "--hwb", "E06000056", stdin="another-password-2\n",
                CB_PORTAL_USERS=str(users)).returncode == 0
    assert yaml.safe_load(users.read_text())["users"]["carol"]["hwbs"] == ["E06000056"]
    assert verify(load_users(users)["carol"], "another-password-2")


def test_bad_input_exits_2_with_one_line(tmp_path):
    users = tmp_path / "users.yaml"
    for args, stdin in ((["--hwb", "not-a-code"], "a-long-password-1\n"), (["--hwb", "E06000056"], "short\n"),
                        (["--hwb", "E06000056"], "")):
        done = _cli("portal-user", "add", "dave", *args, stdin=stdin, CB_PORTAL_USERS=str(users))
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not users.exists()
    done = _cli("serve", "--port", "1")  # no CB_PORTAL_SECRET: refused before listening
    assert done.returncode == 2 and "CB_PORTAL_SECRET" in done.stderr and "Traceback" not in done.stderr
