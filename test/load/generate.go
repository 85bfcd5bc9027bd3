package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// result is what one generator run reports.
type result struct {
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	RPS       float64 `json:"rps"`
	P50       float64 `json:"p50Micros"`
	P99       float64 `json:"p99Micros"`
	P999      float64 `json:"p999Micros"`
	CPUPerReq float64 `json:"serverCPUMicrosPerRequest"`
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// generate posts a fixed body from c keep-alive connections for warm-up +
// duration and prints a result as JSON.
func generate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	url := fs.String("url", "", "server base URL")
	certDir := fs.String("cert-dir", "", "directory with the server's tls.crt")
	bodyName := fs.String("body", "deployment", "deployment or serviceaccount")
	conc := fs.Int("c", 1, "concurrent connections")
	dur := fs.Duration("duration", 5*time.Second, "measured time")
	warm := fs.Duration("warmup", time.Second, "warm-up time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, ok := bodies()[*bodyName]
	if !ok {
		return fmt.Errorf("unknown body %q", *bodyName)
	}
	pemCert, err := os.ReadFile(filepath.Join(*certDir, "tls.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
		MaxIdleConnsPerHost: *conc + 1, MaxConnsPerHost: *conc + 1, DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	r, err := measure(ctx, client, *url, body, *conc, *warm, *dur)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func measure(ctx context.Context, client *http.Client, url string, body []byte, conc int,
	warm, dur time.Duration) (result, error) {
	var phase atomic.Int32
	lat := make([][]time.Duration, conc)
	errs := make([]int, conc)
	var wg sync.WaitGroup
	for i := range conc {
		lat[i] = make([]time.Duration, 0, 1<<14)
		wg.Go(func() {
			for phase.Load() != phaseStop && ctx.Err() == nil {
				p := phase.Load()
				t := time.Now()
				ok := post(client, url+"/mutate", body)
				d := time.Since(t)
				if p == phaseMeasure && phase.Load() == phaseMeasure {
					if ok {
						lat[i] = append(lat[i], d)
					} else {
						errs[i]++
					}
				}
			}
		})
	}
	time.Sleep(warm)
	cpu0, err := serverCPU(client, url)
	if err != nil {
		phase.Store(phaseStop)
		wg.Wait()
		return result{}, err
	}
	t0 := time.Now()
	phase.Store(phaseMeasure)
	time.Sleep(dur)
	phase.Store(phaseStop)
	secs := time.Since(t0).Seconds()
	cpu1, err := serverCPU(client, url)
	wg.Wait()
	if err != nil {
		return result{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := result{Requests: len(all), Seconds: secs}
	for _, e := range errs {
		r.Errors += e
	}
	if len(all) == 0 {
		return r, fmt.Errorf("no successful request in %v (%d errors)", dur, r.Errors)
	}
	q := func(f float64) float64 { return float64(all[min(len(all)-1, int(f*float64(len(all))))].Microseconds()) }
	r.RPS = float64(len(all)) / secs
	r.P50, r.P99, r.P999 = q(0.50), q(0.99), q(0.999)
	// The window's CPU also covers requests in flight at its edges; at
	// thousands of requests that is noise.
	r.CPUPerReq = float64(cpu1-cpu0) / 1e3 / float64(len(all)+r.Errors)
	return r, nil
}

func post(client *http.Client, url string, body []byte) bool {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK
}

func serverCPU(client *http.Client, url string) (int64, error) {
	resp, err := client.Get(url + cpuPath)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}
