#!/usr/bin/env python3
"""The Python half of the wire-compatibility test.

Compiles Weft's .proto files with grpcio-tools, builds every case of cases.json with Python's
protobuf runtime, and either prints the deterministic encodings (`emit`) or checks encodings made
elsewhere (`check`, reading {name: hex} on standard input). The Swift test drives both modes.
"""
import importlib
import json
import pathlib
import sys
import tempfile

from google.protobuf import descriptor_pool, json_format, message_factory


def compile_protos(proto_dir: pathlib.Path, out_dir: pathlib.Path) -> None:
    from grpc_tools import protoc
    import grpc_tools

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    files = sorted(str(p) for p in proto_dir.glob("*.proto"))
    status = protoc.main(["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out_dir}", *files])
    if status != 0:
        raise SystemExit(f"protoc failed with status {status}")
    sys.path.insert(0, str(out_dir))
    for path in proto_dir.glob("*.proto"):
        importlib.import_module(path.stem + "_pb2")


def build(case: dict):
    descriptor = descriptor_pool.Default().FindMessageTypeByName(case["type"])
    cls = message_factory.GetMessageClass(descriptor)
    return cls, json_format.ParseDict(case["json"], cls())


def main() -> None:
    proto_dir, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
    cases = json.loads((pathlib.Path(__file__).parent / "cases.json").read_text())
    with tempfile.TemporaryDirectory() as out:
        compile_protos(proto_dir, pathlib.Path(out))
        result = {}
        if mode == "emit":
            for case in cases:
                _, message = build(case)
                result[case["name"]] = message.SerializeToString(deterministic=True).hex()
        elif mode == "check":
            received = json.load(sys.stdin)
            for case in cases:
                cls, expected = build(case)
                data = bytes.fromhex(received[case["name"]])
                decoded = cls.FromString(data)
                if decoded != expected:
                    result[case["name"]] = "decoded message differs: " + json_format.MessageToJson(decoded)
                elif decoded.SerializeToString(deterministic=True) != data:
                    result[case["name"]] = "re-encoding differs"
                else:
                    result[case["name"]] = "ok"
        else:
            raise SystemExit(f"unknown mode {mode}")
        json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
