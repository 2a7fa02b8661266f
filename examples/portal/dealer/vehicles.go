package dealer

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Vehicle is one car in the inventory. Everything in it is generated
// deterministically from [Config.Seed] and its position in the inventory.
// Money is in whole US dollars.
type Vehicle struct {
	ID            int      `json:"id"`             // 1..Config.Vehicles; the {id} in /vehicle/{id}
	VIN           string   `json:"vin"`            // 17 characters, valid check digit, capitals (the site may show it in lower case: Config.LowercaseVINs)
	Year          int      `json:"year"`           // model year
	Make          string   `json:"make"`           // e.g. "Ford"
	Model         string   `json:"model"`          // e.g. "F-150"
	Trim          string   `json:"trim"`           // e.g. "XLT"
	Body          string   `json:"body"`           // e.g. "Crew Cab Pickup"
	StockNumber   string   `json:"stock_number"`   // unique, e.g. "F10234"
	Engine        string   `json:"engine"`         // e.g. "2.7L EcoBoost V6"
	Transmission  string   `json:"transmission"`   // e.g. "10-Speed Automatic"
	Drivetrain    string   `json:"drivetrain"`     // "FWD", "RWD", "AWD" or "4WD"
	ExteriorColor string   `json:"exterior_color"` // paint
	InteriorColor string   `json:"interior_color"` // upholstery
	MPGCity       int      `json:"mpg_city"`       // EPA city
	MPGHighway    int      `json:"mpg_highway"`    // EPA highway
	BaseMSRP      int      `json:"base_msrp"`      // base price of the trim
	Options       []Option `json:"options"`        // optional equipment on this vehicle
	Destination   int      `json:"destination"`    // destination charge
	MSRP          int      `json:"msrp"`           // BaseMSRP + options + Destination
	Price         int      `json:"price"`          // the dealer's asking price
}

// Option is a line of optional equipment on the window sticker.
type Option struct {
	Name  string `json:"name"`
	Price int    `json:"price"`
}

// Title is "Year Make Model Trim", as on the vehicle page.
func (v Vehicle) Title() string {
	return fmt.Sprintf("%d %s %s %s", v.Year, v.Make, v.Model, v.Trim)
}

// Path is the vehicle page: "/vehicle/{id}".
func (v Vehicle) Path() string { return "/vehicle/" + strconv.Itoa(v.ID) }

// StickerPath is the window sticker: "/vehicle/{id}/sticker.pdf".
func (v Vehicle) StickerPath() string { return v.Path() + "/sticker.pdf" }

// PreparePath is where [StickerPrepare] mode POSTs first:
// "/vehicle/{id}/sticker/prepare".
func (v Vehicle) PreparePath() string { return v.Path() + "/sticker/prepare" }

// ValidVIN reports whether vin is 17 characters from the VIN alphabet
// (digits and capital letters but I, O and Q) with a correct check digit in
// position 9, as North American VINs have.
func ValidVIN(vin string) bool {
	if len(vin) != 17 {
		return false
	}
	for i := 0; i < 17; i++ {
		if vinValue(vin[i]) < 0 {
			return false
		}
	}
	return vinCheckDigit(vin) == vin[8]
}

var vinWeights = [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}

// vinValue is the transliteration of one VIN character, -1 if not allowed.
func vinValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c == 'I', c == 'O', c == 'Q':
		return -1
	case c >= 'A' && c <= 'H':
		return int(c-'A') + 1
	case c >= 'J' && c <= 'R':
		return int(c-'J') + 1
	case c >= 'S' && c <= 'Z':
		return int(c-'S') + 2
	}
	return -1
}

// vinCheckDigit computes position 9 of vin (whatever is there now is ignored).
func vinCheckDigit(vin string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		if i == 8 {
			continue
		}
		sum += vinValue(vin[i]) * vinWeights[i]
	}
	if r := sum % 11; r < 10 {
		return byte('0' + r)
	}
	return 'X'
}

// vinYear is the model year code of position 10: from 2010, A–Y without
// I, O, Q, U and Z, then 1–9, then the 30-year cycle repeats.
func vinYear(year int) byte {
	const codes = "ABCDEFGHJKLMNPRSTVWXY123456789"
	return codes[(year-2010)%len(codes)]
}

const vinChars = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"

type modelSpec struct {
	make, model, wmi, body string
	trims                  []trimSpec
	engines                []string
	transmissions          []string
	drivetrains            []string
	mpg                    [2]int // city, highway for the first engine
	options                []Option
	destination            int
}

type trimSpec struct {
	name string
	base int
}

var catalog = []modelSpec{
	{make: "Ford", model: "F-150", wmi: "1FT", body: "SuperCrew Pickup", destination: 1995,
		trims:         []trimSpec{{"XL", 38810}, {"STX", 43380}, {"XLT", 49710}, {"Lariat", 64395}, {"King Ranch", 73100}, {"Platinum", 75245}},
		engines:       []string{"2.7L EcoBoost V6", "5.0L Ti-VCT V8", "3.5L EcoBoost V6", "3.5L PowerBoost Full Hybrid V6"},
		transmissions: []string{"10-Speed Automatic"}, drivetrains: []string{"4WD", "RWD"}, mpg: [2]int{19, 25},
		options: []Option{{"Trailer Tow Package", 1295}, {"FX4 Off-Road Package", 995}, {"Twin Panel Moonroof", 1595}, {"Pro Power Onboard 2kW", 995}, {"Spray-In Bedliner", 595}, {"BlueCruise 1 Year", 795}, {"Max Trailer Tow Package", 1145}, {"Tailgate Step", 375}}},
	{make: "Ford", model: "Explorer", wmi: "1FM", body: "Sport Utility", destination: 1595,
		trims:         []trimSpec{{"Active", 40075}, {"ST-Line", 44875}, {"Platinum", 54975}, {"ST", 56475}},
		engines:       []string{"2.3L EcoBoost I4", "3.0L EcoBoost V6"},
		transmissions: []string{"10-Speed Automatic"}, drivetrains: []string{"RWD", "4WD"}, mpg: [2]int{20, 27},
		options: []Option{{"Twin Panel Moonroof", 1995}, {"Class III Trailer Tow Package", 695}, {"Co-Pilot360 Assist+", 1095}, {"2nd Row Captain's Chairs", 695}, {"B&O Sound System", 995}}},
	{make: "Ford", model: "Mustang", wmi: "1FA", body: "Coupe", destination: 1595,
		trims:         []trimSpec{{"EcoBoost", 31920}, {"EcoBoost Premium", 37920}, {"GT", 44090}, {"GT Premium", 50090}, {"Dark Horse", 60865}},
		engines:       []string{"2.3L EcoBoost I4", "5.0L Coyote V8"},
		transmissions: []string{"10-Speed Automatic", "6-Speed Manual"}, drivetrains: []string{"RWD"}, mpg: [2]int{21, 32},
		options: []Option{{"Performance Package", 5995}, {"Active Valve Exhaust", 1175}, {"MagneRide Damping", 1695}, {"Recaro Seats", 1595}, {"Bright Exterior Package", 495}}},
	{make: "Chevrolet", model: "Silverado 1500", wmi: "1GC", body: "Crew Cab Pickup", destination: 2095,
		trims:         []trimSpec{{"WT", 38000}, {"Custom", 45300}, {"LT", 51400}, {"RST", 55600}, {"LTZ", 61800}, {"High Country", 67400}},
		engines:       []string{"2.7L TurboMax I4", "5.3L EcoTec3 V8", "6.2L EcoTec3 V8", "3.0L Duramax Turbo-Diesel I6"},
		transmissions: []string{"8-Speed Automatic", "10-Speed Automatic"}, drivetrains: []string{"4WD", "RWD"}, mpg: [2]int{18, 23},
		options: []Option{{"Z71 Off-Road Package", 1195}, {"Technology Package", 2640}, {"Max Trailering Package", 575}, {"Power Sunroof", 1095}, {"Multi-Flex Tailgate", 445}, {"Chevy Safety Assist Plus", 890}}},
	{make: "Chevrolet", model: "Equinox", wmi: "3GN", body: "Sport Utility", destination: 1495,
		trims:         []trimSpec{{"LT", 28600}, {"RS", 32300}, {"ACTIV", 33800}},
		engines:       []string{"1.5L Turbo I4"},
		transmissions: []string{"CVT", "8-Speed Automatic"}, drivetrains: []string{"FWD", "AWD"}, mpg: [2]int{26, 31},
		options: []Option{{"Driver Confidence Package", 595}, {"Sun and Sound Package", 1495}, {"Convenience Package", 745}, {"Trailering Package", 425}}},
	{make: "Chevrolet", model: "Tahoe", wmi: "1GN", body: "Sport Utility", destination: 2095,
		trims:         []trimSpec{{"LS", 58200}, {"LT", 64800}, {"RST", 67900}, {"Z71", 70500}, {"Premier", 75900}, {"High Country", 82700}},
		engines:       []string{"5.3L EcoTec3 V8", "6.2L EcoTec3 V8", "3.0L Duramax Turbo-Diesel I6"},
		transmissions: []string{"10-Speed Automatic"}, drivetrains: []string{"4WD", "RWD"}, mpg: [2]int{15, 20},
		options: []Option{{"Luxury Package", 2595}, {"Max Trailering Package", 495}, {"Panoramic Sunroof", 1495}, {"Rear Media and Navigation", 2490}, {"Air Ride Adaptive Suspension", 1750}}},
	{make: "Toyota", model: "Camry", wmi: "4T1", body: "Sedan", destination: 1135,
		trims:         []trimSpec{{"LE", 28400}, {"SE", 31000}, {"XLE", 34600}, {"XSE", 35400}},
		engines:       []string{"2.5L 4-Cyl Hybrid"},
		transmissions: []string{"ECVT"}, drivetrains: []string{"FWD", "AWD"}, mpg: [2]int{51, 49},
		options: []Option{{"Convenience Package", 1050}, {"Premium Audio with Navigation", 1260}, {"Panoramic Glass Roof", 1200}, {"Cold Weather Package", 350}, {"All-Weather Floor Liners", 169}}},
	{make: "Toyota", model: "RAV4", wmi: "2T3", body: "Sport Utility", destination: 1395,
		trims:         []trimSpec{{"LE", 29800}, {"XLE", 31380}, {"XLE Premium", 34475}, {"Adventure", 36685}, {"TRD Off-Road", 39000}, {"Limited", 38200}},
		engines:       []string{"2.5L 4-Cyl", "2.5L 4-Cyl Hybrid"},
		transmissions: []string{"8-Speed Automatic", "ECVT"}, drivetrains: []string{"AWD", "FWD"}, mpg: [2]int{27, 35},
		options: []Option{{"Weather Package", 455}, {"Premium Audio", 1770}, {"Advanced Technology Package", 1115}, {"Roof Rack Cross Bars", 350}, {"Tow Hitch Receiver", 299}}},
	{make: "Toyota", model: "Tacoma", wmi: "3TM", body: "Double Cab Pickup", destination: 1495,
		trims:         []trimSpec{{"SR", 31500}, {"SR5", 36400}, {"TRD Sport", 39600}, {"TRD Off-Road", 41500}, {"Limited", 52500}, {"TRD Pro", 63900}},
		engines:       []string{"2.4L i-FORCE Turbo I4", "2.4L i-FORCE MAX Hybrid"},
		transmissions: []string{"8-Speed Automatic", "6-Speed Manual"}, drivetrains: []string{"4WD", "RWD"}, mpg: [2]int{20, 26},
		options: []Option{{"Premium Package", 2615}, {"Technology Package", 1380}, {"Bed Step", 275}, {"TRD Skid Plate", 595}, {"Power Moonroof", 1200}}},
	{make: "Honda", model: "Accord", wmi: "1HG", body: "Sedan", destination: 1095,
		trims:         []trimSpec{{"LX", 28295}, {"SE", 30310}, {"Sport Hybrid", 33655}, {"EX-L Hybrid", 34195}, {"Touring Hybrid", 39690}},
		engines:       []string{"1.5L Turbo I4", "2.0L I4 Hybrid"},
		transmissions: []string{"CVT", "ECVT"}, drivetrains: []string{"FWD"}, mpg: [2]int{29, 37},
		options: []Option{{"HPD Package", 1395}, {"Protection Package", 495}, {"Splash Guards", 179}, {"Wireless Charger", 299}}},
	{make: "Honda", model: "CR-V", wmi: "2HK", body: "Sport Utility", destination: 1395,
		trims:         []trimSpec{{"LX", 30100}, {"EX", 32650}, {"Sport Hybrid", 34050}, {"EX-L", 35150}, {"Sport Touring Hybrid", 41550}},
		engines:       []string{"1.5L Turbo I4", "2.0L I4 Hybrid"},
		transmissions: []string{"CVT", "ECVT"}, drivetrains: []string{"AWD", "FWD"}, mpg: [2]int{28, 34},
		options: []Option{{"Adventure Package", 1295}, {"Trailer Hitch", 595}, {"All Season Protection Package", 425}, {"Roof Rails", 395}}},
	{make: "Ram", model: "1500", wmi: "1C6", body: "Crew Cab Pickup", destination: 2095,
		trims:         []trimSpec{{"Tradesman", 40275}, {"Big Horn", 46720}, {"Laramie", 57565}, {"Rebel", 59495}, {"Limited", 74390}, {"Tungsten", 85710}},
		engines:       []string{"3.6L Pentastar V6 eTorque", "3.0L Hurricane I6", "3.0L Hurricane HO I6"},
		transmissions: []string{"8-Speed Automatic"}, drivetrains: []string{"4WD", "RWD"}, mpg: [2]int{17, 24},
		options: []Option{{"Level 2 Equipment Group", 4295}, {"Night Edition", 2495}, {"RamBox Cargo Management", 1095}, {"Multifunction Tailgate", 995}, {"Trailer Tow Group", 495}, {"Dual-Pane Panoramic Sunroof", 1995}}},
	{make: "Jeep", model: "Grand Cherokee", wmi: "1C4", body: "Sport Utility", destination: 1995,
		trims:         []trimSpec{{"Laredo", 40200}, {"Altitude", 43700}, {"Limited", 48700}, {"Overland", 59765}, {"Summit", 65765}},
		engines:       []string{"3.6L Pentastar V6", "2.0L 4xe Plug-In Hybrid"},
		transmissions: []string{"8-Speed Automatic"}, drivetrains: []string{"4WD"}, mpg: [2]int{19, 26},
		options: []Option{{"Advanced ProTech Group", 2995}, {"Off-Road Group", 995}, {"Luxury Tech Group", 1995}, {"Dual-Pane Sunroof", 1795}, {"McIntosh Audio", 1795}}},
	{make: "Hyundai", model: "Santa Fe", wmi: "5NM", body: "Sport Utility", destination: 1395,
		trims:         []trimSpec{{"SE", 34200}, {"SEL", 36600}, {"XRT", 40600}, {"Limited", 45500}, {"Calligraphy", 48200}},
		engines:       []string{"2.5L Turbo I4", "1.6L Turbo Hybrid"},
		transmissions: []string{"8-Speed DCT", "6-Speed Automatic"}, drivetrains: []string{"AWD", "FWD"}, mpg: [2]int{21, 28},
		options: []Option{{"Premium Package", 1800}, {"Carpeted Floor Mats", 210}, {"Cargo Tray", 160}, {"Tow Hitch", 495}}},
	{make: "Subaru", model: "Outback", wmi: "4S4", body: "Wagon", destination: 1420,
		trims:         []trimSpec{{"Base", 29235}, {"Premium", 31835}, {"Onyx Edition", 37140}, {"Limited", 38995}, {"Wilderness", 42335}, {"Touring XT", 44640}},
		engines:       []string{"2.5L BOXER 4-Cyl", "2.4L Turbo BOXER 4-Cyl"},
		transmissions: []string{"Lineartronic CVT"}, drivetrains: []string{"AWD"}, mpg: [2]int{26, 32},
		options: []Option{{"Moonroof Package", 1845}, {"Harman Kardon Audio", 1250}, {"Crossbar Set", 350}, {"Splash Guards", 145}}},
}

var exteriorColors = []string{"Oxford White", "Agate Black Metallic", "Iconic Silver Metallic", "Carbonized Gray Metallic",
	"Rapid Red Metallic", "Atlas Blue Metallic", "Summit White", "Mosaic Black Metallic", "Super Black", "Lunar Rock",
	"Wind Chill Pearl", "Midnight Black Metallic", "Platinum White Pearl", "Sonic Gray Pearl", "Radiant Red",
	"Crystal Black Pearl", "Granite Crystal Metallic", "Diamond Black Crystal", "Bright White", "Cypress Green"}

var interiorColors = []string{"Black Cloth", "Ebony Leather", "Medium Dark Slate", "Light Gray", "Jet Black",
	"Black SofTex", "Boulder Gray", "Sandstone Leather", "Global Black", "Mountain Brown Leather"}

// generateVehicles makes the inventory: n vehicles from seed, always the same.
func generateVehicles(seed int64, n int) []Vehicle {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7069_6e76_656e_746f)) // "inventory"
	out := make([]Vehicle, n)
	for i := range out {
		m := &catalog[rng.IntN(len(catalog))]
		ti := rng.IntN(len(m.trims))
		t := m.trims[ti]
		ei := rng.IntN(len(m.engines))
		v := Vehicle{
			ID:            i + 1,
			Year:          2024 + rng.IntN(3),
			Make:          m.make,
			Model:         m.model,
			Trim:          t.name,
			Body:          m.body,
			Engine:        m.engines[ei],
			Transmission:  m.transmissions[rng.IntN(len(m.transmissions))],
			Drivetrain:    m.drivetrains[rng.IntN(len(m.drivetrains))],
			ExteriorColor: exteriorColors[rng.IntN(len(exteriorColors))],
			InteriorColor: interiorColors[rng.IntN(len(interiorColors))],
			MPGCity:       m.mpg[0] - ei - rng.IntN(2),
			MPGHighway:    m.mpg[1] - ei - rng.IntN(3),
			BaseMSRP:      t.base + 5*rng.IntN(60),
			Destination:   m.destination,
		}
		// Options: a random subset, in catalog order, more on higher trims.
		want := min(len(m.options), 1+ti/2+rng.IntN(3))
		picked := rng.Perm(len(m.options))[:want]
		for j, o := range m.options {
			for _, p := range picked {
				if p == j {
					v.Options = append(v.Options, o)
				}
			}
		}
		v.MSRP = v.BaseMSRP + v.Destination
		for _, o := range v.Options {
			v.MSRP += o.Price
		}
		v.Price = v.MSRP - 100*rng.IntN(v.MSRP/2000+1) - 5
		v.StockNumber = fmt.Sprintf("%c%d%04d", m.make[0], v.Year%10, i+1)
		v.VIN = makeVIN(rng, m.wmi, v.Year, i)
		out[i] = v
	}
	return out
}

// makeVIN builds a VIN: manufacturer prefix, five random descriptor
// characters, the check digit, model year, plant, and a serial made from the
// vehicle's position so that no two vehicles share a VIN.
func makeVIN(rng *rand.Rand, wmi string, year, i int) string {
	var b strings.Builder
	b.WriteString(wmi)
	for range 5 {
		b.WriteByte(vinChars[rng.IntN(len(vinChars))])
	}
	b.WriteByte('0') // check digit placeholder
	b.WriteByte(vinYear(year))
	b.WriteByte("ABCDEFGHJKLMNPRSTUVWXYZ1234567"[rng.IntN(30)])
	fmt.Fprintf(&b, "%06d", 100000+i*37+rng.IntN(37))
	vin := []byte(b.String())
	vin[8] = vinCheckDigit(string(vin))
	return string(vin)
}
