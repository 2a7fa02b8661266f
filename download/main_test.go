package download_test

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/pagefleet/pagefleet/session/sessiontest"
)

func TestMain(m *testing.M) {
	if os.Getenv(sessiontest.SkipEnv) == "1" && flag.Lookup("test.run") != nil {
		// Examples drive a browser too, and cannot skip themselves.
		flag.Parse()
		if flag.Lookup("test.run").Value.String() == "" {
			_ = flag.Set("test.run", "^Test")
		}
	}
	goleak.VerifyTestMain(m)
}
