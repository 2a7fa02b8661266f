// Command portal serves the pagefleet demo dealer portal (package
// [github.com/pagefleet/pagefleet/examples/portal/dealer]) so that a person
// can click through it in a browser or point a client at it:
//
//	go run ./examples/portal                      # http://127.0.0.1:8080, user demo, password demo-pass
//	go run ./examples/portal -interference -error-rate 0.05 -latency 200ms
//	go run ./examples/portal -h                   # every knob
//
// Every field of dealer.Config has a flag. Ctrl-C shuts the server down
// cleanly (hung requests are released).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(2)
	}
}

// run parses args, serves the portal until ctx is done, and shuts it down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portal [flags]\n\nServes the pagefleet demo dealer portal. All faults are off by default.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var (
		cfg     dealer.Config
		mode    string
		verbose bool
		quiet   bool
		grace   time.Duration
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen `address`")
	fs.Int64Var(&cfg.Seed, "seed", 0, "seed for the inventory and every fault decision")
	fs.IntVar(&cfg.Vehicles, "vehicles", dealer.DefaultVehicles, "number of vehicles in the inventory")
	fs.IntVar(&cfg.PageSize, "page-size", 25, "vehicles per inventory page")
	fs.IntVar(&cfg.Photos, "photos", 6, "photos per vehicle page")
	fs.StringVar(&cfg.Username, "user", dealer.DemoUser, "the username accepted")
	fs.StringVar(&cfg.Password, "password", dealer.DemoPassword, "the password accepted")
	fs.StringVar(&mode, "sticker-mode", string(dealer.StickerAttachment), "window sticker button: attachment, prepare (JS POST, then download) or inline")
	fs.DurationVar(&cfg.Latency, "latency", 0, "latency added to each page request")
	fs.DurationVar(&cfg.LatencyJitter, "latency-jitter", 0, "random extra latency, up to this")
	fs.DurationVar(&cfg.StickerLatency, "sticker-latency", 0, "extra latency of each sticker download")
	fs.DurationVar(&cfg.StickerLatencyJitter, "sticker-latency-jitter", 0, "random extra sticker latency, up to this")
	fs.Float64Var(&cfg.ErrorRate, "error-rate", 0, "share of page requests answered with HTTP 500 (0..1)")
	fs.Float64Var(&cfg.SoftErrorRate, "soft-error-rate", 0, `share of page requests answered 200 "Something went wrong" (0..1)`)
	fs.Float64Var(&cfg.HangRate, "hang-rate", 0, "share of page requests that never answer (0..1)")
	fs.Float64Var(&cfg.TruncateRate, "truncate-rate", 0, "share of sticker PDFs cut short (0..1)")
	fs.BoolVar(&cfg.TruncateAbort, "truncate-abort", false, "truncated PDFs drop the connection instead of ending cleanly")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", 0, "how long a login lasts (0: forever)")
	fs.IntVar(&cfg.LoginDownAfter, "login-down-after", 0, "take the login page down (503) from this successful login on (0: never)")
	fs.DurationVar(&cfg.LoginDownFor, "login-down-for", 0, "for this long (with -login-down-after)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "end sessions idle this long (0: never)")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight", 0, "requests one session may have in progress; more get 429 (0: no limit)")
	fs.BoolVar(&cfg.KickOnLimit, "kick", false, "also log the session out when it goes over -max-inflight")
	fs.BoolVar(&cfg.Interference, "interference", false, "stickers follow the session's last viewed vehicle, not the URL")
	fs.Float64Var(&cfg.MentionRate, "mention-rate", 0, "share of stickers that are another vehicle's, mentioning the requested VIN in a footer (0..1)")
	fs.Float64Var(&cfg.CSRFRaceRate, "csrf-race-rate", 0, `share of right logins refused as "sign-in form has expired" (0..1)`)
	fs.BoolVar(&cfg.EndlessNext, "endless-next", false, `the inventory's "next" link never ends (pages past the last repeat it)`)
	fs.BoolVar(&cfg.LowercaseVINs, "lowercase-vins", false, "show every VIN in lower case (pages and sticker text)")
	fs.BoolVar(&cfg.BrowserOnlyStickers, "browser-only-stickers", false, "stickers only for a browser's pages: other requests get the login page")
	fs.Var((*idList)(&cfg.GoneVehicles), "gone", "vehicle `IDs` (comma-separated) listed in the inventory whose page and sticker answer 404")
	fs.Var((*idList)(&cfg.HugeVehicles), "huge", "vehicle `IDs` (comma-separated) whose sticker is a 200 MB stream without Content-Length")
	fs.Var((*idList)(&cfg.CraftedVehicles), "crafted", "vehicle `IDs` (comma-separated) whose sticker is a tiny PDF whose page tree contains itself")
	fs.Var((*idList)(&cfg.PageBombVehicles), "page-bomb", "vehicle `IDs` (comma-separated) whose sticker is a tiny PDF claiming a billion pages")
	fs.Var((*idList)(&cfg.BusyVehicles), "busy", "vehicle `IDs` (comma-separated) whose page runs a script that never yields")
	fs.BoolVar(&verbose, "v", false, "log every request")
	fs.BoolVar(&quiet, "q", false, "log nothing")
	fs.DurationVar(&grace, "grace", 5*time.Second, "how long shutdown waits for requests in progress")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	cfg.StickerMode = dealer.StickerMode(mode)

	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	if !quiet {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	}

	srv, err := dealer.Start(cfg)
	if err != nil {
		return err
	}
	password := "(as set with -password)"
	if cfg.Password == dealer.DemoPassword {
		password = dealer.DemoPassword
	}
	c := srv.Config()
	fmt.Fprintf(stdout, "Summit Motors DealerNet demo portal\n"+
		"  URL:      %s/\n  user:     %s\n  password: %s\n"+
		"  vehicles: %d (seed %d), sticker mode: %s\n  faults:   %s\n"+
		"  stats:    %s/__stats\nCtrl-C to stop.\n",
		srv.URL(), c.Username, password, c.Vehicles, c.Seed, c.StickerMode, faults(c), srv.URL())

	<-ctx.Done()
	fmt.Fprintln(stdout, "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// faults describes the faults switched on in c.
func faults(c dealer.Config) string {
	var f []string
	add := func(on bool, format string, a ...any) {
		if on {
			f = append(f, fmt.Sprintf(format, a...))
		}
	}
	add(c.Latency > 0 || c.LatencyJitter > 0, "latency %v+%v", c.Latency, c.LatencyJitter)
	add(c.StickerLatency > 0 || c.StickerLatencyJitter > 0, "sticker latency %v+%v", c.StickerLatency, c.StickerLatencyJitter)
	add(c.ErrorRate > 0, "500s %g", c.ErrorRate)
	add(c.SoftErrorRate > 0, "soft errors %g", c.SoftErrorRate)
	add(c.HangRate > 0, "hangs %g", c.HangRate)
	add(c.TruncateRate > 0, "truncated PDFs %g (abort %v)", c.TruncateRate, c.TruncateAbort)
	add(c.SessionTTL > 0, "session TTL %v", c.SessionTTL)
	add(c.IdleTimeout > 0, "idle timeout %v", c.IdleTimeout)
	add(c.MaxInFlight > 0, "max in flight %d (kick %v)", c.MaxInFlight, c.KickOnLimit)
	add(c.Interference, "current-vehicle interference")
	add(c.MentionRate > 0, "mention stickers %g", c.MentionRate)
	add(c.CSRFRaceRate > 0, "CSRF races %g", c.CSRFRaceRate)
	add(c.EndlessNext, "endless next")
	add(c.LowercaseVINs, "lower-case VINs")
	add(c.BrowserOnlyStickers, "browser-only stickers")
	add(len(c.GoneVehicles) > 0, "gone vehicles %s", idList(c.GoneVehicles))
	add(len(c.HugeVehicles) > 0, "huge stickers %s", idList(c.HugeVehicles))
	add(len(c.CraftedVehicles) > 0, "crafted stickers %s", idList(c.CraftedVehicles))
	add(len(c.PageBombVehicles) > 0, "page-bomb stickers %s", idList(c.PageBombVehicles))
	add(len(c.BusyVehicles) > 0, "busy vehicle pages %s", idList(c.BusyVehicles))
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, ", ")
}

// idList is a flag of comma-separated vehicle IDs, e.g. "3,17,250".
type idList []int

func (l idList) String() string {
	s := make([]string, len(l))
	for i, id := range l {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

func (l *idList) Set(v string) error {
	*l = nil
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("vehicle ID %q is not a number", f)
		}
		*l = append(*l, id)
	}
	return nil
}
