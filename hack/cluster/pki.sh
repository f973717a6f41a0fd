# Certificates and kubeconfigs of the test cluster. Sourced by up.sh after lib.sh.
# shellcheck shell=bash

# A client or server certificate signed by the cluster CA.
#   issue_cert NAME SUBJECT [SUBJECT_ALT_NAMES] [EXTENDED_KEY_USAGE]
issue_cert() {
  local name="$1" subject="$2" sans="${3:-}" eku="${4:-clientAuth}" ext
  ext="$(mktemp)"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=${eku}"
    [[ -n "${sans}" ]] && echo "subjectAltName=${sans}"
  } >"${ext}"
  openssl req -new -newkey rsa:2048 -nodes -keyout "${PKI_DIR}/${name}.key" \
    -subj "${subject}" -out "${PKI_DIR}/${name}.csr" 2>/dev/null
  openssl x509 -req -in "${PKI_DIR}/${name}.csr" -CA "${PKI_DIR}/ca.crt" -CAkey "${PKI_DIR}/ca.key" \
    -CAcreateserial -days 30 -sha256 -extfile "${ext}" -out "${PKI_DIR}/${name}.crt" 2>/dev/null
  rm -f "${ext}" "${PKI_DIR}/${name}.csr"
}

# A kubeconfig for one identity (its client certificate), embedding everything.
#   write_kubeconfig FILE CERT_NAME USER
write_kubeconfig() {
  local file="$1" cert="$2" user="$3"
  cat >"${file}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: audiotext
  cluster:
    server: https://${NODE_IP}:${APISERVER_PORT}
    certificate-authority-data: $(base64 -w0 "${PKI_DIR}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 "${PKI_DIR}/${cert}.crt")
    client-key-data: $(base64 -w0 "${PKI_DIR}/${cert}.key")
contexts:
- name: audiotext
  context: {cluster: audiotext, user: ${user}}
current-context: audiotext
EOF
  chmod 600 "${file}"
}

generate_pki() {
  rm -rf "${PKI_DIR}"
  mkdir -p "${PKI_DIR}"
  chmod 700 "${PKI_DIR}"
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 30 -sha256 \
    -subj "/CN=audiotext-test-cluster-ca" -keyout "${PKI_DIR}/ca.key" -out "${PKI_DIR}/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  # Service-account tokens are signed with this key pair.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${PKI_DIR}/sa.key" 2>/dev/null
  openssl pkey -in "${PKI_DIR}/sa.key" -pubout -out "${PKI_DIR}/sa.pub" 2>/dev/null

  # The API server's names include the node IP and the kubernetes Service IP, so pods
  # reach it through the Service and verify it with the CA in their token volume.
  issue_cert apiserver "/CN=kube-apiserver" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.${CLUSTER_DOMAIN},DNS:localhost,IP:127.0.0.1,IP:${NODE_IP},IP:${KUBERNETES_SERVICE_IP}" \
    serverAuth
  issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  issue_cert admin "/O=system:masters/CN=audiotext-admin"
  issue_cert controller-manager "/CN=system:kube-controller-manager"
  issue_cert scheduler "/CN=system:kube-scheduler"
  issue_cert kube-proxy "/CN=system:kube-proxy"
  issue_cert kubelet "/O=system:nodes/CN=system:node:${NODE_NAME}"
  issue_cert kubelet-serving "/CN=${NODE_NAME}" "DNS:${NODE_NAME},IP:${NODE_IP}" serverAuth
  issue_cert kwok "/CN=audiotext:kwok"
  issue_cert coredns "/CN=audiotext:coredns"
  # Kueue serves its webhooks (and metrics) to the API server on loopback.
  issue_cert kueue-serving "/CN=kueue" "DNS:localhost,IP:127.0.0.1" serverAuth
  issue_cert kueue "/O=system:masters/CN=audiotext:kueue"

  mkdir -p "${CLUSTER_DIR}/kubeconfigs"
  write_kubeconfig "${KUBECONFIG_ADMIN}" admin audiotext-admin
  write_kubeconfig "${CLUSTER_DIR}/kubeconfigs/controller-manager" controller-manager system:kube-controller-manager
  write_kubeconfig "${CLUSTER_DIR}/kubeconfigs/scheduler" scheduler system:kube-scheduler
  write_kubeconfig "${CLUSTER_DIR}/kubeconfigs/kube-proxy" kube-proxy system:kube-proxy
  write_kubeconfig "${CLUSTER_DIR}/kubeconfigs/kubelet" kubelet "system:node:${NODE_NAME}"
  write_kubeconfig "${CLUSTER_DIR}/kubeconfigs/kwok" kwok audiotext:kwok
  write_kubeconfig "${CLUSTER_DIR}/kubeconfigs/coredns" coredns audiotext:coredns
  write_kubeconfig "${CLUSTER_DIR}/kubeconfigs/kueue" kueue audiotext:kueue
}
