package download_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

func Example() {
	site := sessiontest.StartServer() // a small site behind a login form
	defer site.Close()
	ctx := context.Background()
	sess, err := session.Open(ctx, site.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()
	page, err := sess.NewPage(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.ClosePage(page)
	dir, _ := os.MkdirTemp("", "stickers")
	defer os.RemoveAll(dir)

	const vin = "1FTEW1E53KFA12345"
	target := download.Target{
		Dir:      dir,
		Name:     download.SafeName("2019 F-150 " + vin + ".pdf"),
		Validate: []download.Validator{download.PDF(), download.PDFContains(vin)},
	}
	if _, err := sess.Goto(ctx, page, site.ItemURL(vin), session.Expect{Ready: "#download"}); err != nil {
		fmt.Println(err)
		return
	}
	f, err := download.Click(ctx, sess, page, download.Selector("#download"), target)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("clicked:", filepath.Base(f.Path), f.Size, "bytes")

	// The same file without rendering anything, with the session's cookies.
	f, err = download.Fetch(ctx, sess, site.PDFURL(vin), target)
	fmt.Println("fetched:", filepath.Base(f.Path), err)

	// Another item's PDF under this item's name is caught.
	_, err = download.Fetch(ctx, sess, site.PDFURL("1FTEW1E53KFA99999"), target)
	fmt.Println(err)
	// Output:
	// clicked: 2019 F-150 1FTEW1E53KFA12345.pdf 1102 bytes
	// fetched: 2019 F-150 1FTEW1E53KFA12345.pdf <nil>
	// download: file content does not match the item: text does not contain "1FTEW1E53KFA12345"; it starts "Window sticker VIN: 1FTEW1E53KFA99999"
}

func ExampleSafeName() {
	fmt.Println(download.SafeName("1FTEW1E53KFA12345.pdf"))
	fmt.Println(download.SafeName("../../etc/passwd"))
	fmt.Println(download.SafeName("CON.pdf"))
	// Output:
	// 1FTEW1E53KFA12345.pdf
	// _.._etc_passwd~3754d6cb3a
	// _CON~9d22d0cc49.pdf
}
