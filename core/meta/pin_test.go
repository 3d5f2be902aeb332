package meta

import (
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 22, 6, 27, 40, 0, time.UTC)

func utcDate(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
}

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("time zone Europe/Berlin not available: %v", err)
	}
	return loc
}

func TestParseKeep(t *testing.T) {
	now := testNow.Unix()
	tests := []struct {
		spec  string
		want  Pin
		unpin bool
		err   string
	}{
		{spec: "forever", want: Pin{Flags: PinForever}},
		// idle pins
		{spec: "+50h", want: Pin{Flags: PinIdle, Time: 180000}},
		{spec: "+3m", want: Pin{Flags: PinIdle, Time: 180}},
		{spec: "+10", want: Pin{Flags: PinIdle, Time: 10}},
		{spec: "+10s", want: Pin{Flags: PinIdle, Time: 10}},
		{spec: "+1D", want: Pin{Flags: PinIdle, Time: 86400}},
		{spec: "+2H", want: Pin{Flags: PinIdle, Time: 7200}},
		{spec: "+5M", want: Pin{Flags: PinIdle, Time: 300}},
		// keep for a while: absolute now + N
		{spec: "100m", want: Pin{Flags: PinKeep, Time: now + 6000}},
		{spec: "10d", want: Pin{Flags: PinKeep, Time: now + 864000}},
		{spec: "5S", want: Pin{Flags: PinKeep, Time: now + 5}},
		{spec: "7", want: Pin{Flags: PinKeep, Time: now + 7}},
		{spec: "007h", want: Pin{Flags: PinKeep, Time: now + 7*3600}},
		// unpin
		{spec: "0", unpin: true},
		{spec: "+0", unpin: true},
		{spec: "0h", unpin: true},
		{spec: "+00d", unpin: true},
		// dates: local (here UTC) midnight; 2-digit years as strptime %y
		{spec: "12/31/30", want: Pin{Flags: PinKeep, Time: utcDate(2030, 12, 31)}},
		{spec: "12/31/2030", want: Pin{Flags: PinKeep, Time: utcDate(2030, 12, 31)}},
		{spec: "1/5/69", want: Pin{Flags: PinKeep, Time: utcDate(1969, 1, 5)}},
		{spec: "01/05/99", want: Pin{Flags: PinKeep, Time: utcDate(1999, 1, 5)}},
		{spec: "01/01/00", want: Pin{Flags: PinKeep, Time: utcDate(2000, 1, 1)}},
		{spec: "01/01/68", want: Pin{Flags: PinKeep, Time: utcDate(2068, 1, 1)}},
		{spec: "6/1/5", want: Pin{Flags: PinKeep, Time: utcDate(2005, 6, 1)}},
		{spec: "02/29/2028", want: Pin{Flags: PinKeep, Time: utcDate(2028, 2, 29)}},
		{spec: "02/29/00", want: Pin{Flags: PinKeep, Time: utcDate(2000, 2, 29)}},
		// errors, with xrootd's wording
		{spec: "+", err: "keep time value not specified"},
		{spec: "", err: "keep time value not specified"},
		{spec: "1.5h", err: "keep time 1.5h is not a number"},
		{spec: "bad", err: "keep time bad is not a number"},
		{spec: "+bad", err: "keep time bad is not a number"},
		{spec: "+1.5h", err: "keep time 1.5h is not a number"},
		{spec: "h", err: "keep time h is not a number"},
		{spec: "5x", err: "keep time 5x is not a number"},
		{spec: "5hh", err: "keep time 5hh is not a number"},
		{spec: " 5", err: "keep time  5 is not a number"},
		{spec: "++5", err: "keep time +5 is not a number"},
		{spec: "Forever", err: "keep time Forever is not a number"},
		{spec: "-5", err: "keep time -5 may not be less than 0"},
		{spec: "+-5h", err: "keep time -5h may not be less than 0"},
		{spec: "-", err: "keep time - is not a number"},
		{spec: "99999999999999999999", err: "keep time 99999999999999999999 is not a number"},
		{spec: "9223372036854775807d", err: "keep time 9223372036854775807d is not a number"},
		{spec: "9223372036854775807", err: "keep time 9223372036854775807 is not a number"}, // now+N overflows
		{spec: "13/40/30", err: "Invalid pin keep date - 13/40/30"},
		{spec: "00/10/30", err: "Invalid pin keep date - 00/10/30"},
		{spec: "02/29/2027", err: "Invalid pin keep date - 02/29/2027"},
		{spec: "04/31/30", err: "Invalid pin keep date - 04/31/30"},
		{spec: "12/00/30", err: "Invalid pin keep date - 12/00/30"},
		{spec: "12/31/203", err: "Invalid pin keep date - 12/31/203"},
		{spec: "12/31/20300", err: "Invalid pin keep date - 12/31/20300"},
		{spec: "12/31", err: "Invalid pin keep date - 12/31"},
		{spec: "12//30", err: "Invalid pin keep date - 12//30"},
		{spec: "012/31/30", err: "Invalid pin keep date - 012/31/30"},
		{spec: "12/31/30/1", err: "Invalid pin keep date - 12/31/30/1"},
		{spec: "12/31/30x", err: "Invalid pin keep date - 12/31/30x"},
		{spec: "+12/31/30", err: "Invalid pin keep date - +12/31/30"},
		{spec: "a/b/c", err: "Invalid pin keep date - a/b/c"},
		{spec: "/", err: "Invalid pin keep date - /"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			p, unpin, err := ParseKeep(tc.spec, testNow, time.UTC)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("ParseKeep(%q) = %+v, %v, %v; want error %q", tc.spec, p, unpin, err, tc.err)
				}
				if p != (Pin{}) || unpin {
					t.Errorf("error result not zero: %+v, %v", p, unpin)
				}
				return
			}
			if err != nil || p != tc.want || unpin != tc.unpin {
				t.Fatalf("ParseKeep(%q) = %+v, %v, %v; want %+v, %v", tc.spec, p, unpin, err, tc.want, tc.unpin)
			}
		})
	}
}

func TestParseKeepLocalMidnightDST(t *testing.T) {
	loc := berlin(t)
	tests := []struct {
		spec string
		want time.Time
	}{
		// winter: CET, UTC+1
		{"12/31/30", time.Date(2030, 12, 30, 23, 0, 0, 0, time.UTC)},
		{"01/15/2027", time.Date(2027, 1, 14, 23, 0, 0, 0, time.UTC)},
		// the day DST starts (02:00 -> 03:00): midnight is still CET
		{"03/29/2026", time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC)},
		// the day after: CEST, UTC+2
		{"03/30/2026", time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC)},
		{"07/01/26", time.Date(2026, 6, 30, 22, 0, 0, 0, time.UTC)},
		// the day DST ends (03:00 -> 02:00): midnight is still CEST
		{"10/25/2026", time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC)},
		{"10/26/2026", time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		p, unpin, err := ParseKeep(tc.spec, testNow, loc)
		if err != nil || unpin || p.Flags != PinKeep || p.Time != tc.want.Unix() {
			t.Errorf("ParseKeep(%q, Berlin) = %+v (%v), %v, %v; want %v", tc.spec, p,
				time.Unix(p.Time, 0).In(loc), unpin, err, tc.want.In(loc))
		}
		// find pinned shows the same local date back (all are > 7 days away
		// from a "now" long before them).
		longBefore := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		wantSpec := tc.want.In(loc).Format("01/02/2006")
		if got := p.FindSpec(longBefore, loc); got != wantSpec {
			t.Errorf("FindSpec(ParseKeep(%q)) = %q, want %q", tc.spec, got, wantSpec)
		}
	}
}

func TestFindSpec(t *testing.T) {
	now := testNow.Unix()
	const week = 7 * 86400
	idle := func(s int64) Pin { return Pin{Flags: PinIdle, Time: s} }
	keep := func(left int64) Pin { return Pin{Flags: PinKeep, Time: now + left} }
	tests := []struct {
		name string
		pin  Pin
		want string
	}{
		{"forever", Pin{Flags: PinForever}, "forever"},
		{"forever with time", Pin{Flags: PinForever, Time: 99}, "forever"},
		{"forever beats keep", Pin{Flags: PinForever | PinKeep, Time: 1}, "forever"},
		// reference §6.3 examples
		{"+3m", idle(180), "+180s"},
		{"+100m", idle(6000), "+1h"},
		{"+2h", idle(7200), "+2h"},
		{"+1d", idle(86400), "+24h"},
		{"+46h", idle(46 * 3600), "+1d"},
		{"+50h", idle(180000), "+2d"},
		{"keep 100m", keep(6000), "1h"},
		{"keep 50h", keep(180000), "2d"},
		// boundaries
		{"+1s", idle(1), "+1s"},
		{"+181s", idle(181), "+3m"},
		{"+90m59s", idle(90*60 + 59), "+90m"},
		{"+91m", idle(91 * 60), "+1h"},
		{"+45h59m", idle(45*3600 + 3599), "+45h"},
		{"+10d", idle(864000), "+10d"},
		{"keep 5s", keep(5), "5s"},
		{"keep 1s", keep(1), "1s"},
		{"keep exactly a week", keep(week), "7d"},
		{"keep a week and a second", keep(week + 1), "11/29/2026"},
		{"keep 10d", keep(864000), "12/02/2026"},
		{"keep date", Pin{Flags: PinKeep, Time: utcDate(2030, 12, 31)}, "12/31/2030"},
		{"keep far future", Pin{Flags: PinKeep, Time: utcDate(12345, 6, 7)}, "06/07/12345"},
		// not shown
		{"keep expired", keep(0), ""},
		{"keep long expired", keep(-86400), ""},
		{"no flags", Pin{Time: 5}, ""},
		{"unknown flag", Pin{Flags: 8, Time: 5}, ""},
	}
	for _, tc := range tests {
		if got := tc.pin.FindSpec(testNow, time.UTC); got != tc.want {
			t.Errorf("%s: FindSpec(%+v) = %q, want %q", tc.name, tc.pin, got, tc.want)
		}
	}

	// The date is local to loc: 23:30 UTC on Dec 31 is already Jan 1 in Berlin.
	loc := berlin(t)
	p := Pin{Flags: PinKeep, Time: time.Date(2030, 12, 31, 23, 30, 0, 0, time.UTC).Unix()}
	if got := p.FindSpec(testNow, loc); got != "01/01/2031" {
		t.Errorf("FindSpec(Berlin) = %q, want 01/01/2031", got)
	}
	if got := p.FindSpec(testNow, time.UTC); got != "12/31/2030" {
		t.Errorf("FindSpec(UTC) = %q, want 12/31/2030", got)
	}
}

func TestParseKeepFindSpecRoundTrip(t *testing.T) {
	// What pin -k sets, find pinned shows as a spec pin -k accepts again.
	tests := map[string]string{
		"forever":    "forever",
		"+3m":        "+180s",
		"+100m":      "+1h",
		"+2h":        "+2h",
		"+1d":        "+24h",
		"+46h":       "+1d",
		"+50h":       "+2d",
		"100m":       "1h",
		"50h":        "2d",
		"10d":        "12/02/2026",
		"12/31/2030": "12/31/2030",
		"12/31/30":   "12/31/2030",
	}
	for spec, want := range tests {
		p, unpin, err := ParseKeep(spec, testNow, time.UTC)
		if err != nil || unpin {
			t.Fatalf("ParseKeep(%q) = %v, %v", spec, unpin, err)
		}
		got := p.FindSpec(testNow, time.UTC)
		if got != want {
			t.Errorf("FindSpec(ParseKeep(%q)) = %q, want %q", spec, got, want)
		}
		if _, _, err := ParseKeep(got, testNow, time.UTC); err != nil {
			t.Errorf("ParseKeep(FindSpec) %q: %v", got, err)
		}
	}
}

func TestExpiredAndProtects(t *testing.T) {
	now := testNow
	n := now.Unix()
	recent := now.Add(-10 * time.Minute) // accessed 600 s ago
	old := now.Add(-48 * time.Hour)
	tests := []struct {
		name    string
		pin     Pin
		atime   time.Time
		expired bool
		protect bool
	}{
		{"no pin", Pin{}, recent, false, false},
		{"forever", Pin{Flags: PinForever}, old, false, true},
		{"forever with stale keep bit", Pin{Flags: PinForever | PinKeep, Time: 1}, old, false, true},
		{"keep future", Pin{Flags: PinKeep, Time: n + 1}, old, false, true},
		{"keep now", Pin{Flags: PinKeep, Time: n}, recent, true, false},
		{"keep past", Pin{Flags: PinKeep, Time: n - 3600}, recent, true, false},
		{"idle, accessed within", Pin{Flags: PinIdle, Time: 601}, recent, false, true},
		{"idle, exactly idle time", Pin{Flags: PinIdle, Time: 600}, recent, false, false},
		{"idle, gone idle", Pin{Flags: PinIdle, Time: 3600}, old, false, false},
		{"idle never expires", Pin{Flags: PinIdle, Time: 1}, old, false, false},
		{"keep past but idle within", Pin{Flags: PinKeep | PinIdle, Time: 700}, recent, true, true},
	}
	for _, tc := range tests {
		if got := tc.pin.Expired(now); got != tc.expired {
			t.Errorf("%s: Expired = %v, want %v", tc.name, got, tc.expired)
		}
		if got := tc.pin.Protects(now, tc.atime); got != tc.protect {
			t.Errorf("%s: Protects = %v, want %v", tc.name, got, tc.protect)
		}
	}
}
