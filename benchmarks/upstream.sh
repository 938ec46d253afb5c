#!/usr/bin/env bash
# The benchmark upstream's one system dependency: nginx (Debian's package).
#   bash benchmarks/upstream.sh install   # apt-get install nginx when it is missing (needs root)
#   bash benchmarks/upstream.sh run       # serve the canned answers in the foreground (Ctrl-C stops)
# bench.py calls `install` by itself when nginx is missing, and falls back to a raw asyncio server
# when that fails too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-install}" in
  install)
    if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
      exit 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
      echo "nginx is missing; run as root (or: sudo apt-get install -y nginx)" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # the package's own service start is not wanted (and fails without an init system): ignore it
    apt-get install -y -qq nginx >/dev/null || command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]
    ;;
  run)
    exec python "$here/upstream.py" nginx
    ;;
  *)
    echo "usage: $0 [install|run]" >&2
    exit 2
    ;;
esac
