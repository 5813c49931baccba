from __future__ import annotations

import shlex
import shutil
import sys
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from titan_ha.models import OUTPUT_CAP_BYTES, OUTPUT_MARKER, Outcome
from titan_ha.worker.executors.base import AttemptResult, AttemptSpec, exit_status
from titan_ha.worker.executors.shell import ShellExecutor

SETSID = shutil.which("setsid")
needs_setsid = pytest.mark.skipif(SETSID is None, reason="needs util-linux setsid")


def run(
    command: str,
    timeout_s: float = 0.0,
    stop: threading.Event | None = None,
    executor: ShellExecutor | None = None,
    env: dict[str, str] | None = None,
    task_id: str = "task-1",
) -> AttemptResult:
    spec = AttemptSpec(task_id, 2, command, timeout_s=timeout_s, env=env)
    return (executor or ShellExecutor()).run(spec, stop or threading.Event())


def live_processes(*argv: str) -> list[psutil.Process]:
    """Live processes whose command line is exactly `argv`."""
    return [
        proc
        for proc in psutil.process_iter(["cmdline", "status"])
        if proc.info["cmdline"] == list(argv)
        and proc.info["status"] != psutil.STATUS_ZOMBIE
    ]


@pytest.fixture
def kill_strays() -> Iterator[list[tuple[str, ...]]]:
    """Kills, after the test, processes with the command lines it lists."""
    argvs: list[tuple[str, ...]] = []
    yield argvs
    for argv in argvs:
        for proc in live_processes(*argv):
            proc.kill()


def test_echo_succeeds_with_its_output() -> None:
    result = run("echo hello")

    assert (result.outcome, result.exit_code, result.signal) == (
        Outcome.SUCCEEDED,
        0,
        None,
    )
    assert (result.stdout.text, result.stdout.total_bytes) == ("hello\n", 6)
    assert not result.stdout.truncated
    assert (result.stderr.text, result.error) == ("", "")
    assert result.started_at <= result.finished_at


def test_non_zero_exit_fails_with_its_code_and_stderr() -> None:
    result = run("echo oops >&2; exit 3")

    assert (result.outcome, result.exit_code, result.signal) == (
        Outcome.FAILED,
        3,
        None,
    )
    assert result.stderr.text == "oops\n"


@pytest.mark.parametrize(
    ("command", "exit_code", "signal_name"),
    [("kill -9 $$", 137, "SIGKILL"), ("kill -TERM $$", 143, "SIGTERM")],
)
def test_death_by_signal_reports_128_plus_n_and_its_name(
    command: str, exit_code: int, signal_name: str
) -> None:
    result = run(command)

    assert (result.outcome, result.exit_code, result.signal) == (
        Outcome.FAILED,
        exit_code,
        signal_name,
    )


def test_exit_status_maps_return_codes() -> None:
    assert exit_status(0) == (0, None)
    assert exit_status(3) == (3, None)
    assert exit_status(-9) == (137, "SIGKILL")


def test_environment_carries_the_attempt_and_spec_variables() -> None:
    result = run(
        'echo "$TITAN_TASK_ID $TITAN_ATTEMPT $EXTRA"',
        env={"EXTRA": "x y", "TITAN_TASK_ID": "spoofed"},
    )

    assert result.stdout.text == "task-1 2 x y\n"


def test_stdin_is_empty() -> None:
    assert run("wc -c").stdout.text.strip() == "0"


def test_timeout_kills_the_shell_and_its_background_children() -> None:
    started = time.monotonic()
    result = run("sleep 100.123 & sleep 100.123", timeout_s=1.0)

    assert result.outcome == Outcome.TIMED_OUT
    assert time.monotonic() - started < 3.0
    assert live_processes("sleep", "100.123") == []
    assert psutil.Process().children() == []  # the shell was reaped


def test_timeout_kills_a_pipeline() -> None:
    started = time.monotonic()
    result = run("sleep 100.124 | cat", timeout_s=1.0)

    assert result.outcome == Outcome.TIMED_OUT
    assert time.monotonic() - started < 3.0
    assert live_processes("sleep", "100.124") == []


@needs_setsid
def test_timeout_kills_a_child_that_left_the_group_and_its_parent() -> None:
    # The subshell exits at once, so the new session's sleep is orphaned:
    # neither its group nor its parent lead back to the attempt. It is found
    # by the attempt's variables in its environment.
    result = run("(setsid sleep 77.7 &); sleep 100.125", timeout_s=1.0)

    assert result.outcome == Outcome.TIMED_OUT
    assert live_processes("sleep", "77.7") == []
    assert live_processes("sleep", "100.125") == []


@needs_setsid
def test_timeout_kills_a_scrubbed_child_found_through_its_parent() -> None:
    command = f"env -i {SETSID} /bin/sleep 100.126 & sleep 100.127"

    result = run(command, timeout_s=0.5)

    assert result.outcome == Outcome.TIMED_OUT
    assert live_processes("/bin/sleep", "100.126") == []


def test_sigterm_ignored_is_followed_by_sigkill_after_the_grace() -> None:
    executor = ShellExecutor(kill_grace_s=0.3)
    started = time.monotonic()

    # An ignored signal stays ignored across exec, so sleep ignores it too.
    result = run("trap '' TERM; sleep 100.128", timeout_s=0.3, executor=executor)

    assert (result.outcome, result.exit_code, result.signal) == (
        Outcome.TIMED_OUT,
        137,
        "SIGKILL",
    )
    assert time.monotonic() - started < 2.0
    assert live_processes("sleep", "100.128") == []


def test_background_child_holding_stdout_does_not_keep_the_attempt() -> None:
    started = time.monotonic()
    result = run("sleep 30.2 & echo done")

    assert time.monotonic() - started < 2.0
    assert (result.outcome, result.exit_code) == (Outcome.SUCCEEDED, 0)
    assert result.stdout.text == "done\n"
    assert live_processes("sleep", "30.2") == []
    assert psutil.Process().children() == []


def test_killing_one_attempt_spares_a_concurrent_one() -> None:
    results: dict[str, AttemptResult] = {}
    survivor = threading.Thread(
        target=lambda: results.update(a=run("sleep 0.6; echo a", task_id="a"))
    )
    survivor.start()

    results["b"] = run("sleep 100.129", timeout_s=0.2, task_id="b")
    survivor.join()

    assert results["b"].outcome == Outcome.TIMED_OUT
    assert (results["a"].outcome, results["a"].stdout.text) == (
        Outcome.SUCCEEDED,
        "a\n",
    )


@needs_setsid
def test_an_escaped_process_holding_stdout_is_read_only_briefly(
    kill_strays: list[tuple[str, ...]],
) -> None:
    # Out of the group, orphaned and with a scrubbed environment: this is
    # what escapes the tree kill (see the module docstring). The attempt
    # still ends right after its shell.
    kill_strays.append(("/bin/sleep", "30.3"))
    started = time.monotonic()

    result = run(f"(env -i {SETSID} /bin/sleep 30.3 &); echo done")

    assert time.monotonic() - started < 2.0
    assert (result.outcome, result.stdout.text) == (Outcome.SUCCEEDED, "done\n")


def test_stop_event_cancels_a_running_attempt() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    started = time.monotonic()

    result = run("sleep 30.4", stop=stop)

    timer.join()
    assert result.outcome == Outcome.CANCELLED
    assert time.monotonic() - started < 2.0
    assert live_processes("sleep", "30.4") == []


def test_stop_already_set_cancels_at_once() -> None:
    stop = threading.Event()
    stop.set()

    result = run("sleep 30.5", stop=stop)

    assert result.outcome == Outcome.CANCELLED
    assert live_processes("sleep", "30.5") == []


def test_command_that_cannot_start_is_an_error() -> None:
    result = run("echo \0")

    assert (result.outcome, result.exit_code, result.signal) == (
        Outcome.ERROR,
        None,
        None,
    )
    assert "null byte" in result.error
    assert result.stdout.total_bytes == 0


def test_hundred_megabytes_of_output_is_drained_and_capped() -> None:
    result = run(r"head -c 104857600 /dev/zero | tr '\0' x")

    assert (result.outcome, result.stdout.total_bytes) == (Outcome.SUCCEEDED, 104857600)
    assert result.stdout.truncated
    assert len(result.stdout.text.encode()) == OUTPUT_CAP_BYTES
    # 512 KiB of head, a 50-byte marker (9 digits), 524,238 bytes of tail.
    marker = OUTPUT_MARKER.format(skipped=103_809_074)
    assert result.stdout.text == "x" * 524_288 + marker + "x" * 524_238


def test_invalid_utf8_is_replaced() -> None:
    result = run(r"printf 'A\377\376B\n'")

    assert result.stdout.text == "A\ufffd\ufffdB\n"
    assert result.stdout.total_bytes == 5


def test_multibyte_characters_survive_pipe_reads() -> None:
    # The leading byte puts every read boundary of the 2-byte characters at
    # an odd offset, so some reads end in the middle of a character.
    script = "import sys; sys.stdout.buffer.write(b'a' + 'é'.encode() * 70000)"
    result = run(f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}")

    assert result.stdout.text == "a" + "é" * 70000
    assert (result.stdout.total_bytes, result.stdout.truncated) == (140001, False)
