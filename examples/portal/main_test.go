package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// output is a concurrency-safe buffer that signals when a line containing
// want has been written.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
	once  sync.Once
}

func newOutput(want string) *output { return &output{want: want, ready: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	if o.want != "" && strings.Contains(o.buf.String(), o.want) {
		o.once.Do(func() { close(o.ready) })
	}
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func TestRunServesAndShutsDown(t *testing.T) {
	stdout, stderr := newOutput("Ctrl-C to stop."), newOutput("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-vehicles", "12", "-interference", "-error-rate", "0.1",
			"-password", "s3cret-pass", "-v", "-mention-rate", "0.2", "-csrf-race-rate", "0.1", "-endless-next",
			"-lowercase-vins", "-gone", "1, 2", "-huge", "3", "-crafted", "4,5", "-page-bomb", "6"}, stdout, stderr)
	}()
	select {
	case <-stdout.ready:
	case err := <-done:
		t.Fatalf("run returned early: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	m := regexp.MustCompile(`URL:\s+(http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no URL in output:\n%s", out)
	}
	for _, want := range []string{"user:     demo", "(as set with -password)", "vehicles: 12 (seed 0)",
		"faults:   500s 0.1, current-vehicle interference, mention stickers 0.2, CSRF races 0.1, endless next, " +
			"lower-case VINs, gone vehicles 1,2, huge stickers 3, crafted stickers 4,5, page-bomb stickers 6\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(m[1] + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<form id="login"`) {
		t.Errorf("GET /login: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(stdout.String(), "shutting down") {
		t.Errorf("no shutdown message:\n%s", stdout.String())
	}
	if all := stdout.String() + stderr.String(); strings.Contains(all, "s3cret-pass") {
		t.Errorf("the password was printed:\n%s", all)
	}
	if !strings.Contains(stderr.String(), "path=/login") {
		t.Errorf("-v did not log the request:\n%s", stderr.String())
	}
}

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string // "" for success
		stderr  string
	}{
		{[]string{"-h"}, "", "-sticker-mode"},
		{[]string{"-nope"}, "flag provided but not defined", ""},
		{[]string{"-sticker-mode", "popup"}, "StickerMode", ""},
		{[]string{"-error-rate", "2"}, "ErrorRate", ""},
		{[]string{"extra"}, "unexpected arguments", ""},
		{[]string{"-gone", "1,x"}, `vehicle ID "x" is not a number`, ""},
		{[]string{"-vehicles", "10", "-huge", "11"}, "HugeVehicles", ""},
		{[]string{"-crafted", "2", "-page-bomb", "2"}, "PageBombVehicles", ""},
		{[]string{"-gone", "3", "-busy", "3"}, "BusyVehicles", ""},
		{[]string{"-mention-rate", "-1"}, "MentionRate", ""},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr)
		switch {
		case tc.wantErr == "" && err != nil, tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("run %v: %v, want %q", tc.args, err, tc.wantErr)
		case !strings.Contains(stderr.String(), tc.stderr):
			t.Errorf("run %v: stderr lacks %q:\n%s", tc.args, tc.stderr, stderr.String())
		}
	}
}
