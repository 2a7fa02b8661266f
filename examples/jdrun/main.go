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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once; the checkpoint has all that was acknowledged
	}()
	err := run(ctx, os.Args[1:], secretEnv(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// secretEnv takes the variables that hold secrets out of the process's
// environment — the driver and the browser inherit it — and returns a
// getenv that still sees them.
func secretEnv() func(string) string {
	kept := map[string]string{}
	for _, k := range []string{"JD_PASS", "CHECKPOINT_STORE"} {
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

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	}
	fmt.Fprintln(stderr, "jdrun:", err)
	switch {
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
	return runJob(ctx, cfg, stdout, stderr)
}
