// Wrapper module for the Kubernetes binaries (kube-apiserver, kube-controller-manager,
// kube-scheduler, kube-proxy, kubelet, kubectl). hack/cluster/build.sh adds the pinned
// k8s.io/kubernetes requirement and a replace for each k8s.io staging module from
// hack/cluster/versions.env, in a copy of this directory, before it builds.
module audiotext.local/cluster/kubernetes

go 1.24.0
