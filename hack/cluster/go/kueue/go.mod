// Wrapper module for the Kueue controller; build.sh adds sigs.k8s.io/kueue at KUEUE_VERSION.
module audiotext.local/cluster/kueue

go 1.25.0
