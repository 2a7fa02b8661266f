package sessiontest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/session"
)

// BrowserServer starts a Playwright browser server (playwright-core's
// launch-server, with the located chromium) on 127.0.0.1 and returns its
// ws:// endpoint for session.Config.Endpoint. It stops at test cleanup.
func BrowserServer(t testing.TB) string {
	t.Helper()
	in := RequireBrowser(t)
	cfg := map[string]any{"host": "127.0.0.1", "port": 0, "headless": true, "args": session.DefaultArgs}
	if in.Browser != "" {
		cfg["executablePath"] = in.Browser
	}
	path := filepath.Join(t.TempDir(), "server.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	node := in.Node
	if node == "" {
		node = filepath.Join(in.DriverDir, "node")
	}
	cmd := exec.Command(node, filepath.Join(in.DriverDir, "package", "cli.js"), "launch-server", "--browser", "chromium", "--config", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start browser server: %v", err)
	}
	t.Cleanup(func() {
		if cmd.Process.Signal(os.Interrupt) != nil { // the server closes its browser on SIGINT
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ep := <-line:
		if !strings.HasPrefix(ep, "ws://") {
			t.Fatalf("browser server printed %q, not a ws:// endpoint", ep)
		}
		return ep
	case <-time.After(30 * time.Second):
		t.Fatal("browser server printed no endpoint within 30s")
		return ""
	}
}
