#!/usr/bin/env bash
# Stop the test cluster (make cluster-down) and put the machine back as cluster-up found it:
# every process it started (by recorded pid), the node's containers and their shims, every
# mount under the cluster's directories, the iptables chains and rules, cgroups, the bridge,
# the node IP, the sysctls the kubelet and the bridge plugin changed, and the fixed paths
# the kubelet and containerd created. Safe to run twice, or after a crash.
#
# The node's image store (.cluster/containerd/root) is kept, so the next cluster-up does not
# import the same images again; AUDIOTEXT_CLUSTER_WIPE=1 removes it too.
set -euo pipefail
LOG_PREFIX=cluster-down
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${HERE}/lib.sh"
source "${HERE}/machine.sh"

[[ "$(id -u)" == 0 ]] || die "the test cluster needs root"
if [[ ! -d "${STATE_DIR}" ]]; then
  restore_network  # the bridge and the node IP are the cluster's by name, whoever left them
  log "no cluster is running"
  exit 0
fi

# The pid of a daemon we started, if that process is still the same program.
live_pid() {
  local name="$1" pid exe
  pid="$(cat "${STATE_DIR}/pids/${name}" 2>/dev/null)" || return 1
  [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null || true)"
  case "${name}" in
    containerd) [[ "${exe}" == */containerd ]] ;;
    *) [[ "$(basename "${exe}")" == "${name}" ]] ;;
  esac || return 1
  echo "${pid}"
}

# SIGTERM, then SIGKILL whatever is left after a grace period.
stop_pids() {
  local grace="$1"; shift
  [[ $# -gt 0 ]] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + grace)) pid alive
  while ((SECONDS < deadline)); do
    alive=0
    for pid in "$@"; do kill -0 "${pid}" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  sleep 0.2
}

# stop_daemons GRACE NAME...
stop_daemons() {
  local grace="$1" pids=() name pid
  shift
  for name in "$@"; do
    pid="$(live_pid "${name}")" && pids+=("${pid}")
  done
  stop_pids "${grace}" "${pids[@]}"
}

# Shims of our containerd, found by the socket address each was started with.
shim_pids() {
  local proc cmd
  for proc in /proc/[0-9]*; do
    cmd="$(tr '\0' ' ' <"${proc}/cmdline" 2>/dev/null)" || continue
    [[ "${cmd}" == *containerd-shim* && "${cmd}" == *"-address ${CONTAINERD_SOCK} "* ]] \
      && echo "${proc#/proc/}"
  done
}

# 1. The node agents first, so nothing restarts containers while they go.
stop_daemons 5 kwok coredns kube-proxy kubelet

# 2. Containers and sandboxes, then containerd and its shims.
if [[ -S "${CONTAINERD_SOCK}" ]] && live_pid containerd >/dev/null; then
  ctr_k8s() { ctr --address "${CONTAINERD_SOCK}" -n k8s.io "$@"; }
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks kill -s SIGKILL "${id}" >/dev/null 2>&1 || true
  done
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      ctr_k8s tasks delete "${id}" >/dev/null 2>&1 && break
      sleep 0.2
    done
  done
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do
    ctr_k8s containers delete "${id}" >/dev/null 2>&1 || true
  done
fi
stop_daemons 5 containerd
mapfile -t shims < <(shim_pids)
stop_pids 5 "${shims[@]}"

# 3. The control plane. Its state is thrown away, so a long graceful shutdown buys nothing.
stop_daemons 2 kueue kube-scheduler kube-controller-manager kube-apiserver etcd

# 4. kube-proxy's rules, then every chain and jump cluster-up's run added.
bin_dir="$(cluster_bin_cache)"
if [[ -x "${bin_dir}/kube-proxy" ]]; then
  "${bin_dir}/kube-proxy" --cleanup --v 0 >/dev/null 2>&1 || true
fi
restore_iptables

# 5. Mounts: pod volumes and root file systems, the kubelet's bind mount, network namespaces.
unmount_under "${CLUSTER_DIR}" /run/containerd /var/lib/kubelet
for ns in /run/netns/cni-*; do
  [[ -e "${ns}" ]] || continue
  grep -qxF "${ns}" "${STATE_DIR}/mounts.before" 2>/dev/null && continue
  umount "${ns}" 2>/dev/null || umount -l "${ns}" 2>/dev/null || true
  rm -f "${ns}"
done

# 6. Cgroups, fixed paths, bridge, node IP, sysctls.
restore_cgroups
restore_paths
restore_network
restore_sysctls

# 7. The cluster's own files. Never remove a directory that still has a mount under it.
remove_tree() {
  local dir="$1"
  [[ -e "${dir}" ]] || return 0
  # awk filters (no `| grep -q`: under pipefail an early grep exit reads as "no mount").
  if awk -v d="$(realpath "${dir}")" '$5 == d || index($5, d "/") == 1 {found = 1} END {exit !found}' \
      /proc/self/mountinfo; then
    log "leaving ${dir}: something is still mounted under it"
    return 0
  fi
  rm -rf "${dir}"
}
remove_tree "${KUBELET_DIR}"
remove_tree "${CONTAINERD_DIR}/state"
remove_tree "${CNI_DIR}"
remove_tree "${CLUSTER_DIR}/etcd"
remove_tree "${CLUSTER_DIR}/pod-logs"
remove_tree "${PKI_DIR}"
remove_tree "${CLUSTER_DIR}/kubeconfigs"
rm -f "${KUBECONFIG_ADMIN}" "${CLUSTER_DIR}/host-ip"
if [[ "${AUDIOTEXT_CLUSTER_WIPE:-0}" == 1 ]]; then
  remove_tree "${CONTAINERD_DIR}"
fi
rm -rf "${STATE_DIR}"
log "cluster is down"
