package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"text/template"
)

// site is the adapter between jdrun and a portal: every URL and selector
// jdrun uses, in one place. The defaults match examples/portal; a portal of
// the same shape needs only a JSON file (-site) that overrides some fields:
//
//	{"login_path": "/signin", "row": "table.stock tr", "sticker_button": "a.monroney"}
type site struct {
	// LoginPath is the login page, relative to the portal URL.
	LoginPath string `json:"login_path"`
	// UserInput, PasswordInput and Submit select the login form's fields.
	UserInput     string `json:"user_input"`
	PasswordInput string `json:"password_input"`
	Submit        string `json:"submit"`
	// LoggedIn selects an element only a logged-in page has.
	LoggedIn string `json:"logged_in"`
	// LoginError selects the message shown when a login is refused.
	LoginError string `json:"login_error"`
	// BadCredentials selects the refusal that means wrong credentials
	// (a Playwright selector, text allowed); other refusals (an expired
	// form) are retried. Empty: every refusal means wrong credentials.
	BadCredentials string `json:"bad_credentials"`

	// InventoryPath is the first inventory page.
	InventoryPath string `json:"inventory_path"`
	// Row selects one vehicle row; RowLink the link to its page within the
	// row; RowFields the cells to read (vin is required; stock, year,
	// make, model, trim fill the name template and the report).
	Row       string            `json:"row"`
	RowLink   string            `json:"row_link"`
	RowFields map[string]string `json:"row_fields"`
	// NextPage selects the link to the next inventory page.
	NextPage string `json:"next_page"`
	// PageLinks selects the links to other inventory pages (page numbers):
	// they are read ahead, several at once. Empty: one page after another.
	PageLinks string `json:"page_links"`

	// PageVIN selects the VIN on a vehicle page: checked before downloading.
	PageVIN string `json:"page_vin"`
	// StickerButton selects the window sticker link or button.
	StickerButton string `json:"sticker_button"`
	// ErrorPage selects what an error page shows ("Something went wrong").
	ErrorPage string `json:"error_page"`
	// StickerURL is a template of a vehicle's sticker URL (fields as in
	// -name, plus .URL, the vehicle page), relative to the vehicle page or
	// absolute. When set, jdrun fetches it without opening the vehicle page
	// — the fastest way — and falls back to opening the page if the site
	// refuses that. Empty: always open the page.
	StickerURL string `json:"sticker_url"`

	stickerURL *template.Template
}

func defaultSite() site {
	return site{
		LoginPath:      "/login",
		UserInput:      "input[name=username]",
		PasswordInput:  "input[name=password]",
		Submit:         "form#login [type=submit]",
		LoggedIn:       "a#logout",
		LoginError:     "#login-error",
		BadCredentials: `#login-error:has-text("Invalid username or password")`,
		InventoryPath:  "/inventory",
		Row:            "table#inventory tbody tr",
		RowLink:        "a.vehicle",
		RowFields: map[string]string{
			"vin": "td.vin", "stock": "td.stock", "year": "td.year", "make": "td.make", "model": "td.model", "trim": "td.trim",
		},
		NextPage:      "a[rel=next]",
		PageLinks:     "nav.pagination a",
		PageVIN:       "#vin",
		StickerButton: "#window-sticker",
		ErrorPage:     "h1#error",
		StickerURL:    "{{.URL}}/sticker.pdf",
	}
}

// loadSite returns the defaults overridden by the JSON file at path, if any.
func loadSite(path string) (site, error) {
	s := defaultSite()
	if path != "" {
		if err := s.load(path); err != nil {
			return s, err
		}
	}
	if s.StickerURL != "" {
		t, err := template.New("sticker_url").Option("missingkey=error").Parse(s.StickerURL)
		if err == nil {
			err = t.Execute(io.Discard, vehicle{})
		}
		if err != nil {
			return s, fmt.Errorf("%w: SITE_CONFIG (-site): sticker_url: %w", errUsage, err)
		}
		s.stickerURL = t
	}
	return s, nil
}

// siteKeys are the keys a site file may set.
func siteKeys() []string {
	var keys []string
	t := reflect.TypeFor[site]()
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("json"); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func (s *site) load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: SITE_CONFIG (-site): %w", errUsage, err)
	}
	bad := func(at int, format string, args ...any) error {
		line := 1 + bytes.Count(b[:max(0, min(at, len(b)))], []byte("\n"))
		return fmt.Errorf("%w: SITE_CONFIG (-site) %s line %d: %s", errUsage, path, line, fmt.Sprintf(format, args...))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return bad(int(syntax.Offset), "%v", err)
		}
		return bad(0, "%v (want a JSON object)", err)
	}
	keys := siteKeys()
	for k := range raw {
		if !slices.Contains(keys, k) {
			return bad(bytes.Index(b, []byte(`"`+k+`"`)), "unknown key %q; the keys are: %s", k, strings.Join(keys, ", "))
		}
	}
	fields := s.RowFields
	s.RowFields = nil
	if err := json.Unmarshal(b, s); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return bad(int(typ.Offset), "%s: %v", typ.Field, err)
		}
		return bad(0, "%v", err)
	}
	for k, v := range s.RowFields { // merge: a file may override single cells
		if _, known := fields[k]; !known {
			return bad(bytes.Index(b, []byte(`"`+k+`"`)), "row_fields: unknown field %q; the fields are vin, stock, year, make, model, trim", k)
		}
		fields[k] = v
	}
	s.RowFields = fields
	for name, v := range map[string]string{"login_path": s.LoginPath, "inventory_path": s.InventoryPath, "row": s.Row,
		"row_link": s.RowLink, "sticker_button": s.StickerButton, "row_fields.vin": s.RowFields["vin"]} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%w: SITE_CONFIG (-site) %s: %s is empty", errUsage, path, name)
		}
	}
	return nil
}
