#!/usr/bin/env bash
# Import the project's images (localhost/audiotext-*:dev, built by `make images` into the
# podman storage under .images/) into the test node's containerd, so pods with
# imagePullPolicy IfNotPresent start from them. Does nothing when no such storage exists.
# An image whose podman ID was imported before (and is still present) is skipped.
set -euo pipefail
LOG_PREFIX=cluster-images
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

podman="${REPO_ROOT}/.images/podman"
[[ -x "${podman}" ]] || exit 0
[[ -S "${CONTAINERD_SOCK}" ]] || die "containerd of the test cluster is not running"

stamps="${CONTAINERD_DIR}/imported"
mkdir -p "${stamps}"
present="$(ctr --address "${CONTAINERD_SOCK}" -n k8s.io images ls -q 2>/dev/null || true)"

"${podman}" images --format '{{.Repository}}:{{.Tag}} {{.ID}}' 2>/dev/null \
  | { grep -E '^localhost/audiotext-[^ ]*:dev ' || true; } | while read -r ref id; do
    stamp="${stamps}/$(printf '%s' "${ref}" | tr '/:' '__')"
    if [[ "$(cat "${stamp}" 2>/dev/null)" == "${id}" ]] && grep -qxF "${ref}" <<<"${present}"; then
      continue
    fi
    log "importing ${ref} into ${NODE_NAME}"
    tmp="$(mktemp -d)"
    if ! "${podman}" save --format docker-archive -o "${tmp}/image.tar" "${ref}" >"${tmp}/save.log" 2>&1; then
      cat "${tmp}/save.log" >&2
      rm -rf "${tmp}"
      die "podman save ${ref} failed"
    fi
    ctr --address "${CONTAINERD_SOCK}" -n k8s.io images import "${tmp}/image.tar" >/dev/null
    rm -rf "${tmp}"
    echo "${id}" >"${stamp}"
  done
