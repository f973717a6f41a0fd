// Wrapper module for a CoreDNS with only the plugins the test cluster uses;
// build.sh adds github.com/coredns/coredns at COREDNS_VERSION.
module audiotext.local/cluster/coredns

go 1.24.0
