//go:build unix

package session_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// TestCtrlCLeavesTheBrowser: a Ctrl-C in a terminal reaches every process
// of the foreground group, the driver too. The browser must outlive it, so
// that the program's own shutdown lets downloads in flight finish; before,
// the driver closed every browser at once.
func TestCtrlCLeavesTheBrowser(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.Install = sessiontest.OwnDriver(t) // signalled below: not the driver other tests use
	s := sessiontest.Open(t, cfg)
	ctx := t.Context()
	if err := syscall.Kill(s.DriverPID(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the driver's handler, if any, runs
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	if _, err := s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{Ready: "#download"}); err != nil {
		t.Errorf("Goto after a Ctrl-C: %v", err)
	}
	if n := s.Stats().Relaunches; n != 0 {
		t.Errorf("%d relaunches after a Ctrl-C: the browser was closed", n)
	}
}
