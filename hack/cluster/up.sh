#!/usr/bin/env bash
# Start the test cluster on this machine (make cluster-up).
#
#   control plane  etcd, kube-apiserver, kube-controller-manager, kube-scheduler (host processes)
#   runner-node-0  a real kubelet with containerd + runc and a CNI bridge, kube-proxy, CoreDNS
#   gpu-node-0     kwok-simulated, one nvidia.com/gpu
#   cpu-node-0     kwok-simulated
#
# Writes .cluster/kubeconfig, .cluster/bin/{kubectl,helm} and .cluster/host-ip. Every process
# it starts is recorded by pid and every machine setting it changes is recorded first, so
# down.sh undoes all of it. A cluster left by a crash is torn down before starting again.
# Needs root (the kubelet, containerd, bridges and iptables).
set -euo pipefail
LOG_PREFIX=cluster-up
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${HERE}/lib.sh"
source "${HERE}/machine.sh"
source "${HERE}/pki.sh"

[[ "$(id -u)" == 0 ]] || die "the test cluster needs root (kubelet, containerd, iptables)"
started_at=${SECONDS}

# --- helpers ---------------------------------------------------------------------------

# Start one daemon in its own session, its output in logs/NAME.log, and record its pid.
# Each daemon is started on a line of its own so that $! is the daemon itself.
start_daemon() {
  local name="$1"; shift
  setsid "$@" >"${LOG_DIR}/${name}.log" 2>&1 </dev/null &
  echo $! >"${STATE_DIR}/pids/${name}"
  echo "${name}" >>"${STATE_DIR}/started"
}

# Poll until a command succeeds; on timeout show the daemon's log and fail.
wait_for() {
  local what="$1" timeout="$2" logname="$3"; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "${logname}" ]]; then
      local pid
      pid="$(cat "${STATE_DIR}/pids/${logname}" 2>/dev/null || true)"
      if [[ -n "${pid}" ]] && ! kill -0 "${pid}" 2>/dev/null; then
        tail -n 30 "${LOG_DIR}/${logname}.log" >&2 || true
        die "${logname} exited while waiting for ${what}"
      fi
    fi
    if ((SECONDS >= deadline)); then
      [[ -n "${logname}" ]] && tail -n 30 "${LOG_DIR}/${logname}.log" >&2
      die "timed out after ${timeout}s waiting for ${what}"
    fi
    sleep 0.2
  done
}

# --- preparation ----------------------------------------------------------------------

BIN="$("${HERE}/prepare.sh")"

if [[ -d "${STATE_DIR}" ]]; then
  log "found state of an earlier cluster; tearing it down first"
  "${HERE}/down.sh"
fi

mkdir -p "${STATE_DIR}/pids" "${LOG_DIR}" "${RUN_DIR}" "${CLUSTER_DIR}/bin" "${CLUSTER_DIR}/etc"
snapshot_machine
: >"${STATE_DIR}/started"

ln -sfn "${BIN}/kubectl" "${CLUSTER_DIR}/bin/kubectl"
ln -sfn "${BIN}/helm" "${CLUSTER_DIR}/bin/helm"
echo "${NODE_IP}" >"${CLUSTER_DIR}/host-ip"

# The node IP: an extra local address, reachable from pods through the bridge gateway.
ip addr add "${NODE_IP}/32" dev lo 2>/dev/null || true

generate_pki

# --- containerd (independent of the control plane, so it starts first) -----------------

rm -rf "${CONTAINERD_DIR}/state" "${CNI_DIR}"
mkdir -p "${CONTAINERD_DIR}"/{root,state,opt,runc} "${CNI_DIR}/net.d" "${CNI_DIR}/ipam"
sed -e "s#@CONTAINERD_DIR@#${CONTAINERD_DIR}#g" -e "s#@SOCK@#${CONTAINERD_SOCK}#g" \
  -e "s#@CNI_DIR@#${CNI_DIR}#g" -e "s#@PAUSE_IMAGE@#${PAUSE_IMAGE}#g" \
  "${HERE}/config/containerd.toml" >"${CONTAINERD_DIR}/config.toml"
sed -e "s#@BRIDGE@#${BRIDGE}#g" -e "s#@NODE_POD_CIDR@#${NODE_POD_CIDR}#g" -e "s#@CNI_DIR@#${CNI_DIR}#g" \
  "${HERE}/config/cni.conflist" >"${CNI_DIR}/net.d/10-audiotext.conflist"
# A proxy that refuses every connection: containerd never pulls from a registry, an image
# missing from the node fails at once instead of reaching out.
start_daemon containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
  NO_PROXY= http_proxy= https_proxy= no_proxy= \
  containerd --config "${CONTAINERD_DIR}/config.toml"

# --- etcd and the API server -----------------------------------------------------------

rm -rf "${CLUSTER_DIR}/etcd"
mkdir -p "${CLUSTER_DIR}/etcd"
chmod 700 "${CLUSTER_DIR}/etcd"
start_daemon etcd "${BIN}/etcd" --name audiotext --data-dir "${CLUSTER_DIR}/etcd" \
  --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
  --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
  --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster "audiotext=http://127.0.0.1:${ETCD_PEER_PORT}" \
  --listen-metrics-urls "" --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn

start_daemon kube-apiserver "${BIN}/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
  --bind-address "${NODE_IP}" --secure-port "${APISERVER_PORT}" --advertise-address "${NODE_IP}" \
  --cert-dir "${PKI_DIR}/apiserver" \
  --tls-cert-file "${PKI_DIR}/apiserver.crt" --tls-private-key-file "${PKI_DIR}/apiserver.key" \
  --client-ca-file "${PKI_DIR}/ca.crt" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --anonymous-auth=false --allow-privileged=true \
  --service-account-issuer "https://kubernetes.default.svc.${CLUSTER_DOMAIN}" \
  --service-account-key-file "${PKI_DIR}/sa.pub" \
  --service-account-signing-key-file "${PKI_DIR}/sa.key" \
  --service-cluster-ip-range "${SERVICE_CIDR}" \
  --kubelet-client-certificate "${PKI_DIR}/apiserver-kubelet-client.crt" \
  --kubelet-client-key "${PKI_DIR}/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "${PKI_DIR}/ca.crt" \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --profiling=false --event-ttl 1h --v 1

# --- images for the node, while the API server starts ----------------------------------

wait_for "containerd" 30 containerd ctr --address "${CONTAINERD_SOCK}" version
IMAGE_DIR="${CLUSTER_DIR}/images"
mkdir -p "${IMAGE_DIR}"
python3 "${HERE}/oci_image.py" "${IMAGE_DIR}/pause.tar" "${PAUSE_IMAGE}" \
  --file "${BIN}/pause:pause" --entrypoint '["/pause"]'
python3 "${HERE}/oci_image.py" "${IMAGE_DIR}/testbox.tar" "${TESTBOX_IMAGE}" \
  --busybox "$(command -v busybox)" --file "${BIN}/fetch:bin/fetch" --cmd '["sh"]'
for tar in "${IMAGE_DIR}/pause.tar" "${IMAGE_DIR}/testbox.tar"; do
  ctr --address "${CONTAINERD_SOCK}" -n k8s.io images import "${tar}" >/dev/null
done
# The project's images are rebuilt independently (make images); one that cannot be exported
# right now does not stop the cluster, and `make cluster-images` imports it later.
"${HERE}/import-images.sh" || log "warning: importing the project's images failed (see above)"

# --- controllers -----------------------------------------------------------------------

wait_for "the API server" 60 kube-apiserver kubectl_admin get --raw /readyz

KC="${CLUSTER_DIR}/kubeconfigs"
start_daemon kube-controller-manager "${BIN}/kube-controller-manager" \
  --kubeconfig "${KC}/controller-manager" \
  --authentication-kubeconfig "${KC}/controller-manager" \
  --authorization-kubeconfig "${KC}/controller-manager" \
  --secure-port 0 --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file "${PKI_DIR}/sa.key" --root-ca-file "${PKI_DIR}/ca.crt" \
  --cluster-signing-cert-file "${PKI_DIR}/ca.crt" --cluster-signing-key-file "${PKI_DIR}/ca.key" \
  --cluster-name audiotext --service-cluster-ip-range "${SERVICE_CIDR}" \
  --node-monitor-grace-period 40s --profiling=false --v 1

start_daemon kube-scheduler "${BIN}/kube-scheduler" \
  --kubeconfig "${KC}/scheduler" \
  --authentication-kubeconfig "${KC}/scheduler" --authorization-kubeconfig "${KC}/scheduler" \
  --secure-port 0 --leader-elect=false --profiling=false --v 1

# RBAC for the two components that are not part of Kubernetes, DNS Service, kwok nodes.
sed -e "s#@DNS_SERVICE_IP@#${DNS_SERVICE_IP}#g" -e "s#@NODE_IP@#${NODE_IP}#g" \
  -e "s#@KUBERNETES_VERSION@#${KUBERNETES_VERSION}#g" \
  "${HERE}/config/cluster-objects.yaml" | kubectl_admin apply -f - >/dev/null

# --- runner-node-0: kubelet and kube-proxy ----------------------------------------------

mkdir -p "${KUBELET_DIR}" "${CLUSTER_DIR}/pod-logs"
# Pods with dnsPolicy Default get this resolver file: no upstream server, so nothing leaves.
printf "nameserver %s\n" "${DNS_SERVICE_IP}" \
  >"${CLUSTER_DIR}/etc/resolv.conf"
sed -e "s#@NODE_IP@#${NODE_IP}#g" -e "s#@PKI_DIR@#${PKI_DIR}#g" -e "s#@SOCK@#${CONTAINERD_SOCK}#g" \
  -e "s#@CLUSTER_DIR@#${CLUSTER_DIR}#g" -e "s#@DNS_SERVICE_IP@#${DNS_SERVICE_IP}#g" \
  -e "s#@CLUSTER_DOMAIN@#${CLUSTER_DOMAIN}#g" -e "s#@KUBELET_PORT@#${KUBELET_PORT}#g" \
  -e "s#@KUBELET_HEALTHZ_PORT@#${KUBELET_HEALTHZ_PORT}#g" \
  "${HERE}/config/kubelet.yaml" >"${CLUSTER_DIR}/etc/kubelet.yaml"
start_daemon kubelet "${BIN}/kubelet" --config "${CLUSTER_DIR}/etc/kubelet.yaml" \
  --kubeconfig "${KC}/kubelet" --root-dir "${KUBELET_DIR}" --cert-dir "${KUBELET_DIR}/pki" \
  --hostname-override "${NODE_NAME}" --node-ip "${NODE_IP}" \
  --node-labels "audiotext.io/runner=true" --v 1

sed -e "s#@NODE_IP@#${NODE_IP}#g" -e "s#@KC@#${KC}#g" -e "s#@CLUSTER_CIDR@#${CLUSTER_CIDR}#g" \
  -e "s#@NODE_NAME@#${NODE_NAME}#g" -e "s#@HEALTHZ_PORT@#${KUBE_PROXY_HEALTHZ_PORT}#g" \
  -e "s#@METRICS_PORT@#${KUBE_PROXY_METRICS_PORT}#g" \
  "${HERE}/config/kube-proxy.yaml" >"${CLUSTER_DIR}/etc/kube-proxy.yaml"
start_daemon kube-proxy "${BIN}/kube-proxy" --config "${CLUSTER_DIR}/etc/kube-proxy.yaml" --v 1

sed -e "s#@NODE_IP@#${NODE_IP}#g" -e "s#@KC@#${KC}#g" -e "s#@CLUSTER_DOMAIN@#${CLUSTER_DOMAIN}#g" \
  -e "s#@HEALTH_PORT@#${COREDNS_HEALTH_PORT}#g" -e "s#@READY_PORT@#${COREDNS_READY_PORT}#g" \
  "${HERE}/config/Corefile" >"${CLUSTER_DIR}/etc/Corefile"
start_daemon coredns "${BIN}/coredns" -conf "${CLUSTER_DIR}/etc/Corefile"

start_daemon kwok "${BIN}/kwok" --kubeconfig "${KC}/kwok" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --cidr "${KWOK_POD_CIDR}" --node-ip "${NODE_IP}" \
  --server-address "127.0.0.1:${KWOK_SERVER_PORT}"

# Pods may talk to each other, to Services and to this machine, never beyond it.
iptables -w -N "${EGRESS_CHAIN}"
iptables -w -A "${EGRESS_CHAIN}" -s "${CLUSTER_CIDR}" ! -o "${BRIDGE}" -j REJECT --reject-with icmp-net-prohibited
iptables -w -I FORWARD 1 -j "${EGRESS_CHAIN}"

# --- Kueue: its CRDs, the controller, then the webhooks that call it ----------------------

KUEUE_MANIFESTS="${BIN}/../kueue"
python3 "${HERE}/kueue_objects.py" crds "${KUEUE_MANIFESTS}" | kubectl_admin apply --server-side -f - >/dev/null
kubectl_admin create namespace kueue-system >/dev/null
# Its metrics certificate has a fixed path (/etc/kueue is in FIXED_PATHS, so cluster-down
# removes it); the webhook's is in the cluster's PKI directory.
for dir in "${PKI_DIR}/kueue" /etc/kueue/metrics/certs; do
  mkdir -p "${dir}"
  cp "${PKI_DIR}/kueue-serving.crt" "${dir}/tls.crt"
  cp "${PKI_DIR}/kueue-serving.key" "${dir}/tls.key"
done
sed -e "s#@HEALTH_PORT@#${KUEUE_HEALTH_PORT}#g" -e "s#@METRICS_PORT@#${KUEUE_METRICS_PORT}#g" \
  -e "s#@WEBHOOK_PORT@#${KUEUE_WEBHOOK_PORT}#g" -e "s#@CERT_DIR@#${PKI_DIR}/kueue#g" \
  "${HERE}/config/kueue.yaml" >"${CLUSTER_DIR}/etc/kueue.yaml"
wait_for "Kueue's CRDs" 30 "" kubectl_admin wait --for condition=Established --timeout 1s \
  crd/clusterqueues.kueue.x-k8s.io crd/workloads.kueue.x-k8s.io crd/localqueues.kueue.x-k8s.io
start_daemon kueue "${BIN}/kueue" --config "${CLUSTER_DIR}/etc/kueue.yaml" \
  --kubeconfig "${KC}/kueue" --feature-gates VisibilityOnDemand=false --zap-log-level 1

# --- ready -----------------------------------------------------------------------------

node_ready() {
  [[ "$(kubectl_admin get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
no_taint_left() {
  local taints
  taints="$(kubectl_admin get nodes -o jsonpath='{.items[*].spec.taints[*].key}')"
  [[ "${taints}" != *node.kubernetes.io/not-ready* ]]
}
wait_for "${NODE_NAME} Ready" 60 kubelet node_ready "${NODE_NAME}"
for node in "${KWOK_NODES[@]}"; do wait_for "${node} Ready" 60 kwok node_ready "${node}"; done
wait_for "the not-ready taints to go" 60 kube-controller-manager no_taint_left
wait_for "CoreDNS" 30 coredns curl -sf -o /dev/null "http://127.0.0.1:${COREDNS_READY_PORT}/ready"
wait_for "the default service account" 30 kube-controller-manager \
  kubectl_admin get serviceaccount default -n default
wait_for "Kueue" 60 kueue curl -sf -o /dev/null "http://127.0.0.1:${KUEUE_HEALTH_PORT}/readyz"
python3 "${HERE}/kueue_objects.py" webhooks "${KUEUE_MANIFESTS}" "${PKI_DIR}/ca.crt" \
  "${KUEUE_WEBHOOK_PORT}" | kubectl_admin apply -f - >/dev/null

log "cluster is up in $((SECONDS - started_at)) s: export KUBECONFIG=${KUBECONFIG_ADMIN}"
