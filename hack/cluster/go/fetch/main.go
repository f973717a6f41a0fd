// Command fetch GETs a URL and prints the body: the HTTP client of the test image.
//
// Debian's busybox-static crashes when it resolves a name through DNS (a static glibc
// cannot load its resolver modules), so test pods use this instead of wget. Go's own
// resolver reads /etc/resolv.conf, search domains included.
//
//	fetch [-bearer-file FILE] [-ca-file FILE] [-retries N] URL
//
// With -ca-file the server certificate is verified against that CA; exits non-zero
// unless the response is 2xx.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	bearerFile := flag.String("bearer-file", "", "file holding a bearer token")
	caFile := flag.String("ca-file", "", "CA bundle that must have signed the server certificate")
	retries := flag.Int("retries", 0, "extra attempts, one second apart")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fetch [-bearer-file FILE] [-ca-file FILE] [-retries N] URL")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fail(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail(fmt.Errorf("no certificate in %s", *caFile))
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	var err error
	for attempt := 0; attempt <= *retries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Second)
		}
		if err = get(client, flag.Arg(0), *bearerFile); err == nil {
			return
		}
		fmt.Fprintln(os.Stderr, "fetch:", err)
	}
	os.Exit(1)
}

func get(client *http.Client, url, bearerFile string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearerFile != "" {
		token, err := os.ReadFile(bearerFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = os.Stdout.Write(body)
	return err
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fetch:", err)
	os.Exit(1)
}
