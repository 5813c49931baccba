"""Generates the protobuf and gRPC modules from ``proto/`` (``make proto``).

The generated gRPC module imports its messages as a top-level module; the
import is rewritten to a relative one so the code lives inside the package.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent.parent / "proto"


def generate(out_dir: Path) -> list[Path]:
    """Writes ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` into ``out_dir``."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    protos = sorted(PROTO_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    written = []
    for proto in protos:
        grpc_file = out_dir / f"{proto.stem}_pb2_grpc.py"
        text = grpc_file.read_text()
        text = re.sub(
            rf"^import {proto.stem}_pb2 as",
            f"from . import {proto.stem}_pb2 as",
            text,
            flags=re.MULTILINE,
        )
        grpc_file.write_text(text)
        written += [out_dir / f"{proto.stem}_pb2.py", out_dir / f"{proto.stem}_pb2.pyi"]
        written.append(grpc_file)
    init = out_dir / "__init__.py"
    if not init.exists():
        init.write_text('"""Generated protobuf code: do not edit, run make proto."""\n')
    return written


if __name__ == "__main__":
    generate(Path(sys.argv[1]))
