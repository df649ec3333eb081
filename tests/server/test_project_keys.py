"""Client keys mapped to projects: ``ASSISTANTS_SERVER_API_KEYS="team-a:sk-a1,..."`` and a keys
file, read as ``assistants-server`` and ``wsgi_app()`` read them, and refused at start-up when a
key could never match (exit 2, one line saying which entry and why, never the key itself).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assistants_client.server import ConfigError, parse_config
from tests.server.support import BOUND, ROOT, server_command, server_environ

ENV = "ASSISTANTS_SERVER_API_KEYS"
FILE_ENV = "ASSISTANTS_SERVER_API_KEYS_FILE"
BACKEND = ["--backend-url", "http://127.0.0.1:9/v1"]


def keys(value: str, *flags: str, **environ: str) -> dict[str, str]:
    config = parse_config([*BACKEND, *flags], {ENV: value, **environ})
    return dict(config.api_keys)


def keys_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "client-keys"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_each_key_belongs_to_the_project_before_its_colon_and_a_project_may_have_several():
    found = keys("team-a:sk-a1,team-a:sk-a2,team-b:sk-b1")
    assert found == {"sk-a1": "team-a", "sk-a2": "team-a", "sk-b1": "team-b"}


def test_keys_without_a_project_keep_the_shared_namespace():
    assert keys("sk-old, sk-older , team-a:sk-a1") == {
        "sk-old": "",
        "sk-older": "",
        "sk-a1": "team-a",
    }
    assert keys("") == {}
    assert keys("  ") == {}


def test_a_key_with_colons_is_written_after_its_project_the_shared_one_being_empty():
    assert keys("team-a:key:with:colons,:shared:key") == {
        "key:with:colons": "team-a",
        "shared:key": "",
    }
    # The first colon ends the project's name, whatever follows.
    assert keys("sk-proj-abc:def") == {"def": "sk-proj-abc"}


def test_project_names_of_64_letters_digits_dots_underscores_and_dashes_are_accepted():
    name = "A" + "b.c_d-9" * 9
    assert len(name) == 64
    assert keys(f"{name}:sk-1,x:sk-2") == {"sk-1": name, "sk-2": "x"}


SECRET = "sk-SECRET-0123456789"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (f"team-a:{SECRET}€", ["entry 1", "outside Latin-1"]),
        (f"team-a:{SECRET[:5]}\u2028{SECRET[5:]}", ["entry 1", "outside Latin-1"]),
        (f"sk-ok,team-a: {SECRET}", ["entry 2", "spaces at an end"]),
        (f"team-a:\xa0{SECRET}", ["entry 1", "spaces at an end"]),
        (f"team-a:{SECRET}\x01", ["entry 1", "control characters"]),
        (f"team-a:{SECRET[:5]}\t{SECRET[5:]}", ["entry 1", "control characters"]),
        (f"team-a:{SECRET}\x85x", ["entry 1", "control characters"]),
        ("team-a:", ["entry 1", "empty"]),
        (":", ["entry 1", "empty"]),
        (f"sk-ok,,{SECRET}", ["entry 2", "the entry is empty"]),
        (f"{SECRET},", ["entry 2", "the entry is empty"]),
        (f"team a:{SECRET}", ["entry 1", "project name", "1 to 64"]),
        (f"-team:{SECRET}", ["entry 1", "project name", "starting with a letter or a digit"]),
        (f"{'a' * 65}:{SECRET}", ["entry 1", "project name"]),
        (f"team/a:{SECRET}", ["entry 1", "project name", "':KEY'"]),
        (f"team-a:{SECRET},team-b:{SECRET}", ["entry 2", "entry 1", "'team-a', 'team-b'"]),
        (f"{SECRET},team-b:{SECRET}", ["entry 2", "two projects", "'', 'team-b'"]),
    ],
)
def test_a_key_that_can_never_match_is_refused_naming_its_entry_not_its_text(value, words):
    with pytest.raises(ConfigError) as refused:
        keys(value)
    message = str(refused.value)
    assert message.startswith(f"{ENV} entry ")
    for word in words:
        assert word in message
    assert SECRET not in message
    assert SECRET[:8] not in message
    assert "\n" not in message


def test_the_same_key_twice_in_one_project_is_one_key():
    assert keys("team-a:sk-1,team-a:sk-1") == {"sk-1": "team-a"}


def test_the_command_refuses_a_bad_key_with_one_line_and_exit_2():
    result = subprocess.run(
        server_command(*BACKEND, "--port", "0"),
        cwd=ROOT,
        env=server_environ(**{ENV: f"team-a:sk-a1,team-b: {SECRET}"}),
        capture_output=True,
        text=True,
        timeout=BOUND * 3,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"assistants-server: {ENV} entry 2: the key has spaces at an end, which no request "
        "can carry\n"
    )


# -- the keys file ---------------------------------------------------------------------------------


def test_a_keys_file_holds_an_entry_a_line_beside_the_variables_keys(tmp_path: Path):
    path = keys_file(
        tmp_path,
        "# rotated on 2026-09-01\nteam-a:sk-a1\n\n  team-a:sk-a2  \r\nsk-shared\nteam-b:k:1\n",
    )
    expected = {"sk-a1": "team-a", "sk-a2": "team-a", "sk-shared": "", "k:1": "team-b"}
    assert keys("", "--api-keys-file", str(path)) == expected
    assert keys("", **{FILE_ENV: str(path)}) == expected
    assert keys("team-c:sk-c1", "--api-keys-file", str(path)) == {**expected, "sk-c1": "team-c"}


def test_a_keys_file_that_others_can_read_is_refused_with_the_fix(tmp_path: Path):
    path = keys_file(tmp_path, f"team-a:{SECRET}\n", mode=0o644)
    with pytest.raises(ConfigError) as refused:
        keys("", "--api-keys-file", str(path))
    assert "other users (mode 644)" in str(refused.value)
    assert f"chmod 600 {path}" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_a_keys_file_names_its_bad_line(tmp_path: Path):
    path = keys_file(tmp_path, f"# keys\nteam-a:sk-a1\nteam-b:{SECRET}\x7f\n")
    with pytest.raises(ConfigError, match=r"^client-keys line 3: the key has control characters$"):
        keys("", "--api-keys-file", str(path))
    clash = keys_file(tmp_path, f"team-b:{SECRET}\n")
    with pytest.raises(ConfigError, match=f"client-keys line 1: the same key as {ENV} entry 1"):
        keys(f"team-a:{SECRET}", "--api-keys-file", str(clash))


@pytest.mark.parametrize(
    ("text", "words"),
    [(None, "cannot read the keys file"), ("# none yet\n\n", "holds no keys")],
)
def test_a_missing_or_empty_keys_file_is_refused(tmp_path: Path, text, words):
    path = tmp_path / "client-keys" if text is None else keys_file(tmp_path, text)
    with pytest.raises(ConfigError, match=words):
        keys("", "--api-keys-file", str(path))


def test_keys_from_a_file_let_the_server_bind_a_public_address(tmp_path: Path):
    path = keys_file(tmp_path, "team-a:sk-a1\n")
    config = parse_config([*BACKEND, "--host", "0.0.0.0", "--api-keys-file", str(path)], {})
    config.check_bind()
    assert config.api_keys == {"sk-a1": "team-a"}
    assert "sk-a1" not in repr(config)
