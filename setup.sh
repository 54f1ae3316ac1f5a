#!/usr/bin/env bash
# Builds, installs and configures proxmox-mcp-server, then prints what Claude Desktop needs.
# Every question can be answered by a flag or an environment variable; with --yes or without a
# terminal it never waits for input.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: ./setup.sh [options]

Builds the release binary (static musl on Linux when that target is installed), installs it,
writes the PVE settings to a 0600 file, runs `proxmox-mcp-server check`, and prints the
Claude Desktop configuration block.

options (environment variable in brackets):
  --prefix DIR          install into DIR/bin (default ~/.local) [PREFIX]
  --host HOST           PVE host, e.g. pve1.example.com or 10.0.0.5:8006 [PROXMOX_HOST]
  --user USER@REALM     e.g. root@pam or mcp@pve [PROXMOX_USER]
  --token-name NAME     API token id, the part after '!' [PROXMOX_TOKEN_NAME]
  --token-value-file F  read the API token secret from file F [PROXMOX_TOKEN_VALUE]
  --access LEVEL        read-only (default), operate or full [PROXMOX_MCP_ACCESS]
  --fingerprint FP      pin the node certificate's SHA-256 fingerprint [PROXMOX_FINGERPRINT]
  --config FILE         where to write the settings
                        (default ${XDG_CONFIG_HOME:-~/.config}/proxmox-mcp-server/config.env)
  --no-build            install the binary already built in target/
  --yes                 ask nothing; take flags, environment and defaults
  --help                this text
USAGE
}

say() { printf '%s\n' "$*" >&2; }
die() { say "setup.sh: $*"; exit 2; }

prefix="${PREFIX:-$HOME/.local}"
host="${PROXMOX_HOST:-}"
user="${PROXMOX_USER:-}"
token_name="${PROXMOX_TOKEN_NAME:-}"
token_value="${PROXMOX_TOKEN_VALUE:-}"
access="${PROXMOX_MCP_ACCESS:-}"
fingerprint="${PROXMOX_FINGERPRINT:-}"
config="${XDG_CONFIG_HOME:-$HOME/.config}/proxmox-mcp-server/config.env"
build=1
interactive=1
[ -t 0 ] || interactive=0

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift ;;
    --host) host="${2:?--host needs a value}"; shift ;;
    --user) user="${2:?--user needs a value}"; shift ;;
    --token-name) token_name="${2:?--token-name needs a value}"; shift ;;
    --token-value-file)
      f="${2:?--token-value-file needs a file}"; shift
      [ -r "$f" ] || die "cannot read $f"
      token_value="$(tr -d '\r\n' < "$f")" ;;
    --access) access="${2:?--access needs a level}"; shift ;;
    --fingerprint) fingerprint="${2:?--fingerprint needs a value}"; shift ;;
    --config) config="${2:?--config needs a file}"; shift ;;
    --no-build) build=0 ;;
    --yes|-y) interactive=0 ;;
    --help|-h) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

ask() { # ask VAR "question" [secret]
  local answer
  [ "$interactive" = 1 ] || return 0
  [ -z "${!1}" ] || return 0
  if [ "${3:-}" = secret ]; then
    read -r -s -p "$2: " answer; printf '\n' >&2
  else
    read -r -p "$2: " answer
  fi
  printf -v "$1" '%s' "$answer"
}

cd "$(dirname "$0")"
command -v cargo >/dev/null || die "cargo not found; install Rust from https://rustup.rs first"

# 1. Build.
binary=target/release/proxmox-mcp-server
musl=x86_64-unknown-linux-musl
if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] \
  && rustup target list --installed 2>/dev/null | grep -qx "$musl" && command -v musl-gcc >/dev/null; then
  binary="target/$musl/release/proxmox-mcp-server"
  if [ "$build" = 1 ]; then
    say "building a static binary ($musl)..."
    CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked --target "$musl"
  fi
else
  if [ "$(uname -s)" = Linux ]; then
    say "note: building a dynamically linked binary; for a static one that runs on any Linux (e.g. a PVE node):"
    say "      rustup target add $musl && apt-get install musl-tools, then run setup.sh again"
  fi
  if [ "$build" = 1 ]; then
    say "building..."
    cargo build --release --locked
  fi
fi
[ -x "$binary" ] || die "$binary is missing; run without --no-build"

# 2. Install.
mkdir -p "$prefix/bin"
install -m 0755 "$binary" "$prefix/bin/proxmox-mcp-server"
installed="$prefix/bin/proxmox-mcp-server"
say "installed $installed ($("$installed" --version))"

# 3. Configure.
ask host "PVE host (e.g. pve1.example.com)"
ask user "PVE user (e.g. root@pam)"
ask token_name "API token id (the part after '!')"
ask token_value "API token secret" secret
ask access "access level: read-only, operate or full [read-only]"
access="${access:-read-only}"
case "$access" in read-only|operate|full) ;; *) die "access level '$access' is not read-only, operate or full" ;; esac

if [ -n "$host" ] && [ -n "$user" ]; then
  mkdir -p "$(dirname "$config")"
  (
    umask 077
    {
      printf '# proxmox-mcp-server settings, written by setup.sh\n'
      printf 'PROXMOX_HOST=%s\n' "$host"
      printf 'PROXMOX_USER=%s\n' "$user"
      [ -z "$token_name" ] || printf 'PROXMOX_TOKEN_NAME=%s\n' "$token_name"
      [ -z "$token_value" ] || printf 'PROXMOX_TOKEN_VALUE=%s\n' "$token_value"
      [ -z "${PROXMOX_PASSWORD:-}" ] || printf 'PROXMOX_PASSWORD=%s\n' "$PROXMOX_PASSWORD"
      [ -z "$fingerprint" ] || printf 'PROXMOX_FINGERPRINT=%s\n' "$fingerprint"
      printf 'PROXMOX_MCP_ACCESS=%s\n' "$access"
    } > "$config.tmp"
    mv "$config.tmp" "$config"
  )
  chmod 600 "$config"
  say "wrote $config (mode 600)"

  # 4. Check.
  say "checking the connection..."
  if PROXMOX_CONFIG="$config" "$installed" check; then
    say "the server can reach PVE"
  else
    say "the check failed: fix what the ✗ lines say in $config, then run: PROXMOX_CONFIG=$config $installed check"
  fi
else
  say "no host/user given: no settings written (pass --host, --user, --token-name, --token-value-file)"
fi

# 5. What the MCP host needs.
cat <<JSON

Add this to Claude Desktop's claude_desktop_config.json (under "mcpServers"):

  "proxmox": {
    "command": "$installed",
    "env": { "PROXMOX_CONFIG": "$config" }
  }
JSON
