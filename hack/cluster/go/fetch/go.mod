// A small HTTP client for the test image; no dependencies.
module audiotext.local/cluster/fetch

go 1.24.0
