#!/usr/bin/env bash
# Build every binary of the test cluster from Go modules, into a cache keyed by the pinned
# versions, so a second run builds nothing. Prints the cache's bin directory on stdout.
#
# Each group (Kubernetes, etcd, kwok, helm, CoreDNS) is built in its own wrapper module
# (hack/cluster/go/<group>), so minimal version selection never mixes their dependencies.
# The wrapper modules carry no versions: this script adds them from versions.env to a
# copy of the module, then builds with -mod=mod (go.sum is checked against the checksum DB).
#
# Environment: AUDIOTEXT_CACHE_DIR (cache root), GO (the go command).
set -euo pipefail
LOG_PREFIX=cluster-build
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin_dir="$(cluster_bin_cache)"
work_root="$(dirname "${bin_dir}")/work"
mkdir -p "${bin_dir}" "${work_root}"

have_all() {
  local b
  for b in "$@"; do [[ -x "${bin_dir}/${b}" ]] || return 1; done
}

if have_all "${ALL_BINARIES[@]}"; then
  printf '%s\n' "${bin_dir}"
  exit 0
fi

# Two sessions starting at once build once.
exec 9>"${bin_dir}/.lock"
flock 9

go_bin="$(find_go)"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false -trimpath"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Copy a wrapper module into a fresh work directory and print its path.
prepare_module() {
  local group="$1" dir="${work_root}/$1"
  rm -rf "${dir}"
  cp -r "${CLUSTER_HACK_DIR}/go/${group}" "${dir}"
  printf '%s\n' "${dir}"
}

# go build the packages into a temporary directory, then move each binary into the cache
# (a rename, so a reader never sees half a binary).
build_into_cache() {
  local dir="$1" ldflags="$2"; shift 2
  local out="${dir}/out" pkg name
  mkdir -p "${out}"
  (cd "${dir}" && "${go_bin}" build -ldflags "-s -w ${ldflags}" -o "${out}/" "$@")
  for pkg in "$@"; do
    name="${pkg##*/}"
    [[ "${pkg}" == . ]] && name="$(basename "${dir}")"
    # go names a binary after the element before a major-version suffix (.../server/v3).
    [[ "${name}" =~ ^v[0-9]+$ ]] && { name="${pkg%/*}"; name="${name##*/}"; }
    [[ -f "${out}/${name}" ]] || die "go build produced no ${name}"
    mv -f "${out}/${name}" "${bin_dir}/${name}"
  done
}

build_kubernetes() {
  have_all "${KUBE_BINARIES[@]}" && return 0
  log "building Kubernetes ${KUBERNETES_VERSION} (about 8 minutes on 2 cores when cold)"
  local dir gomod staging args=() b pkgs=() minor
  dir="$(prepare_module kubernetes)"
  (cd "${dir}" && "${go_bin}" mod edit -require="k8s.io/kubernetes@${KUBERNETES_VERSION}")
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
  # ./staging/..., which only works inside its own repository; point each at its release.
  gomod="$(cd "${dir}" && "${go_bin}" mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [[ -f "${gomod}" ]] || die "could not download k8s.io/kubernetes@${KUBERNETES_VERSION}"
  while read -r staging; do
    args+=("-replace=${staging}=${staging}@${KUBERNETES_STAGING_VERSION}")
  done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "${gomod}")
  [[ ${#args[@]} -gt 10 ]] || die "found no staging modules in ${gomod}"
  (cd "${dir}" && "${go_bin}" mod edit "${args[@]}")
  for b in "${KUBE_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${b}"); done
  minor="${KUBERNETES_VERSION#v*.}"; minor="${minor%%.*}"
  local major="${KUBERNETES_VERSION#v}"; major="${major%%.*}"
  local ld="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X ${p}.gitVersion=${KUBERNETES_VERSION} -X ${p}.gitMajor=${major}"
    ld+=" -X ${p}.gitMinor=${minor} -X ${p}.gitTreeState=clean -X ${p}.buildDate=${build_date}"
  done
  build_into_cache "${dir}" "${ld}" "${pkgs[@]}"
}

build_etcd() {
  have_all etcd && return 0
  log "building etcd ${ETCD_VERSION}"
  local dir
  dir="$(prepare_module etcd)"
  (cd "${dir}" && "${go_bin}" mod edit -require="go.etcd.io/etcd/server/v3@${ETCD_VERSION}")
  build_into_cache "${dir}" "" go.etcd.io/etcd/server/v3
  mv -f "${bin_dir}/server" "${bin_dir}/etcd"
}

build_kwok() {
  have_all kwok && return 0
  log "building kwok ${KWOK_VERSION}"
  local dir
  dir="$(prepare_module kwok)"
  (cd "${dir}" && "${go_bin}" mod edit -require="sigs.k8s.io/kwok@${KWOK_VERSION}")
  build_into_cache "${dir}" "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}" \
    sigs.k8s.io/kwok/cmd/kwok
}

build_helm() {
  have_all helm && return 0
  log "building helm ${HELM_VERSION}"
  local dir minor major ld
  dir="$(prepare_module helm)"
  (cd "${dir}" && "${go_bin}" mod edit -require="helm.sh/helm/v3@${HELM_VERSION}")
  major="${KUBERNETES_VERSION#v}"; major="${major%%.*}"
  minor="${KUBERNETES_VERSION#v*.}"; minor="${minor%%.*}"
  ld="-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${major} -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor}"
  ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${major} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}"
  build_into_cache "${dir}" "${ld}" helm.sh/helm/v3/cmd/helm
}

build_coredns() {
  have_all coredns && return 0
  log "building CoreDNS ${COREDNS_VERSION} (only the plugins the cluster uses)"
  local dir
  dir="$(prepare_module coredns)"
  (cd "${dir}" && "${go_bin}" mod edit -require="github.com/coredns/coredns@${COREDNS_VERSION}")
  build_into_cache "${dir}" "-X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" .
}

build_pause() {
  have_all pause && return 0
  log "building the sandbox (pause) program"
  local dir
  dir="$(prepare_module pause)"
  build_into_cache "${dir}" "" .
}

build_fetch() {
  have_all fetch && return 0
  log "building the test image's HTTP client"
  local dir
  dir="$(prepare_module fetch)"
  build_into_cache "${dir}" "" .
}

# The controller, and next to it the manifests of the same version (CRDs and webhooks),
# so cluster-up installs them without Go.
build_kueue() {
  local manifests="${bin_dir}/../kueue"
  have_all kueue && [[ -d "${manifests}" ]] && return 0
  log "building the Kueue controller ${KUEUE_VERSION} (about 6 minutes on 2 cores when cold)"
  local dir source
  dir="$(prepare_module kueue)"
  (cd "${dir}" && "${go_bin}" mod edit -require="sigs.k8s.io/kueue@${KUEUE_VERSION}")
  build_into_cache "${dir}" "-X sigs.k8s.io/kueue/pkg/version.GitVersion=${KUEUE_VERSION}" \
    sigs.k8s.io/kueue/cmd/kueue
  source="$(cd "${dir}" && "${go_bin}" list -m -f '{{.Dir}}' sigs.k8s.io/kueue)"
  [[ -d "${source}/config/components/crd/bases" ]] || die "no Kueue manifests in ${source}"
  rm -rf "${manifests}.new"
  mkdir -p "${manifests}.new"
  cp "${source}"/config/components/crd/bases/*.yaml "${manifests}.new/"
  cp "${source}/config/components/webhook/manifests.yaml" "${manifests}.new/webhooks.yaml"
  chmod -R u+w "${manifests}.new"
  rm -rf "${manifests}"
  mv "${manifests}.new" "${manifests}"
}

start=${SECONDS}
build_pause
build_fetch
build_kubernetes
build_etcd
build_coredns
build_kwok
build_helm
build_kueue
log "built in $((SECONDS - start)) s into ${bin_dir}"
printf '%s\n' "${bin_dir}"
