// Command jdrun downloads the window sticker PDF of every vehicle in a dealer
// portal through a real browser: one login, many worker pages, each PDF
// checked to carry its vehicle's VIN before it is saved as <VIN>.pdf, every
// outcome recorded in a crash-safe checkpoint so a rerun resumes.
//
// With no portal configured it starts the demo portal (examples/portal)
// in-process and runs the whole job against it:
//
//	go run ./examples/jdrun
//
// Run `jdrun -h` for every setting; they come from flags, environment
// variables and a .env file, with the old tool's names (JD_USER, JD_PASS,
// MAX_DOWNLOADS, CONCURRENT_CONTEXTS, HEADLESS, BLOCK_RESOURCES).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitLogin       = 3
	exitFailures    = 4
	exitInterrupted = 130
)

// Errors that pick an exit code.
var (
	errLogin       = errors.New("login refused or site unreachable")
	errFailures    = errors.New("some vehicles failed")
	errInterrupted = errors.New("interrupted")
)

func main() {
	ctx, stop := interrupts()
	err := run(ctx, os.Args[1:], secretEnv(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// hurryKey is the context key of the channel that the second Ctrl-C closes.
type hurryKey struct{}

// interrupts makes the context of a run from the signals: the first Ctrl-C
// (or SIGTERM, or SIGHUP: the terminal or SSH session went away) ends it —
// running downloads get the grace period — the
// second hurries it: running downloads stop now, and the summary and the
// checkpoint are still written; the third quits at once.
func interrupts() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	hurry := make(chan struct{})
	ctx = context.WithValue(ctx, hurryKey{}, (<-chan struct{})(hurry))
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if !signal.Ignored(syscall.SIGHUP) { // nohup jdrun …: a hang-up stays ignored
		signal.Notify(sigs, syscall.SIGHUP)
	}
	go func() {
		<-sigs
		cancel()
		<-sigs
		close(hurry)
		<-sigs
		fmt.Fprintln(os.Stderr, "jdrun: quit")
		os.Exit(exitInterrupted)
	}()
	return ctx, func() { signal.Stop(sigs) }
}

// hurried returns the channel the second Ctrl-C closes (nil: never).
func hurried(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(hurryKey{}).(<-chan struct{})
	return ch
}

// version is the module's version, or the commit jdrun was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			v = "commit " + s.Value[:min(12, len(s.Value))]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += " (modified)"
		}
	}
	return cmp.Or(v, "(devel)") + ", " + bi.GoVersion
}

// secretEnv takes the variables that hold secrets out of the process's
// environment — the driver and the browser inherit it — and returns a
// getenv that still sees them.
func secretEnv() func(string) string {
	kept := map[string]string{}
	for _, k := range []string{"JD_PASS", "CHECKPOINT_STORE", "PGPASSWORD"} {
		if v, ok := os.LookupEnv(k); ok {
			kept[k] = v
			os.Unsetenv(k)
		}
	}
	return func(k string) string {
		if v, ok := kept[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// exitCode prints err and returns the process's exit code for it.
func exitCode(err error, stderr io.Writer) int {
	code := exitCodeOf(err)
	if code != exitOK {
		fmt.Fprintln(stderr, "jdrun:", err)
	}
	return code
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func exitCodeOf(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errLogin):
		return exitLogin
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, errFailures):
		return exitFailures
	}
	return exitError
}

// run is the whole program, minus the process: tests call it with buffers.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "bench":
			return runBench(ctx, args[1:], getenv, stdout, stderr)
		case "doctor":
			return runDoctor(ctx, args[1:], getenv, stdin, stdout, stderr)
		case "report":
			return runReport(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := loadConfig(args, getenv, stdin, stderr)
	if err != nil {
		return err
	}
	if cfg.version {
		fmt.Fprintln(stdout, "jdrun", version())
		return nil
	}
	return runJob(ctx, cfg, stdout, stderr)
}
