#!/usr/bin/env bash
# Builds, installs and configures proxmox-mcp-server, then adds it to Claude Desktop or prints
# what Claude Desktop needs. Every question can be answered ahead by an option or an environment
# variable; with --yes, or when stdin is not a terminal, it never waits for input.
# Runs with the bash 3.2 that macOS ships.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: ./setup.sh [options]

Builds proxmox-mcp-server (a static musl binary on Linux when the Rust target and a musl C
compiler are installed), installs it, asks for the PVE connection and writes it to a settings
file (mode 0600), runs `proxmox-mcp-server check`, then adds the server to Claude Desktop's
claude_desktop_config.json (merged, other servers kept, a .bak copy first) or prints the block
to paste.

Every question can be answered ahead by an option or an environment variable (in brackets; an
option wins). With --yes, or when stdin is not a terminal, nothing is asked: a missing required
value stops the script before it builds anything. Secrets come from files or the environment,
never from the command line, and are never printed.

The PVE connection:
  --host HOST             PVE host: name, IP, host:port or https://host:port [PROXMOX_HOST]
  --user USER@REALM       e.g. mcp@pve or root@pam (USER@REALM!TOKEN also names the token)
                          [PROXMOX_USER]
  --token-name NAME       API token id, the part after '!' [PROXMOX_TOKEN_NAME]
  --token-value-file F    file holding the API token secret [PROXMOX_TOKEN_VALUE_FILE, or the
                          secret itself in PROXMOX_TOKEN_VALUE]
  --password-file F       password login instead of a token: file holding the password
                          [PROXMOX_PASSWORD_FILE, or PROXMOX_PASSWORD]
  --totp-secret-file F    base32 TOTP secret of a user with two-factor login (password login)
                          [PROXMOX_TOTP_SECRET_FILE, or PROXMOX_TOTP_SECRET]
  --access LEVEL          read-only (default), operate or full [PROXMOX_MCP_ACCESS]
  --tools LIST            the tools listed: default (the everyday ones), all, or a comma
                          list such as default,firewall,ha (toolsets, effects, tool names; see
                          `proxmox-mcp-server --help`) [PROXMOX_MCP_TOOLS]; written to the
                          settings file only when not default
  --fingerprint FP        trust only the node certificate with this SHA-256 fingerprint
                          (AB:CD:...) [PROXMOX_FINGERPRINT]
  --ca-file FILE          trust certificates signed by this CA, e.g. the cluster's
                          /etc/pve/pve-root-ca.pem copied from a node [PROXMOX_CA_FILE]

Where things go:
  --prefix DIR            install DIR/bin/proxmox-mcp-server (default ~/.local)
                          [PROXMOX_SETUP_PREFIX]
  --binary FILE           install FILE instead of building (no Rust needed)
                          [PROXMOX_SETUP_BINARY]
  --config FILE           the settings file (default ~/.config/proxmox-mcp-server/config.env,
                          under $XDG_CONFIG_HOME when that is set) [PROXMOX_CONFIG]. An existing
                          file is updated: values not given are kept, so are its other settings,
                          and the old file is saved as FILE.bak first.

Claude Desktop:
  --claude-desktop        add the server to claude_desktop_config.json without asking
                          [PROXMOX_SETUP_CLAUDE=1]
  --no-claude-desktop     do not offer it, only print the block [PROXMOX_SETUP_CLAUDE=0]
                          (without a terminal and without --claude-desktop it is not added)
  --claude-desktop-file F that file, if not at the usual path (macOS: ~/Library/Application
                          Support/Claude/, Linux: ~/.config/Claude/) [PROXMOX_SETUP_CLAUDE_FILE]
  --name NAME             the server's name under "mcpServers" (default proxmox)
                          [PROXMOX_SETUP_NAME]

  --yes, -y               ask nothing: take the options, the environment, the existing settings
                          file and the defaults
  --help, -h              this text

Exit status:
  0  installed, settings written, check passed (and Claude Desktop updated when asked to)
  1  installed and settings written, but the check failed or claude_desktop_config.json could
     not be updated; the lines above say what to fix
  2  stopped early: bad option or value, missing value without a terminal, no Rust, build or
     install failed; no settings were written
USAGE
}

say() { printf '%s\n' "$*" >&2; }
die() {
  say "setup.sh: $*"
  exit 2
}

: "${HOME:?HOME is not set}"

# Values from the environment; options (below) win over them.
host=${PROXMOX_HOST:-}
user=${PROXMOX_USER:-}
token_name=${PROXMOX_TOKEN_NAME:-}
token_value=${PROXMOX_TOKEN_VALUE:-}
token_value_file=${PROXMOX_TOKEN_VALUE_FILE:-}
password=${PROXMOX_PASSWORD:-}
password_file=${PROXMOX_PASSWORD_FILE:-}
totp=${PROXMOX_TOTP_SECRET:-}
totp_file=${PROXMOX_TOTP_SECRET_FILE:-}
access=${PROXMOX_MCP_ACCESS:-}
tools=${PROXMOX_MCP_TOOLS:-}
fingerprint=${PROXMOX_FINGERPRINT:-}
ca_file=${PROXMOX_CA_FILE:-}
config=${PROXMOX_CONFIG:-}
prefix=${PROXMOX_SETUP_PREFIX:-}
binary=${PROXMOX_SETUP_BINARY:-}
claude=${PROXMOX_SETUP_CLAUDE:-}
claude_file=${PROXMOX_SETUP_CLAUDE_FILE:-}
name=${PROXMOX_SETUP_NAME:-}
interactive=1
[ -t 0 ] || interactive=0

while [ $# -gt 0 ]; do
  case "$1" in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
  esac
  opt=$1
  case "$opt" in
    --host | --user | --token-name | --token-value-file | --password-file | --totp-secret-file | \
      --access | --tools | --fingerprint | --ca-file | --prefix | --binary | --config | \
      --claude-desktop-file | --name)
      [ $# -ge 2 ] || die "$opt needs a value (see --help)"
      value=$2
      shift
      ;;
  esac
  case "$opt" in
    --host) host=$value ;;
    --user) user=$value ;;
    --token-name) token_name=$value ;;
    --token-value-file) token_value_file=$value ;;
    --password-file) password_file=$value ;;
    --totp-secret-file) totp_file=$value ;;
    --access) access=$value ;;
    --tools) tools=$value ;;
    --fingerprint) fingerprint=$value ;;
    --ca-file) ca_file=$value ;;
    --prefix) prefix=$value ;;
    --binary) binary=$value ;;
    --config) config=$value ;;
    --claude-desktop) claude=1 ;;
    --no-claude-desktop) claude=0 ;;
    --claude-desktop-file) claude_file=$value ;;
    --name) name=$value ;;
    --yes | -y) interactive=0 ;;
    --help | -h)
      usage
      exit 0
      ;;
    *) die "unknown option $opt (see --help)" ;;
  esac
  shift
done

# From here on no child process sees PROXMOX_* from the environment: not the build, and not
# `check`, which is to test the settings file alone.
known=" PROXMOX_HOST PROXMOX_USER PROXMOX_TOKEN_NAME PROXMOX_TOKEN_VALUE PROXMOX_TOKEN_VALUE_FILE
  PROXMOX_PASSWORD PROXMOX_PASSWORD_FILE PROXMOX_TOTP_SECRET PROXMOX_TOTP_SECRET_FILE
  PROXMOX_MCP_ACCESS PROXMOX_MCP_TOOLS PROXMOX_FINGERPRINT PROXMOX_CA_FILE PROXMOX_CONFIG "
ignored=""
for v in $(compgen -e); do
  case "$v" in
    PROXMOX_SETUP_*) unset "$v" ;;
    PROXMOX_*)
      case "$known" in *[[:space:]]"$v"[[:space:]]*) ;; *) ignored="$ignored $v" ;; esac
      unset "$v"
      ;;
  esac
done

readable() { [ -f "$1" ] && [ -r "$1" ]; }

abspath() {
  case "$1" in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$PWD" "${1#./}" ;;
  esac
}

# read_secret VAR FILE: the first and only line of FILE (read by the shell, never on a command line).
read_secret() {
  local value
  readable "$2" || die "cannot read $2"
  value=$(<"$2")
  value=${value%$'\r'}
  [ -n "$value" ] || die "$2 is empty"
  printf -v "$1" '%s' "$value"
}

one_line() { # one_line WHAT VALUE
  case "$2" in
    *$'\n'* | *$'\r'*) die "$1 must be one line" ;;
  esac
}

[ -z "$token_value_file" ] || read_secret token_value "$token_value_file"
[ -z "$password_file" ] || read_secret password "$password_file"
[ -z "$totp_file" ] || read_secret totp "$totp_file"

config=$(abspath "${config:-${XDG_CONFIG_HOME:-$HOME/.config}/proxmox-mcp-server/config.env}")
prefix=$(abspath "${prefix:-$HOME/.local}")
installed="$prefix/bin/proxmox-mcp-server"
name=${name:-proxmox}
if [ -z "$claude_file" ]; then
  case "$(uname -s)" in
    Darwin) claude_file="$HOME/Library/Application Support/Claude/claude_desktop_config.json" ;;
    *) claude_file="${XDG_CONFIG_HOME:-$HOME/.config}/Claude/claude_desktop_config.json" ;;
  esac
fi
claude_file=$(abspath "$claude_file")
case "$claude" in
  1 | yes | true) claude=1 ;;
  0 | no | false) claude=0 ;;
  "") ;;
  *) die "PROXMOX_SETUP_CLAUDE=$claude: use 1 (add to Claude Desktop) or 0 (do not)" ;;
esac
if [ -n "$binary" ]; then
  binary=$(abspath "$binary")
  { [ -f "$binary" ] && [ -x "$binary" ]; } || die "--binary $binary is not an executable file"
fi
if [ -n "$ca_file" ]; then
  ca_file=$(abspath "$ca_file")
  readable "$ca_file" || die "--ca-file $ca_file: cannot read it"
fi

# The settings file as it is now: its values are the defaults, its other lines are kept.
settings_line_key() { # the KEY of a `[export ]KEY=value` line, or nothing
  local line=$1 key
  line=${line#"${line%%[![:space:]]*}"}
  line=${line#export }
  case "$line" in *=*) ;; *) return 0 ;; esac
  key=${line%%=*}
  key=${key#"${key%%[![:space:]]*}"}
  key=${key%"${key##*[![:space:]]}"}
  case "$key" in "" | [!A-Za-z_]* | *[!A-Za-z0-9_]*) return 0 ;; esac
  printf '%s' "$key"
}

current() { # current KEY: its value in the settings file (last one wins), unquoted
  local line value result=""
  [ -f "$config" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [ "$(settings_line_key "$line")" = "$1" ] || continue
    value=${line#*=}
    value=${value#"${value%%[![:space:]]*}"}
    value=${value%"${value##*[![:space:]]}"}
    case "$value" in
      \"*\" | \'*\') [ ${#value} -lt 2 ] || value=${value:1:${#value}-2} ;;
    esac
    result=$value
  done <"$config"
  printf '%s' "$result"
}

secret_keys=" PROXMOX_TOKEN_VALUE PROXMOX_TOKEN_VALUE_FILE PROXMOX_PASSWORD PROXMOX_PASSWORD_FILE
  PROXMOX_TOTP_SECRET PROXMOX_TOTP_SECRET_FILE "
has_secret=0
cur_host="" cur_user="" cur_token_name="" cur_access="" cur_tools="" cur_fingerprint="" cur_ca_file=""
if [ -e "$config" ]; then
  readable "$config" || die "cannot read the settings file $config"
  cur_host=$(current PROXMOX_HOST)
  cur_user=$(current PROXMOX_USER)
  cur_token_name=$(current PROXMOX_TOKEN_NAME)
  cur_access=$(current PROXMOX_MCP_ACCESS)
  cur_tools=$(current PROXMOX_MCP_TOOLS)
  cur_fingerprint=$(current PROXMOX_FINGERPRINT)
  cur_ca_file=$(current PROXMOX_CA_FILE)
  while IFS= read -r line || [ -n "$line" ]; do
    key=$(settings_line_key "$line")
    case "$secret_keys" in *[[:space:]]"${key:-none}"[[:space:]]*) has_secret=1 ;; esac
  done <"$config"
fi

ask() { # ask VAR QUESTION [DEFAULT] [secret]: on a terminal, and only when VAR is still empty
  local answer="" question=$2 default=${3:-}
  [ "$interactive" = 1 ] || return 0
  [ -z "${!1}" ] || return 0
  [ -z "$default" ] || question="$question [$default]"
  if [ "${4:-}" = secret ]; then
    read -r -s -p "$question: " answer || true
    printf '\n' >&2
  else
    read -r -p "$question: " answer || true
  fi
  printf -v "$1" '%s' "${answer:-$default}"
}

confirm() { # confirm QUESTION: y/N on a terminal; no without one
  local answer=""
  [ "$interactive" = 1 ] || return 1
  read -r -p "$1 [y/N] " answer || true
  case "$answer" in [yY] | [yY][eE][sS]) return 0 ;; *) return 1 ;; esac
}

# 1. The questions, all before the build.
if [ "$interactive" = 1 ]; then
  say "proxmox-mcp-server setup: the PVE connection (Enter takes the value in brackets)"
fi
ask host "PVE host (name or IP, e.g. pve1.example.com)" "$cur_host"
host=${host:-$cur_host}
ask user "PVE user (e.g. mcp@pve)" "$cur_user"
user=${user:-$cur_user}
case "$user" in
  *!*)
    [ -z "$token_name" ] || [ "$token_name" = "${user#*!}" ] ||
      die "the user $user names token '${user#*!}' but the token id is '$token_name'; give it once"
    token_name=${user#*!}
    user=${user%%!*}
    ;;
esac
token_given=$token_name
keep=""
[ "$has_secret" = 0 ] || keep=", Enter keeps the current one"
if [ -n "$token_value" ]; then
  ask token_name "API token id, the part after '!'" "$cur_token_name"
elif [ -z "$password" ]; then
  ask token_name "API token id, the part after '!' (empty: log in with a password)" "$cur_token_name"
  if [ -n "$token_name" ]; then
    ask token_value "API token secret (hidden$keep)" "" secret
  else
    ask password "password of $user (hidden$keep)" "" secret
    [ -z "$password" ] || ask totp "base32 TOTP secret, if $user logs in with two factors (hidden; Enter if not)" "" secret
  fi
fi
# The spellings the server itself accepts, written as the server names them.
normal_access() {
  case "$access" in
    readonly | read_only | read-only) access=read-only ;;
  esac
}
until [ "$interactive" = 0 ]; do
  ask access "access level: read-only, operate or full" "${cur_access:-read-only}"
  normal_access
  case "$access" in read-only | operate | full) break ;; esac
  say "'$access' is not an access level"
  access=""
done
access=${access:-${cur_access:-read-only}}
normal_access
tools_question="tools to list: default (the everyday ones), all, or a comma list (default,firewall,ha adds those two toolsets to the everyday tools)"
ask tools "$tools_question" "${cur_tools:-default}"
normal_tools() { # no spaces; empty means default
  tools=${tools//[[:space:]]/}
  tools=${tools:-default}
}
tools=${tools:-$cur_tools}
normal_tools

# 2. Is that enough, and sound?
if [ -n "$token_value" ]; then
  token_name=${token_name:-$cur_token_name}
  [ -n "$token_name" ] || die "a token secret was given but no token id: pass --token-name (or PROXMOX_TOKEN_NAME)"
elif [ -n "$password" ]; then
  [ -z "$token_given" ] ||
    die "the token id '$token_given' was given without its secret: pass --token-value-file (or PROXMOX_TOKEN_VALUE), or leave the token id out for password login"
  token_name=""
else
  token_name=${token_name:-$cur_token_name}
fi
missing=""
[ -n "$host" ] || missing="$missing
  the host: --host or PROXMOX_HOST"
[ -n "$user" ] || missing="$missing
  the user: --user or PROXMOX_USER (e.g. mcp@pve)"
if [ -z "$token_value$password" ] && [ "$has_secret" = 0 ]; then
  missing="$missing
  an API token: --token-name and --token-value-file (or PROXMOX_TOKEN_NAME and PROXMOX_TOKEN_VALUE),
  or a password: --password-file (or PROXMOX_PASSWORD)"
fi
[ -z "$missing" ] || die "missing (nothing was installed or written; see --help):$missing"
case "$access" in
  read-only | operate | full) ;;
  *) die "access level '$access' is not read-only, operate or full" ;;
esac
case "$user" in
  ?*@?*) ;;
  *) die "the user '$user' has no realm: write user@realm, e.g. mcp@pve or root@pam" ;;
esac
[ -n "$token_value$password" ] || [ -z "$totp" ] || die "a TOTP secret needs a password (--password-file)"
for pair in "host:$host" "user:$user" "token id:$token_name" "token secret:$token_value" "toolsets:$tools" \
  "password:$password" "TOTP secret:$totp" "fingerprint:$fingerprint" "name:$name"; do
  one_line "the ${pair%%:*}" "${pair#*:}"
done
fingerprint=${fingerprint:-$cur_fingerprint}
ca_file=${ca_file:-$cur_ca_file}

# 3. Build (or take --binary).
musl_cc() { # a C compiler for the musl target: ring, a dependency, has C code
  local var="CC_$1"
  var=${var//-/_}
  if [ -n "${!var:-}" ]; then
    printf '%s' "${!var}"
  elif command -v "$2-linux-musl-gcc" >/dev/null 2>&1; then
    printf '%s' "$2-linux-musl-gcc"
  elif command -v musl-gcc >/dev/null 2>&1; then
    printf 'musl-gcc'
  fi
}

build() { # sets `binary`
  local repo target_dir arch triple out cc=""
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
  [ -f "$repo/Cargo.toml" ] || die "no Cargo.toml next to setup.sh; run it in the source tree, or pass --binary FILE"
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs) first, or pass --binary FILE"
  if ! out=$(cargo --version 2>&1); then
    die "cargo does not run: ${out%%$'\n'*}"
  fi
  target_dir=${CARGO_TARGET_DIR:-target}
  case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
  if [ "$(uname -s)" = Linux ]; then
    arch=$(uname -m)
    triple="$arch-unknown-linux-musl"
    if [ ! -d "$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$triple/lib" ]; then
      say "note: the Rust target $triple is not installed, so this build is dynamically linked: it runs"
      say "      here, but for a static binary that runs on any Linux (e.g. a PVE node) run"
      say "      'rustup target add $triple', install musl-gcc (Debian/Ubuntu: apt-get install"
      say "      musl-tools; Fedora: dnf install musl-gcc), then setup.sh again"
    else
      cc=$(musl_cc "$triple" "$arch")
      [ -n "$cc" ] || {
        say "note: the Rust target $triple is installed but no musl C compiler was found, so this build"
        say "      is dynamically linked; for a static one install musl-gcc (Debian/Ubuntu: apt-get"
        say "      install musl-tools; Fedora: dnf install musl-gcc), then run setup.sh again"
      }
    fi
  fi
  if [ -n "$cc" ]; then
    say "building a static binary ($triple, C compiler $cc)..."
    if (cd "$repo" && env "CC_${triple//-/_}=$cc" cargo build --release --locked --target "$triple"); then
      binary="$target_dir/$triple/release/proxmox-mcp-server"
      return 0
    fi
    say "the static build failed (see above); building a dynamically linked binary instead"
  fi
  say "building (cargo build --release)..."
  (cd "$repo" && cargo build --release --locked) || die "the build failed (see above)"
  binary="$target_dir/release/proxmox-mcp-server"
}

[ -n "$binary" ] || build
version=$("$binary" --version 2>/dev/null) || die "$binary does not run on this machine"

# The toolsets, checked by the binary itself (it knows every toolset and tool name).
toolsets_refused() { # the binary's complaint about $tools, or nothing
  local out
  out=$(env PROXMOX_MCP_TOOLS="$tools" PROXMOX_MCP_ACCESS="$access" "$binary" tools 2>&1 >/dev/null) && return 0
  printf '%s' "${out#proxmox-mcp-server: configuration: }"
}
while refused=$(toolsets_refused) && [ -n "$refused" ]; do
  [ "$interactive" = 1 ] || die "$refused (nothing was installed or written)"
  say "$refused"
  tools=""
  ask tools "$tools_question" "default"
  normal_tools
done

# 4. Install.
mkdir -p "$prefix/bin" || die "cannot create $prefix/bin"
if [ ! "$binary" -ef "$installed" ]; then
  if ! { cp "$binary" "$installed.tmp.$$" && chmod 0755 "$installed.tmp.$$" &&
    mv -f "$installed.tmp.$$" "$installed"; }; then
    rm -f "$installed.tmp.$$"
    die "cannot install $installed"
  fi
fi
say "installed $installed ($version)"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) say "note: $prefix/bin is not in PATH; add it to run proxmox-mcp-server by name" ;;
esac

# 5. The settings file: 0600 from the start (umask), written whole, then moved into place.
put() { [ -z "$2" ] || printf '%s=%s\n' "$1" "$2"; }
put_secret() { [ -z "$2" ] || printf "%s='%s'\\n" "$1" "$2"; }

write_settings() {
  local tmp="$config.tmp.$$" line key replaced
  replaced=" PROXMOX_HOST PROXMOX_USER PROXMOX_TOKEN_NAME PROXMOX_MCP_ACCESS PROXMOX_MCP_TOOLS PROXMOX_FINGERPRINT PROXMOX_CA_FILE "
  [ -z "$token_value$password" ] || replaced="$replaced$secret_keys"
  (umask 077 && mkdir -p "$(dirname "$config")") || die "cannot create the directory of $config"
  (
    umask 077
    rm -f "$tmp"
    {
      printf '# proxmox-mcp-server settings, written by setup.sh. Keep this file mode 0600.\n'
      put PROXMOX_HOST "$host"
      put PROXMOX_USER "$user"
      put PROXMOX_TOKEN_NAME "$token_name"
      put PROXMOX_MCP_ACCESS "$access"
      [ "$tools" = default ] || put PROXMOX_MCP_TOOLS "$tools"
      put PROXMOX_FINGERPRINT "$fingerprint"
      put PROXMOX_CA_FILE "$ca_file"
      put_secret PROXMOX_TOKEN_VALUE "$token_value"
      put_secret PROXMOX_PASSWORD "$password"
      put_secret PROXMOX_TOTP_SECRET "$totp"
      if [ -f "$config" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
          case "$line" in "# proxmox-mcp-server settings, written by setup.sh"*) continue ;; esac
          key=$(settings_line_key "$line")
          case "$replaced" in *[[:space:]]"${key:-none}"[[:space:]]*) continue ;; esac
          printf '%s\n' "$line"
        done <"$config"
      fi
    } >"$tmp" || exit 1
    chmod 0600 "$tmp" || exit 1
    if [ -f "$config" ]; then
      rm -f "$config.bak" && cat "$config" >"$config.bak" || exit 1
    fi
    mv -f "$tmp" "$config"
  ) || {
    rm -f "$tmp"
    die "cannot write $config"
  }
}

write_settings
say "wrote $config (mode 0600)"
[ -z "$ignored" ] ||
  say "note:$ignored set in the environment but not written to $config; add them there if the server needs them"

# 6. Check.
check_output=""
run_check() {
  local status=0
  say ""
  say "checking: PROXMOX_CONFIG=$config $installed check"
  check_output=$(PROXMOX_CONFIG="$config" "$installed" check 2>&1) || status=$?
  printf '%s\n' "$check_output" >&2
  # check wraps long lines; the texts looked for below may span two.
  check_output=$(printf '%s' "$check_output" | tr -s ' \n' ' ')
  return "$status"
}

status=0
check_ok=0
run_check || status=$?
if [ "$status" = 0 ]; then
  check_ok=1
else
  fp_pattern='PROXMOX_FINGERPRINT=([0-9A-Fa-f:]+)'
  seen_fp=""
  if [[ $check_output =~ $fp_pattern ]]; then seen_fp=${BASH_REMATCH[1]}; fi
  if [ -n "$seen_fp" ] && [ "$seen_fp" != "$fingerprint" ] && [ "$interactive" = 1 ]; then
    say ""
    say "The node presents a certificate this machine does not trust. Its SHA-256 fingerprint is"
    say "  $seen_fp"
    say "Compare it with the node's own (web UI: Node > System > Certificates)."
    if confirm "Is it the same? Trust this certificate (PROXMOX_FINGERPRINT in $config)?"; then
      fingerprint=$seen_fp
      write_settings
      status=0
      run_check || status=$?
      [ "$status" != 0 ] || check_ok=1
    fi
  fi
  # PVE refused the secret: on a terminal ask for it again (never point at the file that holds it).
  tries=0
  while [ "$check_ok" = 0 ] && [ "$interactive" = 1 ] && [ "$tries" -lt 3 ] &&
    [[ $check_output == *"PVE refused the credentials"* ]]; do
    tries=$((tries + 1))
    say ""
    say "PVE refused the credentials of $user. Enter them again (Enter alone stops here)."
    if [ -n "$token_name" ]; then
      token_value=""
      ask token_value "API token secret of $user!$token_name (hidden)" "" secret
      [ -n "$token_value" ] || break
    else
      password=""
      ask password "password of $user (hidden)" "" secret
      [ -n "$password" ] || break
    fi
    write_settings
    status=0
    run_check || status=$?
    [ "$status" != 0 ] || check_ok=1
  done
  if [ "$check_ok" = 0 ] && [[ $check_output == *"PVE refused the credentials"* ]]; then
    say ""
    say "PVE refused the credentials of $user: check the user and token id in PVE"
    say "(pveum user token list $user), then run ./setup.sh again with the right secret"
    say "(--token-value-file FILE or --password-file FILE)."
  elif [ "$check_ok" = 0 ]; then
    say ""
    if [ "$status" = 2 ]; then
      say "The settings were refused (the line above says why): fix $config,"
    else
      say "The check failed: fix what the ✗ lines say (in $config, or on the PVE side),"
    fi
    [ -z "$seen_fp" ] || [ "$interactive" = 1 ] ||
      say "(to trust that certificate once you compared its fingerprint: setup.sh --fingerprint $seen_fp),"
    say "then run: PROXMOX_CONFIG=$config $installed check"
  fi
fi

# 7. Claude Desktop.
desktop_ok=1
desktop_done=0
if [ -z "$claude" ] && [ "$interactive" = 1 ]; then
  say ""
  if [ "$check_ok" = 0 ]; then
    question="The check failed, so the server will not work until that is fixed. Add it to Claude Desktop anyway ($claude_file; other servers are kept, a .bak copy is made)?"
  else
    question="Add it to Claude Desktop ($claude_file; other servers are kept, a .bak copy is made)?"
  fi
  if confirm "$question"; then
    claude=1
  fi
fi
if [ "$claude" = 1 ]; then
  say ""
  if "$installed" claude-config --config "$config" --file "$claude_file" --name "$name" >&2; then
    desktop_done=1
  else
    desktop_ok=0
    say "claude_desktop_config.json was not changed; add the block below to it by hand"
  fi
fi

# 8. What the MCP host needs.
json() { # a JSON string's content
  local s=${1//\\/\\\\}
  printf '%s' "${s//\"/\\\"}"
}
echo
echo "proxmox-mcp-server is installed as $installed; its settings are in $config."
if [ "$desktop_done" = 1 ]; then
  echo "Claude Desktop runs it as \"$name\" once restarted. Any other MCP host takes the same entry:"
else
  echo "For Claude Desktop, merge this into $claude_file"
  echo "(or run: $installed claude-config --config $config):"
fi
cat <<JSON
{
  "mcpServers": {
    "$(json "$name")": {
      "command": "$(json "$installed")",
      "env": { "PROXMOX_CONFIG": "$(json "$config")" }
    }
  }
}
JSON

if [ "$check_ok" != 1 ] || [ "$desktop_ok" != 1 ]; then
  exit 1
fi
