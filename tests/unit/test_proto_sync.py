"""The checked-in protobuf code matches what ``make proto`` generates now."""

from __future__ import annotations

from pathlib import Path

from titan_ha.protogen import generate

PROTO_PACKAGE = Path(__file__).resolve().parents[2] / "titan_ha" / "_proto"


def test_generated_code_is_in_sync(tmp_path: Path) -> None:
    written = generate(tmp_path)
    assert sorted(p.name for p in written) == [
        "titan_pb2.py",
        "titan_pb2.pyi",
        "titan_pb2_grpc.py",
    ]
    for fresh in written:
        checked_in = PROTO_PACKAGE / fresh.name
        assert checked_in.read_text() == fresh.read_text(), (
            f"{checked_in} is stale: run make proto"
        )
