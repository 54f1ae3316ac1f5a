#!/usr/bin/env python3
"""The checks of dist/check (run it, not this file: it installs what they need first).

Each release artifact in dist/out/VERSION/ is opened the way a user would and, where it is a
program, run through a real MCP session (initialize, tools/list, tools/call get_vm_status)
against a fake PVE: an HTTPS server on 127.0.0.1 with the test certificate of
tests/data/tls/ (trusted through its CA file, or pinned by fingerprint). One line per check:
"ok", "FAIL" or "skip" (only the Docker image, when no Docker daemon can build it), then a
summary; the exit status is 1 when any check failed.
"""

import hashlib
import json
import os
import queue
import re
import shutil
import ssl
import struct
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "dist"))
import server_json  # noqa: E402

NAME = "proxmox-mcp-server"
TLS = os.path.join(ROOT, "tests", "data", "tls")
WORK = os.path.join(ROOT, "target", "dist-check")
TOOLS = os.path.join(ROOT, "target", "dist-tools")
MCPB_PACKAGE = os.path.join(TOOLS, "npm", "node_modules", "@anthropic-ai", "mcpb")
# A made-up token for the fake PVE; the check confirms it reaches PVE and is never printed.
TOKEN = "5b1a9e0c-3f4d-4c8e-9a51-0c2d7e6f8a90"
LIMIT = 2_500_000  # 2.5 MB (decimal, as bench/run counts), the static Linux x86_64 binary's budget
TARGETS = {
    "x86_64-unknown-linux-musl": ".tar.gz",
    "aarch64-unknown-linux-musl": ".tar.gz",
    "universal-apple-darwin": ".tar.gz",
    "x86_64-pc-windows-gnu": ".zip",
}


class Fail(Exception):
    pass


def cargo_version():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        m = re.search(r'^version = "([^"]+)"$', f.read(), re.M)
    return m.group(1)


VERSION = cargo_version()
OUT = os.path.join(ROOT, "dist", "out", VERSION)


def sha256(path):
    return server_json.sha256(path)


def scrub(text):
    return text.replace(TOKEN, "[token]")


# ---- the fake PVE ------------------------------------------------------------------------------

VM = {
    "id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve1", "name": "web",
    "status": "running", "cpu": 0.02, "maxcpu": 2, "mem": 1073741824, "maxmem": 4294967296,
    "disk": 0, "maxdisk": 34359738368, "uptime": 3600, "template": 0,
}
ANSWERS = {
    "/version": {"version": "9.1.2", "release": "9.1", "repoid": "dist-check"},
    "/cluster/resources": [VM, {"id": "node/pve1", "type": "node", "node": "pve1", "status": "online"}],
    "/nodes/pve1/qemu/100/status/current": {
        "vmid": 100, "name": "web", "status": "running", "qmpstatus": "running", "cpu": 0.02,
        "cpus": 2, "mem": 1073741824, "maxmem": 4294967296, "uptime": 3600, "ha": {"managed": 0},
    },
}


class FakePve:
    """HTTPS on 127.0.0.1 with tests/data/tls/leaf.pem; records method, path and credentials."""

    def __init__(self):
        fake = self
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                fake.requests.append((self.command, path, self.headers.get("Authorization", "")))
                rel = path[len("/api2/extjs"):] if path.startswith("/api2/extjs") else None
                if self.command == "GET" and rel in ANSWERS:
                    code, body = 200, {"success": 1, "data": ANSWERS[rel]}
                else:
                    code, body = 501, {"success": 0, "data": None, "message": "not in the fake PVE"}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(TLS, "leaf.pem"), os.path.join(TLS, "leaf.key"))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def authorized(self):
        """Requests that carried this check's API token."""
        expected = f"PVEAPIToken=mcp@pve!mcp={TOKEN}"
        return [r for r in self.requests if r[2] == expected]


def fingerprint():
    with open(os.path.join(TLS, "leaf.sha256")) as f:
        return f.read().strip().split("=")[-1]


def server_env(port, ca_file):
    return {
        "PROXMOX_HOST": f"127.0.0.1:{port}",
        "PROXMOX_USER": "mcp@pve",
        "PROXMOX_TOKEN_NAME": "mcp",
        "PROXMOX_TOKEN_VALUE": TOKEN,
        "PROXMOX_CA_FILE": ca_file,
    }


# ---- an MCP session ----------------------------------------------------------------------------

def session(command, env, pve, timeout=60, cwd=None):
    """initialize, tools/list and tools/call get_vm_status over the program's stdin/stdout."""
    pve.requests.clear()
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=cwd,
    )
    lines = queue.Queue()
    errors = []
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)], daemon=True).start()
    threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True).start()

    def stderr_tail():
        text = b"".join(errors).decode(errors="replace").strip().splitlines()
        return scrub(text[-1]) if text else "(nothing on stderr)"

    def send(message):
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()

    def answer(id_, what):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise Fail(f"no answer to {what} within {timeout} s; stderr: {stderr_tail()}")
            if line is None:
                raise Fail(f"the server exited ({proc.wait()}) before answering {what}; stderr: {stderr_tail()}")
            try:
                message = json.loads(line)
            except ValueError:
                raise Fail(f"stdout carried a line that is not JSON: {scrub(line.decode(errors='replace'))[:80]!r}")
            if message.get("id") == id_:
                if "error" in message:
                    raise Fail(f"{what} answered an error: {message['error']}")
                return message["result"]

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "dist-check", "version": VERSION}}})
        init = answer(1, "initialize")
        info = init.get("serverInfo", {})
        if info.get("name") != NAME or info.get("version") != VERSION:
            raise Fail(f"initialize names the server {info}, not {NAME} {VERSION}")
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = [t["name"] for t in answer(2, "tools/list")["tools"]]
        if "get_vm_status" not in tools or "list_vms" not in tools:
            raise Fail(f"tools/list lacks get_vm_status or list_vms: {tools}")
        if "start_vm" in tools:
            raise Fail("tools/list offers start_vm at read-only access")
        send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
              "params": {"name": "get_vm_status", "arguments": {"vmid": 100}}})
        result = answer(3, "tools/call get_vm_status")
        if result.get("isError"):
            raise Fail(f"get_vm_status failed: {scrub(json.dumps(result['content']))[:200]}")
        status = result.get("structuredContent", {}).get("data", {}).get("status")
        if status != "running":
            raise Fail(f"get_vm_status answered status {status!r}, not 'running'")
        proc.stdin.close()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Fail("the server did not exit when its input ended")
        if code != 0:
            raise Fail(f"the server exited with {code} at the end of input; stderr: {stderr_tail()}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not pve.authorized():
        raise Fail("the fake PVE never received the API token")
    calls = ", ".join(sorted({f"{m} {p[len('/api2/extjs'):]}" for m, p, _ in pve.requests}))
    return f"initialize, {len(tools)} tools listed, get_vm_status vmid 100 = running (PVE saw: {calls})"


def run(command, timeout=120, env=None):
    try:
        out = subprocess.run(command, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Fail(f"{' '.join(command)} did not finish within {timeout} s")
    if out.returncode != 0:
        tail = out.stderr.decode(errors="replace").strip().splitlines()
        raise Fail(f"{' '.join(command)} exited {out.returncode}: {tail[-1] if tail else ''}")
    return out.stdout.decode(errors="replace")


def version_line(text, target):
    line = text.strip()
    m = re.fullmatch(rf"{NAME} (\S+) \(commit (\S+), target (\S+)\)", line)
    if not m or m.group(1) != VERSION or m.group(3) != target:
        raise Fail(f"--version printed {line!r}, not {NAME} {VERSION} (commit …, target {target})")
    return m.group(2)


# ---- file formats ------------------------------------------------------------------------------

def elf_summary(path, machine):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise Fail(f"{path} is not a 64-bit ELF file")
    e_machine = struct.unpack_from("<H", data, 18)[0]
    if e_machine != machine:
        raise Fail(f"{path} is for machine {e_machine}, not {machine}")
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    if 3 in types:  # PT_INTERP: a dynamic loader is needed
        raise Fail(f"{path} is dynamically linked (it names a program interpreter)")
    return len(data)


CPU_X86_64, CPU_ARM64 = 0x01000007, 0x0100000C


def macho_slices(data):
    """(cpu name, offset, size) of each slice of a universal (fat) Mach-O binary."""
    magic, count = struct.unpack_from(">II", data, 0)
    if magic != 0xCAFEBABE or not 0 < count < 16:
        raise Fail("not a universal Mach-O binary (no fat header)")
    slices = []
    for i in range(count):
        cputype, _sub, offset, size, _align = struct.unpack_from(">iiIII", data, 8 + 20 * i)
        name = {CPU_X86_64: "x86_64", CPU_ARM64: "arm64"}.get(cputype, hex(cputype))
        body = data[offset:offset + size]
        if len(body) != size or struct.unpack_from("<I", body, 0)[0] != 0xFEEDFACF:
            raise Fail(f"the {name} slice is not a 64-bit Mach-O image")
        if struct.unpack_from("<i", body, 4)[0] != cputype or struct.unpack_from("<I", body, 12)[0] != 2:
            raise Fail(f"the {name} slice is not an executable for its CPU")
        slices.append((name, body))
    return slices


def code_signature(body):
    """Checks an ad-hoc code signature (LC_CODE_SIGNATURE) against the slice's pages, as macOS
    does before running arm64 code; returns a description, raises Fail when it does not hold."""
    ncmds, = struct.unpack_from("<I", body, 16)
    offset = 32
    sig = None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", body, offset)
        if cmd == 0x1D:
            sig = struct.unpack_from("<II", body, offset + 8)
        offset += size
    if sig is None:
        raise Fail("no code signature (macOS refuses to run unsigned arm64 code)")
    dataoff, datasize = sig
    blob = body[dataoff:dataoff + datasize]
    magic, _length, count = struct.unpack_from(">III", blob, 0)
    if magic != 0xFADE0CC0:
        raise Fail("the code signature is not a signature superblob")
    for i in range(count):
        slot, at = struct.unpack_from(">II", blob, 12 + 8 * i)
        if slot != 0:
            continue
        cd = blob[at:]
        (cd_magic, _len, version, flags, hash_offset, _ident, _special, code_slots, code_limit,
         hash_size, hash_type, _platform, page_log) = struct.unpack_from(">IIIIIIIIIBBBB", cd, 0)
        if cd_magic != 0xFADE0C02:
            raise Fail("the code directory is malformed")
        if hash_type != 2 or hash_size != 32:
            raise Fail(f"the code directory uses hash type {hash_type}, not SHA-256")
        page = 1 << page_log
        for n in range(code_slots):
            chunk = body[n * page:min((n + 1) * page, code_limit)]
            want = cd[hash_offset + n * 32:hash_offset + (n + 1) * 32]
            if hashlib.sha256(chunk).digest() != want:
                raise Fail(f"the code signature does not match page {n} (the binary changed after signing)")
        kind = "ad-hoc" if flags & 0x2 else "signed"
        return f"{kind} code signature, {code_slots} page hashes match"
    raise Fail("the code signature has no code directory")


# ---- the checks --------------------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.results = []
        self.pve = FakePve()
        self.unpacked = {}  # target -> path of the binary taken from its archive

    def check(self, name, fn):
        try:
            detail = fn()
        except Fail as e:
            self.results.append("FAIL")
            print(f"FAIL  {name}: {scrub(str(e))}", flush=True)
        except Exception as e:  # a bug in a check is a failed check, said in one line
            self.results.append("FAIL")
            print(f"FAIL  {name}: {type(e).__name__}: {scrub(str(e))}", flush=True)
        else:
            if isinstance(detail, tuple) and detail[0] == "skip":
                self.results.append("skip")
                print(f"skip  {name}: {detail[1]}", flush=True)
            else:
                self.results.append("ok")
                print(f"ok    {name}: {detail}", flush=True)

    # artifacts and hashes

    def sums(self):
        listed = {}
        with open(os.path.join(OUT, "SHA256SUMS")) as f:
            for line in f:
                digest, name = line.rstrip("\n").split("  ", 1)
                listed[name] = digest
        present = sorted(n for n in os.listdir(OUT) if n != "SHA256SUMS")
        expected = sorted(
            [f"{NAME}-{VERSION}-{t}{ext}" for t, ext in TARGETS.items()]
            + [f"{NAME}-{VERSION}.mcpb", "server.json"]
        )
        if present != expected:
            raise Fail(f"dist/out/{VERSION} holds {present}, expected {expected}")
        if sorted(listed) != present:
            raise Fail(f"SHA256SUMS lists {sorted(listed)}, the directory holds {present}")
        for name, digest in listed.items():
            if sha256(os.path.join(OUT, name)) != digest:
                raise Fail(f"{name} does not match its SHA-256 in SHA256SUMS")
        return f"{len(listed)} files, every hash matches"

    def server_json(self):
        path = os.path.join(OUT, "server.json")
        mcpb = os.path.join(OUT, f"{NAME}-{VERSION}.mcpb")
        with open(path) as f:
            entry = json.load(f)
        found = list(server_json.problems(entry, mcpb))
        if found:
            raise Fail("; ".join(found))
        package = entry["packages"][0]
        return (f"{entry['name']} {entry['version']} valid against the 2025-12-11 schema "
                f"(dist/schema/); fileSha256 = sha256 of the .mcpb; {package['identifier']}")

    def archive(self, target, ext):
        stem = f"{NAME}-{VERSION}-{target}"
        path = os.path.join(OUT, stem + ext)
        exe = NAME + (".exe" if target.endswith("windows-gnu") else "")
        dest = os.path.join(WORK, "archives", target)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        if ext == ".zip":
            with zipfile.ZipFile(path) as z:
                names = sorted(z.namelist())
                z.extractall(dest)
        else:
            with tarfile.open(path) as t:
                members = t.getmembers()
                names = sorted(m.name for m in members if m.isfile())
                binary = [m for m in members if m.name == f"{stem}/{exe}"]
                if binary and binary[0].mode & 0o777 != 0o755:
                    raise Fail(f"{exe} has mode {binary[0].mode & 0o777:o} in the archive, not 755")
                try:
                    t.extractall(dest, filter="data")
                except TypeError:  # a Python without extraction filters; the archive is ours
                    t.extractall(dest)
        want = sorted(f"{stem}/{n}" for n in (exe, "README.md", "LICENSE"))
        if names != want:
            raise Fail(f"holds {names}, expected {want}")
        binary = os.path.join(dest, stem, exe)
        os.chmod(binary, 0o755)
        self.unpacked[target] = binary  # the programs are run even when a document differs
        for doc in ("README.md", "LICENSE"):
            with open(os.path.join(dest, stem, doc), "rb") as a, open(os.path.join(ROOT, doc), "rb") as b:
                if a.read() != b.read():
                    raise Fail(f"its {doc} is not the repository's (rebuild with dist/build)")
        return f"{os.path.basename(path)} ({os.path.getsize(path)} bytes): {exe} ({os.path.getsize(binary)} bytes), README.md, LICENSE"

    # programs

    def linux_x86_64(self):
        binary = self.unpacked["x86_64-unknown-linux-musl"]
        size = elf_summary(binary, 62)
        if size > LIMIT:
            raise Fail(f"the static binary is {size} bytes, over 2.5 MB")
        commit = version_line(run([binary, "--version"]), "x86_64-unknown-linux-musl")
        ca = os.path.join(TLS, "ca.pem")
        done = session([binary], server_env(self.pve.port, ca), self.pve)
        return f"static, {size} bytes (≤ {LIMIT}), commit {commit}, CA file trust: {done}"

    def linux_aarch64(self):
        binary = self.unpacked["aarch64-unknown-linux-musl"]
        size = elf_summary(binary, 183)
        qemu = shutil.which("qemu-aarch64-static")
        if not qemu:
            raise Fail("qemu-aarch64-static is not installed")
        version_line(run([qemu, binary, "--version"]), "aarch64-unknown-linux-musl")
        ca = os.path.join(TLS, "ca.pem")
        done = session([qemu, binary], server_env(self.pve.port, ca), self.pve, timeout=120)
        return f"static, {size} bytes, under qemu-aarch64-static: {done}"

    def windows(self):
        exe = self.unpacked["x86_64-pc-windows-gnu"]
        with open(exe, "rb") as f:
            head = f.read(4096)
        pe, = struct.unpack_from("<I", head, 0x3C)
        if head[:2] != b"MZ" or head[pe:pe + 4] != b"PE\0\0" or struct.unpack_from("<H", head, pe + 4)[0] != 0x8664:
            raise Fail(f"{exe} is not an x86_64 Windows executable")
        wine = shutil.which("wine")
        gcc = shutil.which("x86_64-w64-mingw32-gcc")
        if not wine or not gcc:
            raise Fail("wine or x86_64-w64-mingw32-gcc is not installed")
        # Run a copy with the ProcessPrng shim beside it; the archive's .exe ships without it.
        here = os.path.join(WORK, "wine-run")
        shutil.rmtree(here, ignore_errors=True)
        os.makedirs(here)
        shutil.copy(exe, here)
        run([gcc, "-O2", "-shared", "-o", os.path.join(here, "bcryptprimitives.dll"),
             os.path.join(ROOT, "dist", "prng-shim.c"), "-ladvapi32"])
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "WINEPREFIX": os.path.join(WORK, "wineprefix"),
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=",
        }
        program = os.path.join(here, NAME + ".exe")
        # The first start creates the wine prefix, which takes a while.
        commit = version_line(run([wine, program, "--version"], timeout=600, env=env), "x86_64-pc-windows-gnu")
        ca = "Z:" + os.path.join(TLS, "ca.pem").replace("/", "\\")
        done = session([wine, program], {**env, **server_env(self.pve.port, ca)}, self.pve, timeout=180)
        return f"under wine {run([wine, '--version'], env=env).strip()}, commit {commit}, CA file {ca}: {done}"

    def macos(self):
        binary = self.unpacked["universal-apple-darwin"]
        with open(binary, "rb") as f:
            data = f.read()
        slices = dict(macho_slices(data))
        if sorted(slices) != ["arm64", "x86_64"]:
            raise Fail(f"holds the slices {sorted(slices)}, not arm64 and x86_64")
        commit = run([self.unpacked["x86_64-unknown-linux-musl"], "--version"]).split("commit ")[1].split(",")[0]
        for cpu, triple in (("x86_64", "x86_64-apple-darwin"), ("arm64", "aarch64-apple-darwin")):
            if triple.encode() not in slices[cpu] or commit.encode() not in slices[cpu]:
                raise Fail(f"the {cpu} slice was not built for {triple} from commit {commit}")
        signed = code_signature(slices["arm64"])
        return (f"universal binary, {len(data)} bytes: x86_64 ({len(slices['x86_64'])} bytes) and arm64 "
                f"({len(slices['arm64'])} bytes), each built for its triple from commit {commit}; arm64: {signed}")

    # the bundle

    def bundle(self):
        path = os.path.join(OUT, f"{NAME}-{VERSION}.mcpb")
        dest = os.path.join(WORK, "mcpb")
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        layout = {
            "server/proxmox-mcp-server": "universal-apple-darwin",
            "server/proxmox-mcp-server.exe": "x86_64-pc-windows-gnu",
            "server/linux/proxmox-mcp-server": "x86_64-unknown-linux-musl",
        }
        with zipfile.ZipFile(path) as z:
            names = sorted(i.filename for i in z.infolist() if not i.is_dir())
            want = sorted(list(layout) + ["manifest.json", "README.md", "LICENSE"])
            if names != want:
                raise Fail(f"holds {names}, expected {want}")
            for info in z.infolist():
                z.extract(info, dest)
                mode = (info.external_attr >> 16) & 0o777
                if info.filename in layout:
                    if mode != 0o755:
                        raise Fail(f"{info.filename} has mode {mode:o} in the bundle, not 755")
                    os.chmod(os.path.join(dest, info.filename), 0o755)
        with open(os.path.join(dest, "manifest.json"), "rb") as a, open(os.path.join(ROOT, "dist", "manifest.json"), "rb") as b:
            if a.read() != b.read():
                raise Fail("its manifest.json is not dist/manifest.json")
        for inner, target in layout.items():
            if sha256(os.path.join(dest, inner)) != sha256(self.unpacked[target]):
                raise Fail(f"{inner} is not the {target} binary of the archives")
        out = run(["node", os.path.join(MCPB_PACKAGE, "dist", "cli", "cli.js"), "validate",
                   os.path.join(dest, "manifest.json")])
        if "passes" not in out:
            raise Fail(f"mcpb validate said: {out.strip()}")
        self.bundle_dir = dest
        return f"{os.path.basename(path)} ({os.path.getsize(path)} bytes): manifest passes mcpb validate; 3 binaries (755) = the archives'"

    def bundle_start(self):
        dest = self.bundle_dir
        user_config = {
            "host": f"127.0.0.1:{self.pve.port}",
            "user": "mcp@pve",
            "token_name": "mcp",
            "token_value": TOKEN,
            "fingerprint": fingerprint(),
            "access": "read-only",
            # ca_file, protected and toolsets left to their defaults, as a user who skips them.
        }
        resolved = subprocess.run(
            ["node", os.path.join(ROOT, "dist", "mcpb-config.mjs"), MCPB_PACKAGE, dest],
            input=json.dumps(user_config).encode(), capture_output=True, timeout=60,
        )
        if resolved.returncode != 0:
            raise Fail(f"resolving the manifest failed: {resolved.stderr.decode(errors='replace').strip()}")
        config = json.loads(resolved.stdout)
        command = config["command"]
        if command != os.path.join(dest, "server", "linux", NAME):
            raise Fail(f"on Linux the manifest starts {command}, not server/linux/{NAME}")
        leftover = [k for k, v in config.get("env", {}).items() if "${" in v]
        if leftover:
            raise Fail(f"unsubstituted placeholders reach the server in {leftover}")
        done = session([command] + config.get("args", []), config["env"], self.pve)
        return f"started as the manifest says ({os.path.relpath(command, dest)}, fingerprint pin, defaults for the rest): {done}"

    # the container image

    def dockerfile(self):
        with open(os.path.join(ROOT, "Dockerfile")) as f:
            text = f.read()
        if not re.search(r"^FROM scratch$", text, re.M):
            raise Fail("the Dockerfile's image is not FROM scratch")
        if "LABEL io.modelcontextprotocol.server.name=" not in text:
            raise Fail("the Dockerfile lacks the io.modelcontextprotocol.server.name label")
        for var in ("PROXMOX_HOST", "PROXMOX_USER", "PROXMOX_TOKEN_NAME", "PROXMOX_TOKEN_VALUE",
                    "PROXMOX_PASSWORD", "PROXMOX_PORT", "PROXMOX_VERIFY_SSL", "PROXMOX_TIMEOUT"):
            if var not in text:
                raise Fail(f"the Dockerfile does not name {var} (the Docker MCP catalog's variable)")
        sources = re.findall(r"^COPY (\S+) ", text, re.M)
        if not sources:
            raise Fail("the Dockerfile copies nothing")
        found = []
        for src in sources:
            for platform, target in (("linux/amd64", "x86_64-unknown-linux-musl"), ("linux/arm64", "aarch64-unknown-linux-musl")):
                path = os.path.join(ROOT, src.replace("${TARGETPLATFORM}", platform))
                if not os.path.isfile(path):
                    raise Fail(f"the Dockerfile's input {os.path.relpath(path, ROOT)} is missing (run dist/build)")
                if src.endswith(NAME) and sha256(path) != sha256(self.unpacked[target]):
                    raise Fail(f"{os.path.relpath(path, ROOT)} is not the {target} release binary")
                found.append(os.path.relpath(path, ROOT))
        return f"FROM scratch, label, catalog variables; inputs present: {', '.join(sorted(set(found)))}"

    def docker_image(self):
        docker = shutil.which("docker")
        if not docker:
            return ("skip", "image NOT built: no docker command here")
        try:
            info = subprocess.run([docker, "info"], capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            return ("skip", "image NOT built: docker info did not answer within 30 s")
        if info.returncode != 0:
            why = info.stderr.decode(errors="replace").strip().splitlines()
            return ("skip", f"image NOT built: no usable Docker daemon here ({why[-1] if why else 'docker info failed'})")
        tag = f"{NAME}:dist-check"
        run([docker, "build", "-q", "-t", tag, ROOT], timeout=600)
        line = run([docker, "run", "--rm", tag, "--version"], timeout=120)
        version_line(line, "x86_64-unknown-linux-musl")
        label = run([docker, "image", "inspect", "--format",
                     '{{index .Config.Labels "io.modelcontextprotocol.server.name"}}', tag]).strip()
        if not label.endswith(f"/{NAME}"):
            raise Fail(f"the image's io.modelcontextprotocol.server.name label is {label!r}")
        # A real session, as a host runs it: `docker run -i --rm -e NAME …` with the values in the
        # docker client's environment (never on its command line), the CA file mounted read-only,
        # the host's loopback (where the fake PVE listens) reached through --network host.
        env = server_env(self.pve.port, "/run/ca.pem")
        command = [docker, "run", "-i", "--rm", "--network", "host",
                   "-v", f"{os.path.join(TLS, 'ca.pem')}:/run/ca.pem:ro"]
        for name in env:
            command += ["-e", name]
        client_env = {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for name in ("HOME", "DOCKER_HOST", "DOCKER_CONFIG"):
            if name in os.environ:
                client_env[name] = os.environ[name]
        done = session(command + [tag], client_env, self.pve, timeout=120)
        return f"built {tag} (label {label}); {line.strip()}; docker run -i: {done}"


def main():
    if not os.path.isdir(OUT):
        print(f"dist/check: dist/out/{VERSION} does not exist; run dist/build first", file=sys.stderr)
        return 1
    os.makedirs(WORK, exist_ok=True)
    c = Checks()
    c.check("SHA256SUMS", c.sums)
    c.check("server.json", c.server_json)
    for target, ext in TARGETS.items():
        c.check(f"archive {target}", lambda t=target, e=ext: c.archive(t, e))
    if len(c.unpacked) == len(TARGETS):
        c.check("linux x86_64 (run directly)", c.linux_x86_64)
        c.check("linux aarch64 (qemu-aarch64-static)", c.linux_aarch64)
        c.check("windows x86_64 (wine, ProcessPrng shim)", c.windows)
        c.check("macos universal (Mach-O slices)", c.macos)
        c.check("mcpb contents", c.bundle)
        if hasattr(c, "bundle_dir"):
            c.check("mcpb start on linux (manifest's command, env, user_config)", c.bundle_start)
        c.check("Dockerfile inputs", c.dockerfile)
        c.check("docker image", c.docker_image)
    failed = c.results.count("FAIL")
    print(f"dist/check: {c.results.count('ok')} ok, {failed} failed, {c.results.count('skip')} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
