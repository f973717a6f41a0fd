#!/usr/bin/env bash
# Everything cluster-up needs before it changes anything on the machine: the Debian
# packages of the node (installed only when missing) and the cached binaries.
# Prints the binaries' directory on stdout.
set -euo pipefail
LOG_PREFIX=cluster-prepare
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_debian_packages
exec "${CLUSTER_HACK_DIR}/build.sh"
