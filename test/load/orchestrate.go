package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// childEnv marks a child process, for test binaries that re-execute
// themselves (see TestMain).
const childEnv = "KEYLESS_LOAD_CHILD"

// cell is one (body, concurrency, server) measurement over the rounds.
type cell struct {
	body   string
	conc   int
	server string
}

// report is what orchestrate found: per cell, one result per round.
type report map[cell][]result

// orchestrate starts both servers, then for every round, body and
// concurrency runs the generator against the floor and Keyless in turn
// (alternating which goes first) and prints the table.
func orchestrate(ctx context.Context, args []string, out io.Writer) error {
	_, err := runAll(ctx, args, out)
	return err
}

func runAll(ctx context.Context, args []string, out io.Writer) (report, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	dur := fs.Duration("duration", 5*time.Second, "measured time per cell")
	warm := fs.Duration("warmup", time.Second, "warm-up time per cell")
	rounds := fs.Int("rounds", 3, "rounds")
	concs := fs.String("concurrency", "1,16,64", "comma-separated concurrencies")
	bodyNames := fs.String("bodies", "deployment,serviceaccount", "comma-separated bodies")
	profile := fs.String("keyless-cpuprofile", "", "write the Keyless server's CPU profile to this file")
	cacheObjects := fs.Int("cache-objects", 0, "Keyless reads from the manager's cache holding this many ServiceAccounts and as many Deployments (0: an empty in-memory cluster)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var cs []int
	for _, s := range strings.Split(*concs, ",") {
		c, err := strconv.Atoi(s)
		if err != nil || c < 1 {
			return nil, fmt.Errorf("bad concurrency %q", s)
		}
		cs = append(cs, c)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keyless-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := writeCert(dir); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var waits []func()
	defer func() {
		cancel()
		for _, w := range waits {
			w()
		}
	}()
	urls := map[string]string{}
	for _, s := range []string{"floor", "keyless"} {
		args := []string{"-cert-dir", dir}
		if s == "keyless" && *profile != "" {
			args = append(args, "-cpuprofile", *profile)
		}
		if s == "keyless" && *cacheObjects > 0 {
			args = append(args, "-cache-objects", strconv.Itoa(*cacheObjects))
		}
		url, wait, err := startServer(ctx, exe, s, args...)
		if err != nil {
			return nil, err
		}
		waits = append(waits, wait)
		urls[s] = url
	}
	rep := report{}
	for r := range *rounds {
		order := []string{"floor", "keyless"}
		if r%2 == 1 {
			order = []string{"keyless", "floor"}
		}
		for _, b := range strings.Split(*bodyNames, ",") {
			for _, c := range cs {
				for _, s := range order {
					res, err := runGenerator(ctx, exe, urls[s], dir, b, c, *warm, *dur)
					if err != nil {
						return nil, fmt.Errorf("%s %s c=%d: %w", s, b, c, err)
					}
					fmt.Fprintf(os.Stderr, "round %d %-14s c=%-3d %-7s %8.0f rps p50 %6.0fµs p99 %6.0fµs cpu %5.1fµs/req\n",
						r+1, b, c, s, res.RPS, res.P50, res.P99, res.CPUPerReq)
					k := cell{b, c, s}
					rep[k] = append(rep[k], res)
				}
			}
		}
	}
	rep.print(out, strings.Split(*bodyNames, ","), cs)
	return rep, nil
}

// startServer starts a server child and returns its URL and a func that
// waits for it after ctx is cancelled.
func startServer(ctx context.Context, exe, kind string, args ...string) (string, func(), error) {
	cmd := child(ctx, exe, append([]string{kind}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return url, func() { _ = cmd.Wait() }, nil
		}
	}
	_ = cmd.Wait()
	return "", nil, fmt.Errorf("the %s server exited before it was ready", kind)
}

func runGenerator(ctx context.Context, exe, url, dir, body string, c int, warm, dur time.Duration) (result, error) {
	cmd := child(ctx, exe, "generate", "-url", url, "-cert-dir", dir, "-body", body, "-c", strconv.Itoa(c),
		"-warmup", warm.String(), "-duration", dur.String())
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return result{}, err
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return result{}, fmt.Errorf("reading the generator's result %q: %w", stdout.String(), err)
	}
	return r, nil
}

func child(ctx context.Context, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", childEnv+"=1")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// print writes the medians over the rounds and the Keyless/floor ratios,
// each taken per round (the two ran back to back) and then the median.
func (rep report) print(out io.Writer, bodies []string, concs []int) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "body\tc\tserver\trps\tp50 µs\tp99 µs\tp99.9 µs\tCPU µs/req\trps ratio\tp99 ratio\tCPU ratio\t")
	for _, b := range bodies {
		for _, c := range concs {
			fl, kl := rep[cell{b, c, "floor"}], rep[cell{b, c, "keyless"}]
			for _, s := range []string{"floor", "keyless"} {
				rs := rep[cell{b, c, s}]
				get := func(f func(result) float64) float64 {
					var xs []float64
					for _, r := range rs {
						xs = append(xs, f(r))
					}
					return median(xs)
				}
				ratio := func(f func(result) float64) string {
					if s == "floor" {
						return ""
					}
					var xs []float64
					for i := range min(len(fl), len(kl)) {
						xs = append(xs, f(kl[i])/f(fl[i]))
					}
					return fmt.Sprintf("%.2f", median(xs))
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%s\t%s\t%s\t\n", b, c, s,
					get(func(r result) float64 { return r.RPS }), get(func(r result) float64 { return r.P50 }),
					get(func(r result) float64 { return r.P99 }), get(func(r result) float64 { return r.P999 }),
					get(func(r result) float64 { return r.CPUPerReq }),
					ratio(func(r result) float64 { return r.RPS }), ratio(func(r result) float64 { return r.P99 }),
					ratio(func(r result) float64 { return r.CPUPerReq }))
			}
		}
	}
	_ = tw.Flush()
}
