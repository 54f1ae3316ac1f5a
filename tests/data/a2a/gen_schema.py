#!/usr/bin/env python3
"""Derive agent-card.schema.json from the A2A v1.0.0 proto. See README.md in this folder.

Usage (not run by CI; needs `pip install grpcio-tools googleapis-common-protos`):

    python3 tests/data/a2a/gen_schema.py PATH/TO/A2A.git > tests/data/a2a/agent-card.schema.json

PATH/TO/A2A.git is a clone of github.com/a2aproject/A2A (bare or not). The proto is read with
`git show v1.0.0:specification/a2a.proto` and the tag must name COMMIT below.

The rules are those of bufbuild/protoschema-plugins v0.5.2 `protoc-gen-jsonschema`, target
`json-bundle` (JSON field names, every referenced message bundled under `$defs`), the plugin and
options A2A's scripts/proto_to_json_schema.sh uses, with the deviations listed in README.md:
`required` from `google.api.field_behavior = REQUIRED` (plus `minLength: 1` on required strings),
no snake_case alias `patternProperties`, no `default` annotations, no `$schema` inside `$defs`.
"""

import json
import os
import subprocess
import sys
import tempfile

import grpc_tools
from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

TAG = "v1.0.0"
COMMIT = "173695755607e884aa9acf8ce4feed90e32727a1"
PROTO = "specification/a2a.proto"
ROOT = "lf.a2a.v1.AgentCard"

FD = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    FD.TYPE_STRING: "string",
    FD.TYPE_BOOL: "boolean",
}


def load(git_dir):
    commit = subprocess.check_output(
        ["git", "-C", git_dir, "rev-parse", TAG + "^{commit}"], text=True
    ).strip()
    if commit != COMMIT:
        sys.exit(f"{TAG} is {commit}, expected {COMMIT}")
    text = subprocess.check_output(["git", "-C", git_dir, "show", f"{TAG}:{PROTO}"], text=True)
    # As scripts/proto_to_json_schema.sh: drop snippet markers and linter directives.
    text = "".join(
        line
        for line in text.splitlines(keepends=True)
        if "// --8<--" not in line and "// protolint:" not in line
    )
    googleapis = os.path.abspath(os.path.join(os.path.dirname(field_behavior_pb2.__file__), "..", ".."))
    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "a2a.proto"), "w") as f:
            f.write(text)
        out = os.path.join(tmp, "a2a.pb")
        rc = protoc.main(
            [
                "protoc",
                f"-I{tmp}",
                f"-I{googleapis}",
                f"-I{wkt}",
                "--include_imports",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                "a2a.proto",
            ]
        )
        if rc != 0:
            sys.exit(f"protoc failed ({rc})")
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    return fds


class Index:
    def __init__(self, fds):
        self.messages = {}  # full name -> (DescriptorProto, comments by path, name)
        for file in fds.file:
            comments = {
                tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location
            }

            def walk(msgs, prefix, path):
                for i, m in enumerate(msgs):
                    full = f"{prefix}.{m.name}"
                    self.messages[full] = (m, comments, path + (4 if not path else 3, i))
                    walk(m.nested_type, full, path + (4 if not path else 3, i))

            walk(file.message_type, file.package, ())


def name_to_title(name):
    # protoschema-plugins nameToTitle: a space before an upper-case letter followed by a lower one.
    out = []
    for i, c in enumerate(name):
        next_upper = i + 1 >= len(name) or name[i + 1].isupper()
        if i > 0 and c.isupper() and not next_upper:
            out.append(" ")
        out.append(c)
    return "".join(out)


def set_description(comment, schema):
    # protoschema-plugins setDescription: first paragraph is the title if there are two or more.
    if not comment:
        return
    comment = comment.strip()
    parts = comment.split("\n\n", 1)
    if len(parts) == 2:
        schema["title"] = parts[0].strip()
        schema["description"] = parts[1].strip()
    else:
        schema["description"] = comment


def def_key(full):
    return f"{full}.jsonschema.json"


class Generator:
    def __init__(self, index):
        self.index = index
        self.defs = {}

    def message(self, full):
        key = def_key(full)
        if key in self.defs:
            return
        desc, comments, path = self.index.messages[full]
        schema = {"title": name_to_title(desc.name)}
        self.defs[key] = schema
        if full == "google.protobuf.Struct":
            schema["type"] = "object"  # the plugin's well-known-type rule
            return
        if full.startswith("google.protobuf."):
            sys.exit(f"no rule for well-known type {full}")
        schema["type"] = "object"
        set_description(comments.get(path), schema)
        props, required = {}, []
        for j, field in enumerate(desc.field):
            fs = {}
            set_description(comments.get(path + (2, j)), fs)
            self.field(field, fs)
            props[field.json_name] = fs
            behaviours = field.options.Extensions[field_behavior_pb2.field_behavior]
            if field_behavior_pb2.REQUIRED in behaviours:
                required.append(field.json_name)
                if fs.get("type") == "string":
                    fs["minLength"] = 1
        schema["properties"] = props
        schema["additionalProperties"] = False
        if required:
            schema["required"] = required

    def field(self, field, schema):
        repeated = field.label == FD.LABEL_REPEATED
        if field.type == FD.TYPE_MESSAGE:
            entry, _, _ = self.index.messages[field.type_name.lstrip(".")]
            if entry.options.map_entry:
                key, value = entry.field
                schema["type"] = "object"
                schema["propertyNames"] = {}
                self.value(key, schema["propertyNames"])
                schema["additionalProperties"] = {}
                self.value(value, schema["additionalProperties"])
                return
        if repeated:
            schema["type"] = "array"
            schema["items"] = {}
            schema = schema["items"]
        self.value(field, schema)

    def value(self, field, schema):
        if field.type == FD.TYPE_MESSAGE:
            full = field.type_name.lstrip(".")
            schema["$ref"] = "#/$defs/" + def_key(full)
            self.message(full)
        elif field.type in SCALARS:
            schema["type"] = SCALARS[field.type]
        else:
            # Enums, numbers and bytes do not occur under AgentCard in v1.0.0; the plugin's
            # rules for them (anyOf of names/ranges, numeric strings) are not transcribed.
            sys.exit(f"no rule for field type {field.type} ({field.name})")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    gen = Generator(Index(load(sys.argv[1])))
    gen.message(ROOT)
    bundle = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{ROOT}.jsonschema.bundle.json",
        "$comment": f"Derived from a2aproject/A2A {TAG} ({COMMIT}) {PROTO} by "
        "tests/data/a2a/gen_schema.py; see README.md there. Do not edit by hand.",
        "$ref": "#/$defs/" + def_key(ROOT),
        "$defs": gen.defs,
    }
    json.dump(bundle, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
