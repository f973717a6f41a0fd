#!/usr/bin/env bash
# Build the MinIO server used by the S3 tests from its Go module, and cache it.
#
# github.com/minio/minio publishes no semver tags, so its releases are addressed by
# pseudo-version. The pin below is release RELEASE.2025-10-15T17-29-55Z.
# The binary is cached under
#   ${AUDIOTEXT_CACHE_DIR:-$HOME/.cache/audiotext}/minio/<version>/minio
# so a second run builds nothing. Prints the binary's path on stdout; progress goes to stderr.
# If the module proxy cannot serve the pin, @latest is built instead and recorded in
# <cache>/minio/<pin>/fallback-version (delete it to retry the pin).
#
# Environment:
#   MINIO_VERSION        module version to build (default: the pin below)
#   AUDIOTEXT_CACHE_DIR  cache root (default: $HOME/.cache/audiotext)
#   GO                   the go command (default: go, or /usr/local/go/bin/go)
set -euo pipefail

readonly MODULE="github.com/minio/minio"
readonly PINNED_VERSION="v0.0.0-20251015172955-9e49d5e7a648"
version="${MINIO_VERSION:-$PINNED_VERSION}"
cache_root="${AUDIOTEXT_CACHE_DIR:-${HOME}/.cache/audiotext}/minio"

log() { printf 'minio-build: %s\n' "$*" >&2; }

find_go() {
  if [[ -n "${GO:-}" ]]; then
    printf '%s\n' "$GO"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    log "no Go toolchain found (install Go, or set GO=/path/to/go)"
    exit 1
  fi
}

cached_binary() { printf '%s/%s/minio\n' "$cache_root" "$1"; }

# When the pin cannot be fetched and @latest was built instead, this file (next to where the
# pinned binary would be) names the version that was built, so later runs need no network.
fallback_record="${cache_root}/${version}/fallback-version"

print_cached() {
  local fallback
  if [[ -x "$(cached_binary "$version")" ]]; then
    cached_binary "$version"
    return 0
  fi
  if [[ -f "$fallback_record" ]]; then
    fallback="$(<"$fallback_record")"
    if [[ -n "$fallback" && -x "$(cached_binary "$fallback")" ]]; then
      log "using ${fallback}, built because ${version} was not available (see ${fallback_record})"
      cached_binary "$fallback"
      return 0
    fi
  fi
  return 1
}

# A cached binary wins before anything else: no Go toolchain is needed then.
if print_cached; then
  exit 0
fi

go_bin="$(find_go)"

# Build one version into the cache. Uses `go install module@version` with a private GOBIN,
# so the build does not depend on any go.mod in the current directory.
build_version() {
  local want="$1" target dir gobin
  target="$(cached_binary "$want")"
  dir="$(dirname "$target")"
  mkdir -p "$dir"
  gobin="$(mktemp -d "${dir}/.gobin.XXXXXX")"
  log "building ${MODULE}@${want} with $("$go_bin" version) (takes a few minutes when cold)"
  # CGO off gives a static binary; -trimpath and the stripped symbols keep it small.
  if ! CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
      "$go_bin" install -trimpath -ldflags "-s -w" "${MODULE}@${want}" >&2; then
    rm -rf "$gobin"
    return 1
  fi
  # Move into place atomically so a concurrent reader never sees half a binary.
  mv -f "${gobin}/minio" "${target}.tmp.$$" || return 1
  mv -f "${target}.tmp.$$" "$target" || return 1
  rm -rf "$gobin"
  printf '%s\n' "$target"
}

# Serialise concurrent builds of the same version (two test sessions starting at once).
mkdir -p "${cache_root}/${version}"
exec 9>"${cache_root}/${version}/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if print_cached; then
  exit 0
fi

if build_version "$version"; then
  exit 0
fi

if [[ "$version" != "latest" && -z "${MINIO_VERSION:-}" ]]; then
  log "building the pinned ${version} failed; trying @latest"
  resolved="$("$go_bin" list -m -f '{{.Version}}' "${MODULE}@latest" 2>/dev/null || true)"
  if [[ -n "$resolved" ]]; then
    log "@latest resolves to ${resolved}"
    if [[ -x "$(cached_binary "$resolved")" ]] || build_version "$resolved" >/dev/null; then
      printf '%s\n' "$resolved" >"$fallback_record"
      log "recorded the fallback in ${fallback_record}"
      cached_binary "$resolved"
      exit 0
    fi
  fi
fi
log "could not build ${MODULE}"
exit 1
