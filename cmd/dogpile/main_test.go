package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestDemoShowsOneCreatorWithDogpile(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"demo", "-n", "40", "-delay", "20ms", "-backend", "file", "-arg", "filename=" + t.TempDir() + "/demo.db"}
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
	for scenario, wantCalls := range map[string]string{
		"expired, dogpile": "1", "cold, dogpile": "1",
		"expired, no coordination": "40", "cold, no coordination": "40",
	} {
		row, ok := rows[scenario]
		if !ok {
			t.Fatalf("no row %q in:\n%s", scenario, out.String())
		}
		if row[2] != wantCalls {
			t.Errorf("%s: %s creator calls, want %s", scenario, row[2], wantCalls)
		}
	}
	if got := rows["expired, dogpile"][3]; got != "39" {
		t.Errorf("expired, dogpile: %s served stale, want 39", got)
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
