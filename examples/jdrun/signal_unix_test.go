//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// TestHostileSignals: a terminal's Ctrl-C reaches jdrun's whole process
// group, the browser driver too; the downloads in flight on pages still
// finish within the grace period (before, the driver closed the browser at
// once). A hang-up (SSH gone) stops jdrun as a Ctrl-C does: exit 130, and
// no vehicle left Running for the next run to count as a crash.
func TestHostileSignals(t *testing.T) {
	sessiontest.RequireBrowser(t)
	bin := buildJDRun(t)
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		group bool
	}{{"ctrl-c to the group", syscall.SIGINT, true}, {"hang-up", syscall.SIGHUP, false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startPortal(t, dealer.Config{Vehicles: 12, Seed: 3, Photos: 1, StickerLatency: 2 * time.Second})
			dir := t.TempDir()
			cmd := exec.Command(bin, "-url", srv.URL(), "-out", "out", "-state", "state", "-progress", "off",
				"-download", "click", "-workers", "3", "-adaptive=false", "-grace", "30s")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "JD_USER="+dealer.DemoUser, "JD_PASS="+secret)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's foreground group of its own
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for srv.Stats().Requests[dealer.KindSticker] == 0 { // downloads in flight now, for 2 s
				time.Sleep(20 * time.Millisecond)
			}
			inFlight := srv.Stats().Requests[dealer.KindSticker]
			pid := cmd.Process.Pid
			if tc.group {
				pid = -pid
			}
			if err := syscall.Kill(pid, tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if tc.sig == syscall.SIGHUP && signal.Ignored(syscall.SIGHUP) {
				// The tests run under nohup, and so does jdrun: a hang-up
				// stays ignored, and the run goes on to its end.
				if err != nil {
					t.Fatalf("exit %v under nohup, want 0: the hang-up should be ignored\n%s", err, out.String())
				}
			} else if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
				t.Fatalf("exit %v, want %d\n%s", err, exitInterrupted, out.String())
			}
			saved, _ := filepath.Glob(filepath.Join(dir, "out", "*.pdf"))
			if tc.group && int64(len(saved)) < inFlight {
				t.Errorf("%d stickers saved of the %d in flight at the Ctrl-C\n%s", len(saved), inFlight, out.String())
			}
			store, err := checkpoint.ReadFile(filepath.Join(dir, "state", "checkpoint.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			for r, err := range store.All(t.Context()) {
				if err != nil || r.State == checkpoint.Running {
					t.Errorf("after the signal: %+v, %v; want no vehicle left running", r, err)
				}
			}
		})
	}
}
