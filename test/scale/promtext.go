package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// series is one line of the Prometheus text format.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape is one read of a metrics endpoint.
type scrape []series

// sum adds the values of the series called name whose labels include match.
func (s scrape) sum(name string, match map[string]string) float64 {
	var n float64
next:
	for _, x := range s {
		if x.name != name {
			continue
		}
		for k, v := range match {
			if x.labels[k] != v {
				continue next
			}
		}
		n += x.value
	}
	return n
}

// parseText reads the Prometheus text format: comments are skipped, and so
// is a line that does not parse (the harness reads a few known series).
func parseText(text string) scrape {
	var out scrape
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if x, ok := parseLine(line); ok {
			out = append(out, x)
		}
	}
	return out
}

func parseLine(line string) (series, bool) {
	x := series{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return x, false
	}
	x.name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, "=\"")
			if eq < 0 {
				return x, false
			}
			key := rest[:eq]
			rest = rest[eq+2:]
			var v strings.Builder
			closed := false
			for i := 0; i < len(rest); i++ {
				switch c := rest[i]; {
				case c == '\\' && i+1 < len(rest):
					i++
					if rest[i] == 'n' {
						v.WriteByte('\n')
					} else {
						v.WriteByte(rest[i])
					}
				case c == '"':
					rest, closed = rest[i+1:], true
				default:
					v.WriteByte(c)
				}
				if closed {
					break
				}
			}
			if !closed {
				return x, false
			}
			x.labels[key] = v.String()
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return x, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return x, false
	}
	x.value = v
	return x, true
}

// scrapeURL reads a plain-HTTP metrics endpoint.
func scrapeURL(ctx context.Context, url string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading %s: %s", url, resp.Status)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return parseText(string(raw)), nil
}
