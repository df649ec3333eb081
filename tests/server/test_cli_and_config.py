"""``assistants-server`` as a command, its settings, and the keys clients must present.

The command runs as ``python -m assistants_client.server`` in a child process; settings are
also read in-process with ``parse_config``, the function the command and ``wsgi_app()`` share.
"""

from __future__ import annotations

import datetime
import hmac
import logging
import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from typing import Any

import pytest
import requests

from assistants_client import AssistantsClient, AuthenticationError, InvalidArgumentError
from assistants_client.server import ConfigError, ServerConfig, parse_config
from assistants_client.server.__main__ import BACKEND_CHECK_TIMEOUT
from assistants_client.server.errors import ApiError
from assistants_client.server.http import Credentials
from assistants_client.server.httpd import DEFAULT_BACKLOG
from tests.server.support import (
    BACKEND_KEY,
    BOUND,
    ROOT,
    run_process,
    server_command,
    server_environ,
    wait_until,
)
from tests.servers.fake_chat import FakeChatServer, text_answer

CLIENT_KEYS = ("sk-client-one-0123456789", "sk-client-two-abcdefghij", "sk-client-three-xyz")


def run_to_exit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        server_command(*args),
        cwd=ROOT,
        env=server_environ(**env),
        capture_output=True,
        text=True,
        timeout=BOUND * 3,
    )


# -- the command -----------------------------------------------------------------------------------


def test_the_command_prints_its_base_url_and_serves_runs_there_with_its_settings(
    backend: FakeChatServer,
):
    server = run_process(
        "--backend-url",
        backend.base_url,
        "--port",
        "0",
        "--model-map",
        "gpt-4o=llama3.1:8b",
        "--model-map",
        "gpt-4o-mini=qwen2",
        environ=server_environ(ASSISTANTS_BACKEND_API_KEY=BACKEND_KEY),
    )
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", server.base_url)
        backend.script(text_answer("Hello from the backend.", chunks=3))
        with AssistantsClient(base_url=server.base_url, timeout=BOUND) as client:
            assistant = client.create_assistant("gpt-4o")
            thread = client.create_thread(messages=[{"role": "user", "content": "Hi"}])
            with client.stream_run(thread.id, assistant.id) as stream:
                text = "".join(stream.text_deltas())
        assert text == "Hello from the backend."
        assert backend.chat_requests()[0].headers["Authorization"] == f"Bearer {BACKEND_KEY}"
        assert backend.last_body()["model"] == "llama3.1:8b"
    finally:
        server.stop()
    assert server.process.returncode == 0  # SIGTERM stops it cleanly


class LoggedLines:
    """The lines a server process writes to stderr, read as they come."""

    def __init__(self, server: Any) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(server.process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        try:
            for line in process.stderr:
                self.lines.append(line.rstrip("\n"))
        except (ValueError, OSError):  # closed by ServerProcess.stop()
            pass

    def naming(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]


def test_an_unreachable_backend_is_named_in_one_warning_at_start_up_and_the_server_serves():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    server = run_process("--backend-url", url, "--port", "0")
    log = LoggedLines(server)
    try:
        wait_until(lambda: log.naming(url), what="the warning")
        assert requests.get(f"{server.base_url}/assistants", timeout=BOUND).status_code == 200
    finally:
        server.stop()
    (named,) = log.naming(url)
    assert " WARNING " in named
    assert named.endswith(
        f"the backend at {url} cannot be reached (ConnectionError): runs fail until it can"
    )


def test_start_up_does_not_wait_for_a_silent_backend_which_gets_its_warning_later():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # takes connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        server = run_process("--backend-url", url, "--port", "0")
        printed = datetime.datetime.now()
        log = LoggedLines(server)
        try:
            assert requests.get(f"{server.base_url}/assistants", timeout=BOUND).status_code == 200
            wait_until(lambda: log.naming(url), what="the warning")
        finally:
            server.stop()
    (named,) = log.naming(url)
    assert named.endswith(
        f"the backend at {url} does not answer (no answer within {BACKEND_CHECK_TIMEOUT:g} s): "
        "runs fail until it does"
    )
    # The base URL came out first, about the check's whole wait before its warning.
    warned = datetime.datetime.strptime(named[:23], "%Y-%m-%d %H:%M:%S,%f")
    assert (warned - printed).total_seconds() > BACKEND_CHECK_TIMEOUT / 2


def test_a_backend_that_answers_gets_no_warning(backend: FakeChatServer):
    server = run_process("--backend-url", backend.base_url, "--port", "0")
    log = LoggedLines(server)
    try:
        wait_until(lambda: backend.request_count > 0, what="the start-up check")
    finally:
        server.stop()
    assert [r.path for r in backend.requests] == ["/v1/models"]
    assert not log.naming(backend.base_url)


def test_binding_a_public_address_without_client_keys_is_refused(backend):
    result = run_to_exit("--backend-url", backend.base_url, "--host", "0.0.0.0", "--port", "0")

    assert result.returncode == 2
    assert "ASSISTANTS_SERVER_API_KEYS" in result.stderr
    assert "0.0.0.0" in result.stderr
    assert result.stdout == ""


def test_a_public_address_with_client_keys_is_served_to_clients_with_a_key(backend):
    server = run_process(
        "--backend-url",
        backend.base_url,
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        environ=server_environ(ASSISTANTS_SERVER_API_KEYS=",".join(CLIENT_KEYS)),
    )
    try:
        assert re.fullmatch(r"http://0\.0\.0\.0:\d+/v1", server.base_url)
        url = server.base_url.replace("0.0.0.0", "127.0.0.1") + "/assistants"
        assert requests.get(url, timeout=BOUND).status_code == 401
        headers = {"Authorization": f"Bearer {CLIENT_KEYS[1]}"}
        assert requests.get(url, headers=headers, timeout=BOUND).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], ["--backend-url", "ASSISTANTS_BACKEND_URL"]),
        (["--backend-url", "localhost:11434"], ["http(s) URL", "localhost:11434"]),
        (["--backend-url", "http://x", "--port", "eighty"], ["--port", "number", "eighty"]),
        (["--backend-url", "http://x", "--workers", "0"], ["--workers", "at least 1"]),
        (["--backend-url", "http://x", "--port", "70000"], ["--port", "at most 65535", "70000"]),
        (["--backend-url", "http://x", "--model-map", "gpt-4o"], ["--model-map", "FROM=TO"]),
        (
            ["--backend-url", "http://x", "--completion-tokens-field", "tokens"],
            ["max_completion_tokens", "max_tokens"],
        ),
    ],
    ids=[
        "no-backend",
        "bad-url",
        "bad-port",
        "no-workers",
        "port-too-high",
        "bad-map",
        "bad-field",
    ],
)
def test_configuration_errors_exit_2_with_a_message_that_says_what_to_change(args, words):
    result = run_to_exit(*args)

    assert result.returncode == 2
    assert result.stderr.startswith("assistants-server: ")
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.stderr


NUMERIC_FLAGS = [
    ("port", "ASSISTANTS_PORT", "65536"),
    ("workers", "ASSISTANTS_WORKERS", "100000000000000000000"),
    ("db-pool", "ASSISTANTS_DB_POOL", "100000000000000000000"),
    ("db-timeout", "ASSISTANTS_DB_TIMEOUT", "inf"),
    ("run-lease", "ASSISTANTS_RUN_LEASE", "1e300"),
    ("max-connections", "ASSISTANTS_MAX_CONNECTIONS", "100000000000000000000"),
    ("threads", "ASSISTANTS_THREADS", "100000000000000000000"),
    ("run-expiry", "ASSISTANTS_RUN_EXPIRY", "1e308"),
    ("backend-timeout", "ASSISTANTS_BACKEND_TIMEOUT", "1e300"),
    ("backend-retries", "ASSISTANTS_BACKEND_RETRIES", "100000000000000000000"),
    ("backend-max-text", "ASSISTANTS_BACKEND_MAX_TEXT", "100000000000000000000"),
    ("backend-max-duration", "ASSISTANTS_BACKEND_MAX_DURATION", "1e300"),
    ("max-file-bytes", "ASSISTANTS_MAX_FILE_BYTES", "100000000000000000000"),
]


@pytest.mark.parametrize(("flag", "env", "huge"), NUMERIC_FLAGS, ids=[f[0] for f in NUMERIC_FLAGS])
def test_every_numeric_setting_refuses_what_could_not_work_with_the_same_one_line_error(
    flag, env, huge
):
    for source in (([f"--{flag}", huge], {}), ([], {env: huge})):
        with pytest.raises(
            ConfigError, match=rf"^--{flag} must be at most [\d.e+]+, got '{huge}'$"
        ):
            parse_config(["--backend-url", "http://x", *source[0]], source[1])
    for bad in ("nan", "ten", "-1"):
        with pytest.raises(ConfigError, match=rf"^--{flag} must be "):
            parse_config(["--backend-url", "http://x", f"--{flag}", bad], {})


def test_an_upload_limit_past_a_billion_bytes_is_taken():
    config = parse_config(["--backend-url", "http://x", "--max-file-bytes", str(4 << 30)], {})
    assert config.max_file_bytes == 4 << 30


def test_secrets_are_not_taken_as_flags():
    result = run_to_exit("--backend-url", "http://x", "--backend-api-key", "sk-nope")

    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


def test_help_names_every_setting_and_its_environment_variable():
    result = run_to_exit("--help")

    assert result.returncode == 0
    for flag, env in [
        ("--backend-url", "ASSISTANTS_BACKEND_URL"),
        ("--model-map", "ASSISTANTS_MODEL_MAP"),
        ("--workers", "ASSISTANTS_WORKERS"),
        ("--run-expiry", "ASSISTANTS_RUN_EXPIRY"),
        ("--backend-timeout", "ASSISTANTS_BACKEND_TIMEOUT"),
        ("--backend-max-text", "ASSISTANTS_BACKEND_MAX_TEXT"),
        ("--backend-max-duration", "ASSISTANTS_BACKEND_MAX_DURATION"),
        ("--db", "ASSISTANTS_DB"),
    ]:
        assert flag in result.stdout
        assert env in result.stdout
    assert "ASSISTANTS_BACKEND_API_KEY" in result.stdout
    assert "ASSISTANTS_SERVER_API_KEYS" in result.stdout


def test_the_listen_queue_holds_128_pending_connections(backend):
    """While the server is stopped (SIGSTOP), the kernel completes handshakes only for as many
    connections as the listen queue holds; they are all served once it resumes."""
    server = run_process("--backend-url", backend.base_url, "--port", "0")
    host, port = "127.0.0.1", int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    pending: list[socket.socket] = []
    try:
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            for _ in range(DEFAULT_BACKLOG):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex((host, port))
                pending.append(sock)
            deadline = time.monotonic() + BOUND
            connected: set[int] = set()
            while len(connected) < len(pending) and time.monotonic() < deadline:
                waiting = [s for s in pending if s.fileno() not in connected]
                _, writable, _ = select.select([], waiting, [], 0.1)
                for sock in writable:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        connected.add(sock.fileno())
            assert len(connected) == DEFAULT_BACKLOG == 128
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        answer = requests.get(f"{server.base_url}/assistants", timeout=BOUND)
        assert answer.status_code == 200
        for sock in pending[:3]:  # the queued connections are served too
            sock.setblocking(True)
            sock.settimeout(BOUND)
            sock.sendall(b"GET /v1/assistants HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for sock in pending:
            sock.close()
        server.stop()


# -- client keys -----------------------------------------------------------------------------------


@pytest.fixture
def keyed(make_server) -> Any:
    environ = {"ASSISTANTS_SERVER_API_KEYS": " , ".join(CLIENT_KEYS)}
    return make_server(environ=environ)


def test_a_request_without_a_key_gets_401(keyed):
    answer = requests.get(f"{keyed.base_url}/assistants", timeout=BOUND)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "missing_api_key"


def test_a_request_with_a_wrong_key_gets_401_without_the_key_echoed(keyed):
    wrong = "sk-client-one-0123456789X"
    answer = requests.get(
        f"{keyed.base_url}/assistants", headers={"Authorization": f"Bearer {wrong}"}, timeout=BOUND
    )

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"
    assert wrong not in answer.text
    assert "0123456789" not in answer.text


@pytest.mark.parametrize("key", CLIENT_KEYS)
def test_every_configured_key_is_accepted(keyed, key):
    with keyed.client(api_key=key) as client:
        assert client.create_thread().object == "thread"


def test_a_prefix_or_an_extension_of_a_key_is_refused(keyed):
    for near in (CLIENT_KEYS[0][:-1], CLIENT_KEYS[0] + "0", CLIENT_KEYS[0].upper(), ""):
        with keyed.client(api_key=near or "x") as client, pytest.raises(AuthenticationError):
            client.create_thread()


def test_an_unauthenticated_request_gets_401_before_its_body_is_read(keyed):
    with socket.create_connection(("127.0.0.1", keyed.http.port), timeout=BOUND) as sock:
        sock.sendall(
            b"POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n{"
        )
        head = sock.recv(4096)

    assert head.startswith(b"HTTP/1.1 401")


def test_every_key_is_compared_in_constant_time_whichever_matches(keyed, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for key in (CLIENT_KEYS[0], CLIENT_KEYS[2], "sk-wrong"):
        compared.clear()
        requests.get(
            f"{keyed.base_url}/assistants",
            headers={"Authorization": f"Bearer {key}"},
            timeout=BOUND,
        )
        assert sorted(b for _, b in compared) == sorted(k.encode() for k in CLIENT_KEYS)


def test_without_keys_only_loopback_clients_are_served():
    open_to_loopback = Credentials(loopback_only=True)

    open_to_loopback.check({}, "127.0.0.1")
    open_to_loopback.check({}, "::1")
    # An IPv4 client as a dual-stack socket reports it.
    open_to_loopback.check({}, "::ffff:127.0.0.1")
    for outsider in ("192.0.2.10", "::ffff:192.0.2.10"):
        with pytest.raises(ApiError) as refused:
            open_to_loopback.check({}, outsider)
        assert refused.value.status == 401
        assert "ASSISTANTS_SERVER_API_KEYS" in refused.value.body()["error"]["message"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("app.localhost", True),
        ("a.b.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost.example.com", False),
        ("notlocalhost", False),
        ("example.com", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.10", False),
        ("", False),
    ],
)
def test_the_server_and_the_client_agree_on_which_hosts_are_loopback(host, loopback):
    # The server binds without client keys only there...
    config = ServerConfig(backend_url="http://127.0.0.1:9/v1", host=host)
    if loopback:
        config.check_bind()
    else:
        with pytest.raises(ConfigError, match="without client keys"):
            config.check_bind()
    # ...and the client sends a Foundry token over plain http only there.
    if not host:
        return
    address = host.strip("[]")
    endpoint = f"http://{f'[{address}]' if ':' in address else address}/api/projects/p"
    if loopback:
        with AssistantsClient.for_foundry(endpoint, azure_ad_token="token") as client:
            assert client.base_url == endpoint
    else:
        with pytest.raises(InvalidArgumentError, match="https"):
            AssistantsClient.for_foundry(endpoint, azure_ad_token="token")


# -- settings --------------------------------------------------------------------------------------


def test_model_map_is_repeatable_and_read_from_the_environment_comma_separated():
    flags = parse_config(
        ["--backend-url", "http://x", "--model-map", "a=b", "--model-map", " c = d "], {}
    )
    env = parse_config(
        [], {"ASSISTANTS_BACKEND_URL": "http://x", "ASSISTANTS_MODEL_MAP": "a=b,c=d"}
    )

    assert dict(flags.model_map) == dict(env.model_map) == {"a": "b", "c": "d"}


def test_a_flag_wins_over_its_environment_variable():
    config = parse_config(
        ["--backend-url", "http://flag/v1", "--workers", "3"],
        {"ASSISTANTS_BACKEND_URL": "http://env/v1", "ASSISTANTS_WORKERS": "9"},
    )

    assert (config.backend_url, config.workers) == ("http://flag/v1", 3)


def test_every_setting_can_come_from_the_environment():
    config = parse_config(
        [],
        {
            "ASSISTANTS_BACKEND_URL": "http://127.0.0.1:11434/v1/",
            "ASSISTANTS_HOST": "::1",
            "ASSISTANTS_PORT": "8123",
            "ASSISTANTS_DB": "/tmp/x.db",
            "ASSISTANTS_WORKERS": "4",
            "ASSISTANTS_MAX_CONNECTIONS": "50",
            "ASSISTANTS_RUN_EXPIRY": "30",
            "ASSISTANTS_BACKEND_TIMEOUT": "12.5",
            "ASSISTANTS_BACKEND_RETRIES": "0",
            "ASSISTANTS_COMPLETION_TOKENS_FIELD": "max_tokens",
            "ASSISTANTS_LOG_LEVEL": "debug",
            "ASSISTANTS_BACKEND_API_KEY": BACKEND_KEY,
            "ASSISTANTS_SERVER_API_KEYS": "k1, k2",
        },
    )

    assert config.backend_url == "http://127.0.0.1:11434/v1"
    assert config.base_url == "http://[::1]:8123/v1"
    assert (config.db, config.workers, config.max_connections) == ("/tmp/x.db", 4, 50)
    assert (config.run_expiry, config.backend_read_timeout, config.backend_max_retries) == (
        30.0,
        12.5,
        0,
    )
    assert (config.completion_tokens_field, config.log_level) == ("max_tokens", "DEBUG")
    assert (config.backend_api_key, config.api_keys) == (BACKEND_KEY, {"k1": "", "k2": ""})
    assert BACKEND_KEY not in repr(config)
    assert "k1" not in repr(config)


def test_a_backend_answer_is_capped_at_8_mi_characters_and_15_minutes_unless_set():
    default = parse_config(["--backend-url", "http://x"], {})
    flagged = parse_config(
        ["--backend-url", "http://x", "--backend-max-text", "1000", "--backend-max-duration", "30"],
        {},
    )
    from_environment = parse_config(
        [],
        {
            "ASSISTANTS_BACKEND_URL": "http://x",
            "ASSISTANTS_BACKEND_MAX_TEXT": "2000",
            "ASSISTANTS_BACKEND_MAX_DURATION": "60.5",
        },
    )

    assert (default.backend_max_text, default.backend_max_duration) == (8 * 1024 * 1024, 900.0)
    assert (flagged.backend_max_text, flagged.backend_max_duration) == (1000, 30.0)
    assert (from_environment.backend_max_text, from_environment.backend_max_duration) == (
        2000,
        60.5,
    )
    for flag, value in (("--backend-max-text", "0"), ("--backend-max-duration", "0")):
        with pytest.raises(ConfigError, match=f"{flag} must be at least"):
            parse_config(["--backend-url", "http://x", flag, value], {})


def test_a_config_error_is_a_value_error_with_the_fix_in_its_message():
    with pytest.raises(ConfigError, match="--backend-url must be an http"):
        parse_config(["--backend-url", "ftp://x"], {})
    with pytest.raises(ConfigError, match="--run-expiry must be at least 1"):
        parse_config(["--backend-url", "http://x", "--run-expiry", "0.5"], {})


# -- the store -------------------------------------------------------------------------------------


def test_the_store_settings_come_from_flags_or_the_environment():
    flags = parse_config(
        ["--backend-url", "http://x", "--db-pool", "4", "--db-timeout", "2.5", "--run-lease", "3"],
        {},
    )
    env = parse_config(
        [],
        {
            "ASSISTANTS_BACKEND_URL": "http://x",
            "ASSISTANTS_DB": "postgresql://assistants@db.internal/assistants",
            "ASSISTANTS_DB_POOL": "20",
            "ASSISTANTS_DB_TIMEOUT": "30",
            "ASSISTANTS_RUN_LEASE": "15",
        },
    )

    assert (flags.db_pool, flags.db_timeout, flags.run_lease) == (4, 2.5, 3.0)
    assert (env.db, env.db_pool, env.db_timeout, env.run_lease) == (
        "postgresql://assistants@db.internal/assistants",
        20,
        30.0,
        15.0,
    )
    with pytest.raises(ConfigError, match="--run-lease must be at least 1"):
        parse_config(["--backend-url", "http://x", "--run-lease", "0.5"], {})


def test_a_database_password_in_a_flag_is_taken_with_a_warning_and_never_shown(caplog):
    url = "postgresql://assistants:s3cret-pw@db.internal:5432/assistants"
    with caplog.at_level(logging.WARNING, logger="assistants_client.server"):
        config = parse_config(["--backend-url", "http://x", "--db", url], {})
    assert config.db == url
    assert "ASSISTANTS_DB" in caplog.text
    assert "s3cret-pw" not in caplog.text
    assert "s3cret-pw" not in repr(config)

    config = parse_config(["--backend-url", "http://x"], {"ASSISTANTS_DB": url})
    assert config.db == url
    assert "s3cret-pw" not in repr(config)
    assert "postgresql://assistants:***@db.internal:5432/assistants" in repr(config)


def test_a_store_written_by_a_newer_server_exits_2_saying_so(tmp_path):
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version VALUES (99)")

    result = run_to_exit("--backend-url", "http://x", "--port", "0", "--db", str(db))

    assert result.returncode == 2
    assert result.stderr.startswith("assistants-server: ")
    assert "schema version 99" in result.stderr
    assert "newer server" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_cannot_be_reached_at_start_exits_1_saying_so():
    result = run_to_exit(
        "--backend-url",
        "http://x",
        "--port",
        "0",
        "--db-timeout",
        "1",
        ASSISTANTS_DB="postgresql://assistants:s3cret-pw@127.0.0.1:1/assistants",
    )

    assert result.returncode == 1
    assert result.stderr.startswith("assistants-server: cannot open the store: ")
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert "Traceback" not in result.stderr
