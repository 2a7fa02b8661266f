package session

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	playwright "github.com/mxschmitt/playwright-go"
)

// Form describes a site's login form for [FormLogin].
type Form struct {
	// URL is the login page. Required.
	URL string
	// User and Password are the credentials. Password never appears in
	// errors or logs.
	User, Password string
	// UserField selects the user name input. Defaults to the first of
	// input[name=username], input[name=user], input[name=email],
	// input[type=email], input[type=text].
	UserField string
	// PasswordField selects the password input. Defaults to
	// input[type=password].
	PasswordField string
	// Submit selects the submit button. Defaults to [type=submit].
	Submit string
	// Success selects an element that only a logged-in page shows (say, a
	// logout link). Defaults to "": success means leaving the login page.
	Success string
	// Failure selects the message the site shows when it refuses a login,
	// for whatever reason. Defaults to "": refusal means staying on the
	// login page.
	Failure string
	// BadCredentials selects the message that says the credentials are
	// wrong, when the site shows other refusals (an expired form) in the
	// same place: a Playwright selector, so it may match text, e.g.
	// `#login-error:has-text("Invalid user name or password")`. A refusal
	// that is not this one is [ErrLoginRefused], retried; this one is
	// [ErrBadCredentials]. Defaults to Failure: every refusal means wrong
	// credentials.
	BadCredentials string
	// Timeout bounds each step when ctx has no earlier deadline. Defaults
	// to 30s.
	Timeout time.Duration
}

// FormLogin returns a LoginFunc that opens f.URL, fills in the user name
// and password, submits, and decides: BadCredentials visible (or, without
// Success and Failure, still on the login page after submitting) means
// [ErrBadCredentials]; another refusal (Failure visible) [ErrLoginRefused];
// Success visible (or leaving the login page) means logged in; anything
// else is a transient error. With Success set, a login page that sends the
// browser on to a logged-in page (Success visible, no password field)
// means the session is still logged in: nothing is filled in. Its errors
// never hold the password or a cookie.
func FormLogin(f Form) LoginFunc {
	f.UserField = cmp.Or(f.UserField, `input[name=username], input[name=user], input[name=email], input[type=email], input[type=text]`)
	f.PasswordField = cmp.Or(f.PasswordField, `input[type=password]`)
	f.Submit = cmp.Or(f.Submit, `[type=submit]`)
	f.Timeout = cmp.Or(f.Timeout, 30*time.Second)
	return func(ctx context.Context, page playwright.Page) error {
		return Scrub(redact(f.login(ctx, page), f.Password))
	}
}

func (f Form) login(ctx context.Context, page playwright.Page) error {
	ms := func() *float64 { return Timeout(ctx, f.Timeout) }
	resp, err := page.Goto(f.URL, playwright.PageGotoOptions{Timeout: ms()})
	if err != nil {
		return fmt.Errorf("open login page: %w", err)
	}
	// A login page that is down has no form to wait for. (Some sites serve
	// their form with 401 or 403: only 5xx and 429 say down.)
	if resp != nil && (resp.Status() >= 500 || resp.Status() == http.StatusTooManyRequests) {
		// Not StatusErr's: its 429 is a requeue, which would outlive the
		// abort a login that stays down ends in.
		return fmt.Errorf("open login page: %w", &StatusError{Code: resp.Status(), URL: ScrubString(resp.URL()), Wait: parseRetryAfter(resp.Headers()["retry-after"])})
	}
	if f.Success != "" {
		// A site whose session is still good sends its login page on to a
		// logged-in page: a login done, not a form to wait for. Its sign
		// is Success shown and no password field (a search box is no form).
		pass := page.Locator(f.PasswordField + " >> visible=true").First()
		ok := page.Locator(f.Success + " >> visible=true").First()
		if err := pass.Or(ok).First().WaitFor(playwright.LocatorWaitForOptions{State: playwright.WaitForSelectorStateVisible, Timeout: ms()}); err != nil {
			return fmt.Errorf("open login page: %w", err)
		}
		if in, err := ok.IsVisible(); err == nil && in {
			if form, err := pass.IsVisible(); err == nil && !form {
				return nil
			}
		}
	}
	if err := page.Locator(f.UserField).First().Fill(f.User, playwright.LocatorFillOptions{Timeout: ms()}); err != nil {
		return fmt.Errorf("fill user name: %w", err)
	}
	if err := page.Locator(f.PasswordField).First().Fill(f.Password, playwright.LocatorFillOptions{Timeout: ms()}); err != nil {
		return fmt.Errorf("fill password: %w", err)
	}
	submit := func() error {
		return page.Locator(f.Submit).First().Click(playwright.LocatorClickOptions{Timeout: ms()})
	}
	if f.Success == "" && f.Failure == "" && f.BadCredentials == "" {
		resp, err := page.ExpectNavigation(submit, playwright.PageExpectNavigationOptions{Timeout: ms()})
		switch {
		case err != nil:
			return fmt.Errorf("submit: %w", err)
		case resp != nil && resp.Status() >= 500:
			return fmt.Errorf("submit: server error %d", resp.Status())
		case SamePage(page.URL(), f.URL):
			return ErrBadCredentials
		}
		return nil
	}
	if err := submit(); err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	bad := cmp.Or(f.BadCredentials, f.Failure)
	var either playwright.Locator
	for _, sel := range []string{f.Success, f.Failure, bad} {
		if sel == "" {
			continue
		}
		if l := page.Locator(sel); either == nil {
			either = l
		} else {
			either = either.Or(l)
		}
	}
	if err := either.First().WaitFor(playwright.LocatorWaitForOptions{State: playwright.WaitForSelectorStateVisible, Timeout: ms()}); err != nil {
		return fmt.Errorf("wait for the login result: %w", err)
	}
	if bad != "" {
		if v, err := page.Locator(bad).First().IsVisible(); err == nil && v {
			return ErrBadCredentials
		}
	}
	if f.Failure != "" {
		if v, err := page.Locator(f.Failure).First().IsVisible(); err == nil && v {
			return ErrLoginRefused
		}
	}
	return nil
}

// redact replaces secret in err's message; errors.Is and errors.As still
// see the original chain.
func redact(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error() // a message is redacted here, never classified
	if !strings.Contains(msg, secret) {
		return err
	}
	return &redacted{strings.ReplaceAll(msg, secret, "***"), err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
