package session_test

import (
	"context"
	"fmt"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

func Example() {
	site := sessiontest.StartServer() // a small site behind a login form
	defer site.Close()
	ctx := context.Background()

	sess, err := session.Open(ctx, session.Config{
		Login: session.FormLogin(session.Form{
			URL:  site.URL + "/login",
			User: site.User, Password: site.Password,
			Success: "#logout", Failure: "#error",
		}),
		LoginURL: site.URL + "/login", // where the site sends logged-out visitors
		Block:    true,                // no images, stylesheets, fonts or media
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()

	// A pool would get its pages from sess.Pages(); here, one page by hand.
	page, err := sess.NewPage(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.ClosePage(page)

	site.Expire() // the site logs everyone out
	if _, err := page.Goto(site.ItemURL("1FTEW1E53KFA12345")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("check:", sess.Check(ctx, page)) // logged in again: run the task again
	if _, err := page.Goto(site.ItemURL("1FTEW1E53KFA12345")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("check:", sess.Check(ctx, page))
	title, _ := page.Title()
	fmt.Println(title)
	fmt.Println("logins:", sess.Stats().Logins)
	// Output:
	// check: session: logged out
	// check: <nil>
	// Vehicle 1FTEW1E53KFA12345
	// logins: 2
}

// A LoginFunc can do anything a user would; FormLogin covers plain forms.
func ExampleLoginFunc() {
	var login session.LoginFunc = func(ctx context.Context, page playwright.Page) error {
		if _, err := page.Goto("https://portal.example.com/sso", playwright.PageGotoOptions{Timeout: session.Timeout(ctx, 0)}); err != nil {
			return err
		}
		// … fill in the form, click, wait for a logged-in marker …
		if refused, _ := page.Locator(".login-error").IsVisible(); refused {
			return session.ErrBadCredentials // permanent: no retry, no further logins
		}
		return nil
	}
	_ = session.Config{Login: login}
}
