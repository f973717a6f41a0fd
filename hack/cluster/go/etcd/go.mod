// Wrapper module for etcd; build.sh adds go.etcd.io/etcd/server/v3 at ETCD_VERSION.
module audiotext.local/cluster/etcd

go 1.24.0
