# Shared definitions for the test-cluster scripts. Sourced, never run.
# shellcheck shell=bash

CLUSTER_HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${CLUSTER_HACK_DIR}/../.." && pwd)"

# shellcheck source=versions.env
source "${CLUSTER_HACK_DIR}/versions.env"

CLUSTER_DIR="${AUDIOTEXT_CLUSTER_DIR:-${REPO_ROOT}/.cluster}"
CACHE_ROOT="${AUDIOTEXT_CACHE_DIR:-${HOME}/.cache/audiotext}/cluster"

log() { printf '%s: %s\n' "${LOG_PREFIX:-cluster}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The cache key: the pinned versions and the wrapper modules. The Go toolchain is left out
# on purpose, so a patch-level Go update does not force a 10-minute rebuild.
cluster_version_hash() {
  (
    cd "${CLUSTER_HACK_DIR}"
    {
      grep -v '^#' versions.env
      find go -type f | LC_ALL=C sort | while read -r f; do printf '%s\n' "$f"; cat "$f"; done
    } | sha256sum | cut -c1-16
  )
}

cluster_bin_cache() { printf '%s/%s/bin\n' "${CACHE_ROOT}" "$(cluster_version_hash)"; }

find_go() {
  if [[ -n "${GO:-}" ]]; then
    printf '%s\n' "$GO"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    die "no Go toolchain found (install Go >= 1.24, or set GO=/path/to/go)"
  fi
}

# Every binary cluster-build produces, by group.
KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
ALL_BINARIES=("${KUBE_BINARIES[@]}" etcd kwok helm coredns pause fetch kueue)

# --- The cluster's network and names (override through the environment) ---
# The node IP is an extra address on lo: a local address that pods reach through the bridge
# gateway, and that nothing outside this machine routes to. It comes from the benchmarking
# range (RFC 2544), which no real network uses.
NODE_IP="${AUDIOTEXT_CLUSTER_NODE_IP:-198.18.0.10}"
NODE_NAME=runner-node-0
KWOK_NODES=(gpu-node-0 cpu-node-0)
CLUSTER_CIDR=10.244.0.0/16        # pods: the runner node's bridge subnet + kwok's fake IPs
NODE_POD_CIDR=10.244.0.0/24       # pods on runner-node-0
KWOK_POD_CIDR=10.244.128.0/24     # fake pod IPs handed out by kwok
SERVICE_CIDR=10.96.0.0/12
KUBERNETES_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
BRIDGE=atcni0
APISERVER_PORT="${AUDIOTEXT_CLUSTER_APISERVER_PORT:-6443}"
ETCD_CLIENT_PORT=12379
ETCD_PEER_PORT=12380
KUBELET_PORT=10250
KUBELET_HEALTHZ_PORT=10248
KUBE_PROXY_HEALTHZ_PORT=10256
KUBE_PROXY_METRICS_PORT=10249
COREDNS_HEALTH_PORT=18080
COREDNS_READY_PORT=18181
KWOK_SERVER_PORT=10247
KUEUE_WEBHOOK_PORT=19443
KUEUE_HEALTH_PORT=18082
KUEUE_METRICS_PORT=18443
PAUSE_IMAGE=localhost/audiotext-pause:dev
TESTBOX_IMAGE=localhost/audiotext-testbox:dev
EGRESS_CHAIN=AUDIOTEXT-EGRESS

# --- Layout of the cluster's directory ---
PKI_DIR="${CLUSTER_DIR}/pki"
STATE_DIR="${CLUSTER_DIR}/state"       # pids and the machine's settings before cluster-up
LOG_DIR="${CLUSTER_DIR}/logs"
RUN_DIR="${CLUSTER_DIR}/run"           # sockets
CONTAINERD_DIR="${CLUSTER_DIR}/containerd"
KUBELET_DIR="${CLUSTER_DIR}/kubelet"
CNI_DIR="${CLUSTER_DIR}/cni"
CONTAINERD_SOCK="${RUN_DIR}/containerd.sock"
KUBECONFIG_ADMIN="${CLUSTER_DIR}/kubeconfig"

# Paths the kubelet, containerd and the CNI plugins use whatever they are told; cluster-down
# removes each one that cluster-up found missing.
FIXED_PATHS=(/var/lib/kubelet /run/containerd /var/lib/cni /run/netns /var/run/netns
  /var/log/containers /var/log/pods /etc/cni /opt/cni /var/lib/containerd /run/runc
  /var/run/kubernetes /usr/libexec/kubernetes /etc/kubernetes /etc/kueue)

# The sysctls that the kubelet, kube-proxy and the bridge plugin may change.
WATCHED_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait net.netfilter.nf_conntrack_tcp_be_liberal
  net.netfilter.nf_conntrack_udp_timeout net.netfilter.nf_conntrack_udp_timeout_stream)

kubectl_admin() { "${CLUSTER_DIR}/bin/kubectl" --kubeconfig "${KUBECONFIG_ADMIN}" "$@"; }

# Debian packages the node needs, by the command each provides.
declare -A DEBIAN_PACKAGES=(
  [containerd]=containerd [ctr]=containerd [runc]=runc [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables [conntrack]=conntrack [busybox]=busybox-static [openssl]=openssl
  [ip]=iproute2 [curl]=curl [flock]=util-linux [setsid]=util-linux [mount]=mount [python3]=python3
  [/usr/lib/python3/dist-packages/yaml]=python3-yaml
)

ensure_debian_packages() {
  local want=() cmd
  for cmd in "${!DEBIAN_PACKAGES[@]}"; do
    if [[ "${cmd}" == /* ]]; then [[ -e "${cmd}" ]] && continue
    else command -v "${cmd}" >/dev/null 2>&1 && continue; fi
    want+=("${DEBIAN_PACKAGES[${cmd}]}")
  done
  # busybox must be the static build: it runs inside a container with no libc.
  if command -v busybox >/dev/null 2>&1 && ldd "$(command -v busybox)" >/dev/null 2>&1; then
    want+=(busybox-static)
  fi
  [[ ${#want[@]} -eq 0 ]] && return 0
  mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
  log "installing Debian packages: ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${want[@]}" >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends "${want[@]}" >&2; }
}
