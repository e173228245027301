#!/bin/sh
# Like the official image: Redis started without a configuration file accepts
# clients from other containers (protected mode would refuse them).
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
