#!/usr/bin/env bash
# Makes the two base images the local stand-ins are built from, where no
# container registry can be reached:
#
#   todo-suite-local/debian:bookworm   mmdebstrap --variant=minbase, then docker import
#   todo-suite-local/python:3.11       Debian's python3 on top (python/Dockerfile)
#
# An image that already exists is kept; --rebuild makes both again.
# Needs a Docker engine, mmdebstrap and Debian's mirror (apt's sources).
#
#   compose/local/build-base-images.sh
#   PYTHON_IMAGE=todo-suite-local/python:3.11 docker compose \
#     -f compose/docker-compose.yml -f compose/local/docker-compose.local.yml up --build --wait
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DEBIAN_IMAGE="${DEBIAN_IMAGE:-todo-suite-local/debian:bookworm}"
PYTHON_IMAGE="${PYTHON_IMAGE:-todo-suite-local/python:3.11}"
# The certificate authorities update-ca-certificates added to this machine.
EXTRA_CA_DIR="${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"

rebuild=""
[ "${1:-}" = "--rebuild" ] && rebuild=1

have_image() { [ -z "$rebuild" ] && docker image inspect "$1" >/dev/null 2>&1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

if have_image "$DEBIAN_IMAGE"; then
  echo "build-base-images: $DEBIAN_IMAGE exists"
else
  echo "build-base-images: making $DEBIAN_IMAGE with mmdebstrap"
  mmdebstrap --quiet --variant=minbase bookworm "$scratch/rootfs.tar"
  docker import "$scratch/rootfs.tar" "$DEBIAN_IMAGE" >/dev/null
  rm -f "$scratch/rootfs.tar"
fi

if have_image "$PYTHON_IMAGE"; then
  echo "build-base-images: $PYTHON_IMAGE exists"
else
  echo "build-base-images: building $PYTHON_IMAGE"
  mkdir -p "$scratch/python/extra-ca-certificates"
  cp "$HERE/python/Dockerfile" "$scratch/python/"
  find "$EXTRA_CA_DIR" -name '*.crt' -exec cp {} "$scratch/python/extra-ca-certificates/" \; 2>/dev/null || true
  docker build --quiet --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" -t "$PYTHON_IMAGE" "$scratch/python" >/dev/null
fi
