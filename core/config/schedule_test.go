package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, loc)
	for _, tc := range []struct {
		in   string
		next time.Time
		err  string
	}{
		{"1h", now.Add(time.Hour), ""},
		{"15m", now.Add(15 * time.Minute), ""},
		{"03:30", time.Date(2026, 12, 7, 3, 30, 0, 0, loc), ""},
		{"10:00", time.Date(2026, 12, 7, 10, 0, 0, 0, loc), ""},
		{"23:59", time.Date(2026, 12, 6, 23, 59, 0, 0, loc), ""},
		{"10s", time.Time{}, "at least 1m"},
		{"24:00", time.Time{}, "HH:MM"},
		{"3:5", time.Time{}, "HH:MM"},
		{"daily", time.Time{}, "an interval"},
	} {
		s, err := ParseSchedule(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !s.Next(now).Equal(tc.next) {
			t.Errorf("%q: next %v %v, want %v", tc.in, s.Next(now), err, tc.next)
		}
	}
}

func TestScheduleNext(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		s    string
		want time.Time
	}{
		{"24h", now.Add(24 * time.Hour)},
		{"03:30", time.Date(2026, 12, 7, 3, 30, 0, 0, time.UTC)},
		{"10:30", time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)},
		{"10:00", time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)},
	} {
		s, err := ParseSchedule(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Next(now); !got.Equal(tc.want) {
			t.Errorf("%s: next %v, want %v", tc.s, got, tc.want)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"1h", "03:30", "23:59", "15m", "1d", "24:00", "3:5", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseSchedule(s)
		if err != nil {
			return
		}
		next := sc.Next(now)
		if !next.After(now) || next.Sub(now) > max(sc.Every, 24*time.Hour) {
			t.Fatalf("%q: next %v after %v", s, next, now)
		}
	})
}
