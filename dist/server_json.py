#!/usr/bin/env python3
"""server.json, the MCP Registry entry (schema 2025-12-11), for dist/build and dist/check.

  server_json.py write --name NAME --version V --repository URL --identifier URL --mcpb FILE --out FILE
  server_json.py validate FILE [--mcpb FILE]

`write` needs only the standard library; `validate` needs jsonschema (dist/build installs it in
target/dist-tools/venv). `validate` checks the file against dist/schema/server.schema.2025-12-11.json
and the registry's rules for an mcpb package that the schema only states in words: `fileSha256`
present (and, with --mcpb, the hash of that file), an https release URL containing "mcp", secrets
marked. Each failure is one line on stderr; the exit status is 1 when there is any.
"""

import argparse
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_FILE = os.path.join(HERE, "schema", "server.schema.2025-12-11.json")
DESCRIPTION = "Inspect and operate Proxmox VE: VMs, containers, snapshots, storage; safe access levels"
SECRETS = ("PROXMOX_TOKEN_VALUE", "PROXMOX_PASSWORD")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write(args):
    with open(os.path.join(HERE, "registry-env.json")) as f:
        env = json.load(f)
    entry = {
        "$schema": SCHEMA_URL,
        "name": args.name,
        "title": "Proxmox VE",
        "description": DESCRIPTION,
        "repository": {"url": args.repository, "source": "github"},
        "version": args.version,
        "websiteUrl": args.repository + "#readme",
        "packages": [
            {
                "registryType": "mcpb",
                "identifier": args.identifier,
                "version": args.version,
                "fileSha256": sha256(args.mcpb),
                "transport": {"type": "stdio"},
                "environmentVariables": env,
            }
        ],
    }
    with open(args.out, "w") as f:
        json.dump(entry, f, indent=2)
        f.write("\n")


def problems(entry, mcpb):
    """Every way `entry` breaks the schema or the registry's mcpb rules, one line each."""
    import jsonschema

    with open(SCHEMA_FILE) as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for e in sorted(validator.iter_errors(entry), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        yield f"schema: {where}: {e.message}"
    if entry.get("$schema") != SCHEMA_URL:
        yield f"$schema is {entry.get('$schema')!r}, not {SCHEMA_URL}"
    packages = [p for p in entry.get("packages", []) if p.get("registryType") == "mcpb"]
    if len(packages) != 1:
        yield f"expected one mcpb package, found {len(packages)}"
    for p in packages:
        ident = p.get("identifier", "")
        if not ident.startswith("https://github.com/") or "/releases/download/" not in ident:
            yield f"identifier {ident!r} is not a GitHub release asset URL"
        if "mcp" not in ident:
            yield f"identifier {ident!r} does not contain 'mcp'"
        if "fileSha256" not in p:
            yield "the mcpb package has no fileSha256"
        elif mcpb is not None and p["fileSha256"] != sha256(mcpb):
            yield f"fileSha256 {p['fileSha256']} is not the hash of {mcpb} ({sha256(mcpb)})"
        if p.get("version") != entry.get("version"):
            yield f"package version {p.get('version')!r} differs from the server's {entry.get('version')!r}"
        if p.get("transport") != {"type": "stdio"}:
            yield f"transport is {p.get('transport')!r}, not stdio"
        env = {v.get("name"): v for v in p.get("environmentVariables", [])}
        for name in SECRETS:
            if env.get(name, {}).get("isSecret") is not True:
                yield f"environment variable {name} is not marked isSecret"
        for name, v in env.items():
            if v.get("isSecret") and "default" in v:
                yield f"secret {name} has a default"
    if entry.get("name", "").split("/")[-1] != "proxmox-mcp-server":
        yield f"name {entry.get('name')!r} does not end in /proxmox-mcp-server"


def validate(args):
    with open(args.file) as f:
        entry = json.load(f)
    found = list(problems(entry, args.mcpb))
    for p in found:
        print(f"server.json: {p}", file=sys.stderr)
    return 1 if found else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    for flag in ("--name", "--version", "--repository", "--identifier", "--mcpb", "--out"):
        w.add_argument(flag, required=True)
    v = sub.add_parser("validate")
    v.add_argument("file")
    v.add_argument("--mcpb")
    args = parser.parse_args()
    if args.command == "write":
        write(args)
        return 0
    return validate(args)


if __name__ == "__main__":
    sys.exit(main())
