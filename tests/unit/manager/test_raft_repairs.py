"""A follower keeps the log entries it holds already (``held_prefix``)."""

from __future__ import annotations

from typing import Any

from titan_ha.manager.raft.syncobj import held_prefix

Entry = tuple[Any, int, int]


def log_of(*terms: int, first_index: int = 0) -> dict[int, int]:
    """A follower's log: index -> term, from ``first_index + 1`` on."""
    return {first_index + i: term for i, term in enumerate(terms, start=1)}


def sent(first: int, *terms: int) -> list[Entry]:
    """What a leader sends: entries from index ``first``, one term each."""
    return [(f"cmd{first + i}", first + i, term) for i, term in enumerate(terms)]


def rewrite(
    log: dict[int, int], entries: list[Entry], leader_term: int, commit_index: int
) -> tuple[tuple[int, int], list[Entry]] | None:
    last = max(log)
    return held_prefix(entries, log.get, (last, log[last]), leader_term, commit_index)


def test_a_repeated_batch_appends_only_what_is_new() -> None:
    log = log_of(2, 2, 2, 2, 2)

    result = rewrite(log, sent(4, 2, 2, 2, 2), leader_term=2, commit_index=3)

    assert result == ((5, 2), sent(6, 2, 2))


def test_held_entries_and_a_tail_of_the_leaders_term_are_all_kept() -> None:
    log = log_of(*[3] * 10)

    result = rewrite(log, sent(4, 3, 3, 3), leader_term=3, commit_index=5)

    assert result == ((10, 3), [])


def test_an_older_tail_is_kept_up_to_the_commit_index() -> None:
    log = log_of(*[2] * 10)

    result = rewrite(log, sent(3, 2, 2, 2), leader_term=3, commit_index=8)

    assert result == ((8, 2), [])


def test_an_older_tail_beyond_the_sent_entries_and_the_commit_is_left_to_go() -> None:
    log = log_of(*[2] * 10)

    result = rewrite(log, sent(3, 2, 2, 2), leader_term=3, commit_index=4)

    assert result == ((5, 2), [])


def test_the_first_conflicting_entry_is_where_the_log_is_cut() -> None:
    log = log_of(1, 1, 2, 2, 2, 2, 2, 2)

    result = rewrite(log, sent(5, 2, 3, 3), leader_term=3, commit_index=5)

    assert result == ((5, 2), sent(6, 3, 3))


def test_an_append_with_nothing_held_is_left_as_it_is() -> None:
    log = log_of(1, 1, 2)

    assert rewrite(log, sent(4, 2, 2), leader_term=2, commit_index=3) is None
    assert rewrite(log, sent(3, 3, 3), leader_term=3, commit_index=2) is None


def test_entries_the_log_has_compacted_away_are_not_judged() -> None:
    log = log_of(4, 4, 4, first_index=100)

    def held_term(index: int) -> int | None:
        # The snapshot's marker entry (index 100) is no entry to compare.
        return log.get(index) if index > 100 else None

    result = held_prefix(sent(100, 4, 4), held_term, (103, 4), 4, 102)

    assert result is None


def test_the_adapter_leaves_the_socket_module_working() -> None:
    import socket

    import titan_ha.manager.raft  # noqa: F401  (imports pysyncobj)

    assert socket.inet_ntop(socket.AF_INET, b"\x7f\x00\x00\x01") == "127.0.0.1"
    assert socket.inet_ntop(socket.AF_INET6, b"\x00" * 15 + b"\x01") == "::1"
