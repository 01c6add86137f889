package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDemoShowsOneCreatorWithDogpile(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"demo", "-n", "40", "-delay", "300ms", "-backend", "file", "-arg", "filename=" + t.TempDir() + "/demo.db"}
	if code := run(context.Background(), args, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(f) >= 5 {
			rows[f[0]] = f
		}
	}
	calls := func(scenario string) int {
		row, ok := rows[scenario]
		if !ok {
			t.Fatalf("no row %q in:\n%s", scenario, out.String())
		}
		n, err := strconv.Atoi(row[2])
		if err != nil {
			t.Fatalf("row %q: %v", scenario, err)
		}
		return n
	}
	// With the lock: one creator, whatever the timing.
	for _, scenario := range []string{"expired, dogpile", "cold, dogpile"} {
		if n := calls(scenario); n != 1 {
			t.Errorf("%s: %d creator calls, want 1\n%s", scenario, n, out.String())
		}
	}
	// Without it, every request that arrives before the first value is
	// stored computes it: on a loaded machine a few may arrive later.
	for _, scenario := range []string{"expired, no coordination", "cold, no coordination"} {
		if n := calls(scenario); n < 20 {
			t.Errorf("%s: %d creator calls, want most of the 40\n%s", scenario, n, out.String())
		}
	}
	if got, _ := strconv.Atoi(rows["expired, dogpile"][3]); got < 1 {
		t.Errorf("expired, dogpile: nobody was served the stale value\n%s", out.String())
	}
}

func TestExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"nope"}, &out, &errOut); code != exitUsage {
		t.Fatalf("unknown command: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errOut.String(), `unknown command "nope"`) {
		t.Fatalf("stderr: %s", errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"demo", "-backend", "nosuch"}, &out, &errOut); code != exitUsage {
		t.Fatalf("unknown backend: exit %d, want %d (%s)", code, exitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), `unknown backend "nosuch"`) {
		t.Fatalf("stderr: %s", errOut.String())
	}
	if code := run(context.Background(), []string{"demo", "-h"}, &out, &errOut); code != exitOK {
		t.Fatalf("-h: exit %d", code)
	}
}

// The bench loads in this process, so that the race detector sees them.
func TestBenchLoadsInProcess(t *testing.T) {
	db := "filename=" + t.TempDir() + "/bench.db"
	for _, args := range [][]string{
		{"--load", "hit", "-n", "300", "-c", "4", "--keys", "20"},
		{"--load", "cold-stampede", "-c", "8", "--rounds", "2", "--delay", "5ms"},
		{"--load", "expired-stampede", "-c", "8", "--rounds", "2", "--delay", "5ms"},
	} {
		var out, errOut bytes.Buffer
		all := append([]string{"bench", "--json", "--progress", "-backend", "file", "-arg", db}, args...)
		if code := run(context.Background(), all, &out, &errOut); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		var res struct {
			Requests     int `json:"requests"`
			Errors       int `json:"errors"`
			CreatorCalls int `json:"creator_calls"`
		}
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		wantCalls := 2 // one per stampede
		if args[1] == "hit" {
			wantCalls = 0
		}
		if res.Errors != 0 || res.CreatorCalls != wantCalls || res.Requests == 0 {
			t.Errorf("%v: %+v", args, res)
		}
	}
}
