package dealer_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

// Start a portal in-process, log in as a browser would, and fetch a window
// sticker directly with the session cookie.
func Example() {
	srv, err := dealer.Start(dealer.Config{Vehicles: 30, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Jar: jar, Transport: tr}

	// The login form carries a CSRF token that must be posted back.
	resp, err := client.Get(srv.URL() + "/login")
	if err != nil {
		log.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)[1]
	resp, err = client.PostForm(srv.URL()+"/login", url.Values{
		"username": {dealer.DemoUser}, "password": {dealer.DemoPassword}, "csrf": {string(csrf)},
	})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("logged in, at", resp.Request.URL.Path)

	v := srv.Vehicles()[0]
	resp, err = client.Get(srv.URL() + v.StickerPath())
	if err != nil {
		log.Fatal(err)
	}
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(v.Title(), v.VIN)
	fmt.Println(resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	fmt.Println("PDF:", bytes.HasPrefix(pdf, []byte("%PDF-")), "stickers served:", srv.Stats().Stickers)
	// Output:
	// logged in, at /inventory
	// 2024 Toyota Tacoma TRD Sport 3TM11PV17R7100035
	// application/pdf attachment; filename="window-sticker.pdf"
	// PDF: true stickers served: 1
}
