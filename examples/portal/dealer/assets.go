package dealer

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"sync"
)

// Generated assets are the same for every server, so they are made once
// per process, on first use, and shared.

const photoVariants = 8

var (
	vendorCSS    = sync.OnceValue(makeVendorCSS)
	webFont      = sync.OnceValue(makeWebFont)
	photoSet     = sync.OnceValue(func() [][]byte { return makePhotos(1024, 683, 88, 14, photoVariants) })
	thumbSet     = sync.OnceValue(func() [][]byte { return makePhotos(240, 160, 80, 6, photoVariants) })
	stickerPhoto = sync.OnceValue(func() []byte { return makePhotos(360, 240, 85, 8, 1)[0] })
)

// photo is the JPEG for photo n of vehicle id (100–300 KB).
func photo(id, n int) []byte { return photoSet()[(id*7+n)%photoVariants] }

// thumbnail is the small JPEG of vehicle id for the inventory table.
func thumbnail(id int) []byte { return thumbSet()[id%photoVariants] }

var paints = []color.RGBA{
	{0xb8, 0x1d, 0x24, 255}, {0x1f, 0x3a, 0x68, 255}, {0xe9, 0xea, 0xec, 255}, {0x2b, 0x2d, 0x31, 255},
	{0x8a, 0x8f, 0x96, 255}, {0x2f, 0x5d, 0x3a, 255}, {0xc9, 0x8a, 0x2b, 255}, {0x5a, 0x6e, 0x8c, 255},
}

// makePhotos draws n pictures of a car in a lot, w×h, with
// film-grain noise of the given amplitude so that they weigh what real
// photos weigh, and encodes them as JPEG.
func makePhotos(w, h, quality, grain, n int) [][]byte {
	out := make([][]byte, n)
	var wg sync.WaitGroup
	for v := range out {
		wg.Go(func() {
			img := drawCar(w, h, v, grain)
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
				panic(err) // encoding to memory cannot fail
			}
			out[v] = buf.Bytes()
		})
	}
	wg.Wait()
	return out
}

func drawCar(w, h, variant, grain int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	paint := paints[variant]
	fw, fh := float64(w), float64(h)
	horizon := int(0.58 * fh)
	set := func(x, y int, r, g, b float64) {
		p := img.Pix[y*img.Stride+x*4 : y*img.Stride+x*4+4 : y*img.Stride+x*4+4]
		p[0], p[1], p[2], p[3] = clamp(r), clamp(g), clamp(b), 255
	}
	// Sky, lighter near the sun; asphalt with parking lines.
	sunX, sunY := (0.45+0.3*float64(variant))*fw/fh, 0.1
	for y := 0; y < h; y++ {
		fy := float64(y)
		if y < horizon {
			t := fy / float64(horizon)
			for x := 0; x < w; x++ {
				dx, dy := float64(x)/fh-sunX, fy/fh-sunY
				glow := 1 / (1 + 8*math.Sqrt(dx*dx+dy*dy))
				set(x, y, 90+110*t+40*glow, 140+80*t+30*glow, 200+40*t)
			}
			continue
		}
		t := (fy - float64(horizon)) / (fh - float64(horizon))
		g := 70 + 40*t
		period, line := int(fw/5), int(fw/120)+1
		for x := 0; x < w; x++ {
			if int(float64(x)+fy*0.6)%period < line && fy > float64(horizon)+0.05*fh {
				set(x, y, 215, 210, 190)
			} else {
				set(x, y, g, g, g+4)
			}
		}
	}
	pr, pg, pb := float64(paint.R), float64(paint.G), float64(paint.B)
	// Body: a superellipse.
	for y := int(0.5 * fh); y < int(0.74*fh); y++ {
		by := (float64(y) - 0.62*fh) / (0.11 * fh)
		for x := int(0.13 * fw); x < int(0.87*fw); x++ {
			bx := (float64(x) - 0.5*fw) / (0.36 * fw)
			if bx*bx*bx*bx+by*by*by*by < 1 {
				shade := 1 - 0.25*by
				set(x, y, pr*shade, pg*shade, pb*shade)
			}
		}
	}
	// Cabin and windows.
	for y := int(0.4 * fh); y < int(0.55*fh); y++ {
		cy := (float64(y) - 0.5*fh) / (0.09 * fh)
		if cy <= -1 {
			continue
		}
		for x := int(0.26 * fw); x < int(0.7*fw); x++ {
			cx := (float64(x) - 0.48*fw) / (0.2 * fw)
			slope := 0.35 * math.Max(0, -cy)
			if math.Abs(cx)+slope >= 1 {
				continue
			}
			if math.Abs(cx) < 0.85-slope && cy > -0.8 && cy < 0.6 && math.Abs(cx-0.05) > 0.04 {
				set(x, y, 40+30*cy, 55+30*cy, 70+30*cy) // glass
			} else {
				set(x, y, pr*0.9, pg*0.9, pb*0.9)
			}
		}
	}
	// Wheels.
	r := 0.075 * fw
	for _, wx := range []float64{0.29 * fw, 0.71 * fw} {
		wy := 0.72 * fh
		for y := int(wy - r); y <= int(wy+r) && y < h; y++ {
			for x := int(wx - r); x <= int(wx+r); x++ {
				dx, dy := float64(x)-wx, float64(y)-wy
				switch d := dx*dx + dy*dy; {
				case d < 0.3*r*r:
					set(x, y, 170, 172, 178)
				case d < r*r:
					set(x, y, 25, 25, 28)
				}
			}
		}
	}
	// Film grain, so that the JPEG weighs what a real photo weighs.
	seed := uint32(variant*7919 + 1)
	span := uint32(2*grain + 1)
	for i, p := range img.Pix {
		if i%4 == 3 {
			continue
		}
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		img.Pix[i] = clamp(float64(p) + float64(int(seed%span)-grain))
	}
	return img
}

func clamp(f float64) uint8 {
	switch {
	case f < 0:
		return 0
	case f > 255:
		return 255
	}
	return uint8(f)
}

// makeWebFont returns ~50 KB served as font/woff2. It starts with the WOFF2
// signature but is not a usable font: browsers download it (which is what
// resource blocking is measured on), fail to decode it, and fall back to
// the next font in the stack.
func makeWebFont() []byte {
	b := make([]byte, 51200)
	copy(b, "wOF2\x00\x01\x00\x00")
	x := uint64(0x646561_6c6572) // "dealer"
	for i := 8; i < len(b); i++ {
		x = splitmix(x)
		b[i] = byte(x)
	}
	return b
}

// makeVendorCSS returns a minified utility stylesheet of ~35 KB, like the
// CSS framework a real portal ships.
func makeVendorCSS() []byte {
	var b bytes.Buffer
	b.WriteString("/*! dealer-ui v3.4.1 | utilities | generated */\n")
	space := []int{0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 56, 64}
	props := []struct{ name, css string }{
		{"m", "margin"}, {"mt", "margin-top"}, {"mr", "margin-right"}, {"mb", "margin-bottom"}, {"ml", "margin-left"},
		{"p", "padding"}, {"pt", "padding-top"}, {"pr", "padding-right"}, {"pb", "padding-bottom"}, {"pl", "padding-left"},
		{"gap", "gap"}, {"w", "width"}, {"h", "height"}, {"min-w", "min-width"}, {"max-w", "max-width"},
	}
	for _, bp := range []struct{ prefix, media string }{{"", ""}, {"sm\\:", "640px"}, {"md\\:", "900px"}} {
		if bp.media != "" {
			fmt.Fprintf(&b, "@media (min-width:%s){", bp.media)
		}
		for _, p := range props {
			for _, s := range space {
				fmt.Fprintf(&b, ".%s%s-%d{%s:%grem}", bp.prefix, p.name, s, p.css, float64(s)/4)
			}
		}
		for i := 1; i <= 12; i++ {
			fmt.Fprintf(&b, ".%sgrid-cols-%d{grid-template-columns:repeat(%d,minmax(0,1fr))}.%scol-span-%d{grid-column:span %d/span %d}",
				bp.prefix, i, i, bp.prefix, i, i, i)
		}
		if bp.media != "" {
			b.WriteString("}")
		}
	}
	hues := []struct {
		name string
		h    int
	}{{"slate", 215}, {"gray", 220}, {"red", 0}, {"orange", 25}, {"amber", 40}, {"green", 140}, {"teal", 175}, {"blue", 215}, {"indigo", 235}, {"violet", 265}}
	for _, hue := range hues {
		for i, shade := range []int{50, 100, 200, 300, 400, 500, 600, 700, 800, 900} {
			l := 97 - i*9
			fmt.Fprintf(&b, ".text-%s-%d{color:hsl(%d 70%% %d%%)}.bg-%s-%d{background-color:hsl(%d 70%% %d%%)}.border-%s-%d{border-color:hsl(%d 70%% %d%%)}",
				hue.name, shade, hue.h, l, hue.name, shade, hue.h, l, hue.name, shade, hue.h, l)
		}
	}
	for _, s := range []struct {
		name string
		rem  float64
	}{{"xs", .75}, {"sm", .875}, {"base", 1}, {"lg", 1.125}, {"xl", 1.25}, {"2xl", 1.5}, {"3xl", 1.875}, {"4xl", 2.25}} {
		fmt.Fprintf(&b, ".text-%s{font-size:%grem;line-height:%grem}", s.name, s.rem, s.rem*1.5)
	}
	b.WriteString(".flex{display:flex}.inline-flex{display:inline-flex}.grid{display:grid}.block{display:block}.hidden{display:none}" +
		".items-center{align-items:center}.items-start{align-items:flex-start}.justify-between{justify-content:space-between}" +
		".justify-center{justify-content:center}.flex-wrap{flex-wrap:wrap}.flex-1{flex:1 1 0%}.font-bold{font-weight:700}" +
		".font-semibold{font-weight:600}.uppercase{text-transform:uppercase}.truncate{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}" +
		".rounded{border-radius:.25rem}.rounded-lg{border-radius:.5rem}.shadow{box-shadow:0 1px 3px rgba(0,0,0,.1),0 1px 2px rgba(0,0,0,.06)}" +
		".sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}\n")
	return b.Bytes()
}

func sincosDeg(deg float64) (sin, cos float64) { return math.Sincos(deg * math.Pi / 180) }
