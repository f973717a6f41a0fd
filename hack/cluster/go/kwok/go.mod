// Wrapper module for kwok; build.sh adds sigs.k8s.io/kwok at KWOK_VERSION.
module audiotext.local/cluster/kwok

go 1.24.0
