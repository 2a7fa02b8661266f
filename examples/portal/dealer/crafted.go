package dealer

import (
	"bytes"
	"fmt"
)

// craftedSticker is the sticker of a vehicle in [Config.CraftedVehicles]
// or, with bomb, [Config.PageBombVehicles]: a small PDF that is well
// formed on its face — header, five objects, a correct xref table,
// trailer, %%EOF — and has vin in its content stream (uncompressed), but
// whose page tree is hostile:
//
//   - crafted: the Pages node lists itself among its /Kids, so a reader that
//     walks the tree without remembering where it has been never ends;
//   - bomb: the Pages node claims /Count 1000000000 for its single page,
//     so a reader that trusts /Count allocates or loops a billion times.
func craftedSticker(vin string, bomb bool) []byte {
	content := fmt.Sprintf("BT /F1 18 Tf 72 720 Td (WINDOW STICKER) Tj /F1 12 Tf 0 -30 Td (VIN %s) Tj ET", vin)
	kids, count := "[2 0 R 3 0 R]", "2"
	if bomb {
		kids, count = "[3 0 R]", "1000000000"
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids " + kids + " /Count " + count + " >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		"<< /Title (Window Sticker " + vin + ") /Producer (Summit Motors DealerNet) >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, len(objs), xref)
	return b.Bytes()
}
