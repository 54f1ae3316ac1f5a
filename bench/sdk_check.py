"""Strict client check with the official MCP Python SDK (see bench/sdk-check).

Runs the server binary given as argv[1] at access full with exec on, against a loopback fake
PVE (plain http, which the server allows only to loopback). Checks, with the SDK's own types:
every tool has a description; its inputSchema is an object whose every property has a type and
a description; its outputSchema is an object schema with properties. Then calls read tools and
a task tool; the SDK's ClientSession validates each structuredContent against the tool's
outputSchema and raises on a mismatch. Prints each failure and a summary; exit 1 on failures.
"""

import asyncio
import json
import os
import tempfile
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

UPID = "UPID:pve1:000A1B2C:01234567:6740A000:qmstart:100:root@pam!mcp:"
GUESTS = [
    {"type": "qemu", "vmid": 100, "name": "web", "node": "pve1", "status": "running", "id": "qemu/100",
     "cpu": 0.02, "mem": 1073741824, "maxmem": 2147483648, "uptime": 3600, "tags": "prod"},
    {"type": "lxc", "vmid": 200, "name": "dns", "node": "pve1", "status": "stopped", "id": "lxc/200"},
]
ANSWERS = {
    ("GET", "/version"): {"version": "9.1.2", "release": "9.1", "repoid": "abc"},
    ("GET", "/nodes"): [{"node": "pve1", "status": "online", "cpu": 0.1, "maxcpu": 8, "mem": 1, "maxmem": 2,
                         "disk": 1, "maxdisk": 2, "uptime": 100}],
    ("GET", "/nodes/pve1/status"): {"cpu": 0.1, "loadavg": ["0.1", "0.2", "0.3"], "memory": {"total": 2, "used": 1},
                                     "uptime": 100, "pveversion": "pve-manager/9.1.2"},
    ("GET", "/cluster/status"): [{"type": "cluster", "name": "c", "quorate": 1, "nodes": 1},
                                 {"type": "node", "name": "pve1", "online": 1, "ip": "10.0.0.1", "local": 1}],
    ("GET", "/cluster/resources"): GUESTS,
    ("GET", "/cluster/nextid"): "101",
    ("GET", "/nodes/pve1/qemu/100/status/current"): {"status": "running", "vmid": 100, "name": "web",
                                                      "cpu": 0.1, "mem": 1, "maxmem": 2, "uptime": 5},
    ("GET", "/nodes/pve1/qemu/100/config"): {"name": "web", "cores": 2, "memory": "2048", "digest": "d"},
    ("GET", "/nodes/pve1/lxc/200/status/current"): {"status": "stopped", "vmid": 200, "name": "dns"},
    ("POST", "/nodes/pve1/lxc/200/status/start"): UPID,
    ("GET", f"/nodes/pve1/tasks/{UPID}/status"): {"status": "stopped", "exitstatus": "OK", "upid": UPID,
                                                   "node": "pve1", "type": "qmstart", "starttime": 1},
    ("GET", "/cluster/tasks"): [{"upid": UPID, "node": "pve1", "type": "qmstart", "id": "100", "user": "root@pam",
                                 "starttime": 1, "endtime": 2, "status": "OK"}],
}
CALLS = [
    ("get_version", {}), ("list_nodes", {}), ("get_node_status", {"node": "pve1"}),
    ("get_cluster_status", {}), ("get_cluster_resources", {}), ("get_next_vmid", {}),
    ("list_vms", {}), ("list_containers", {}), ("get_vm_status", {"vmid": 100}),
    ("get_vm_config", {"vmid": 100}), ("list_tasks", {}), ("get_task_status", {"upid": UPID}),
    ("start_container", {"vmid": 200, "dry_run": True}), ("start_container", {"vmid": 200}),
    ("start_container", {"vmid": 200, "wait_seconds": 0}),
]


class FakePve(BaseHTTPRequestHandler):
    def answer(self):
        from urllib.parse import unquote, urlsplit
        path = unquote(urlsplit(self.path).path).removeprefix("/api2/extjs")
        data = ANSWERS.get((self.command, path))
        body = {"success": 1, "data": data} if data is not None else \
            {"success": 0, "status": 404, "message": f"no such path {path}"}
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


def attr(obj, camel, snake):
    """A field of an SDK type: newer SDKs name them in snake case, older ones as on the wire."""
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


def strict_tool_problems(tool):
    problems = []
    if not (tool.description or "").strip():
        problems.append("no description")
    schema = attr(tool, "inputSchema", "input_schema")
    if schema.get("type") != "object":
        problems.append("inputSchema is not an object schema")
    for name, prop in schema.get("properties", {}).items():
        if not (prop.get("description") or "").strip():
            problems.append(f"parameter {name} has no description")
        if "type" not in prop and not any(k in prop for k in ("anyOf", "oneOf", "enum")):
            problems.append(f"parameter {name} has no type")
    out = attr(tool, "outputSchema", "output_schema")
    if out is None:
        problems.append("no outputSchema")
    elif out.get("type") != "object" or not out.get("properties"):
        problems.append("outputSchema is not an object schema with properties")
    return problems


async def main(binary):
    # A directory only this user may write, as PROXMOX_MCP_SECRETS_DIR requires.
    secrets_dir = tempfile.mkdtemp(prefix="sdk-check-secrets-")
    os.chmod(secrets_dir, 0o700)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakePve)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROXMOX_")}
    env.update({
        "PROXMOX_HOST": f"http://127.0.0.1:{httpd.server_address[1]}",
        "PROXMOX_USER": "root@pam", "PROXMOX_TOKEN_NAME": "mcp",
        "PROXMOX_TOKEN_VALUE": "0b6d7c1e-8f2a-4e93-a5d4-3c9e1f7b2a60",
        "PROXMOX_MCP_ACCESS": "full", "PROXMOX_MCP_ALLOW_EXEC": "true", "PROXMOX_MCP_LOG": "error",
        # Every toolset: the check covers every tool the server has, not only the default ones;
        # with the access-admin switch and a secrets directory, the tools they hold back too.
        "PROXMOX_MCP_TOOLS": "all",
        "PROXMOX_MCP_ALLOW_ACCESS_ADMIN": "true",
        "PROXMOX_MCP_SECRETS_DIR": secrets_dir,
    })
    failures = checks = 0
    params = StdioServerParameters(command=binary, args=[], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            info = attr(init, "serverInfo", "server_info")
            print(f"server {info.name} {info.version}, protocol {attr(init, 'protocolVersion', 'protocol_version')}")
            tools = (await session.list_tools()).tools
            for tool in tools:
                checks += 1
                for p in strict_tool_problems(tool):
                    failures += 1
                    print(f"FAIL {tool.name}: {p}")
            for name, args in CALLS:
                checks += 1
                try:
                    result = await session.call_tool(name, args)
                except Exception as e:  # the SDK raises when structuredContent misses its schema
                    failures += 1
                    print(f"FAIL {name} {json.dumps(args)}: {e}")
                    continue
                if attr(result, "isError", "is_error") or attr(result, "structuredContent", "structured_content") is None:
                    failures += 1
                    print(f"FAIL {name} {json.dumps(args)}: {result.content[0].text}")
    httpd.shutdown()
    print(f"{len(tools)} tools listed; {checks} checks ({len(tools)} tools, {len(CALLS)} calls), {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
