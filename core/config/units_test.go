package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"0", 0, false},
		{"600", 600 * time.Second, false},
		{"45s", 45 * time.Second, false},
		{"45S", 45 * time.Second, false},
		{"10m", 10 * time.Minute, false},
		{"10M", 10 * time.Minute, false},
		{"3h", 3 * time.Hour, false},
		{"2d", 48 * time.Hour, false},
		{"2D", 48 * time.Hour, false},
		{" 7 ", 7 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"1.5h", 90 * time.Minute, false},
		{"250ms", 250 * time.Millisecond, false},
		{"", 0, true},
		{"abc", 0, true},
		{"-5", 0, true},
		{"-1h", 0, true},
		{"5x", 0, true},
		{"d", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999999999d", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{90 * time.Second, "90s"},
		{10 * time.Minute, "10m"},
		{3 * time.Hour, "3h"},
		{40 * time.Hour, "40h"},
		{48 * time.Hour, "2d"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tc := range tests {
		b, err := Duration(tc.d).MarshalText()
		if err != nil || string(b) != tc.want {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", tc.d, b, err, tc.want)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || time.Duration(back) != tc.d {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, time.Duration(back), err, tc.d)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false},
		{"4096", 4096, false},
		{"10k", 10 << 10, false},
		{"10K", 10 << 10, false},
		{"5m", 5 << 20, false},
		{"2g", 2 << 30, false},
		{"1t", 1 << 40, false},
		{"1T", 1 << 40, false},
		{"", 0, true},
		{"g", 0, true},
		{"1.5g", 0, true},
		{"-1", 0, true},
		{"10kb", 0, true},
		{"99999999t", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseSize(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestSizeText(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"}, {1000, "1000"}, {1024, "1k"}, {1536, "1536"}, {5 << 20, "5m"},
		{3 << 30, "3g"}, {2 << 40, "2t"}, {1<<40 + 1<<30, "1025g"},
	}
	for _, tc := range tests {
		b, _ := Size(tc.n).MarshalText()
		if string(b) != tc.want {
			t.Errorf("Size(%d) = %q, want %q", tc.n, b, tc.want)
		}
		var back Size
		if err := back.UnmarshalText(b); err != nil || int64(back) != tc.n {
			t.Errorf("round trip of %d via %q gave %d, %v", tc.n, b, back, err)
		}
	}
}

func TestParseWatermark(t *testing.T) {
	tests := []struct {
		in    string
		pct   float64
		bytes int64
		isPct bool
		bad   bool
	}{
		{"5%", 5, 0, true, false},
		{"2.5%", 2.5, 0, true, false},
		{"100%", 100, 0, true, false},
		{"0%", 0, 0, true, false},
		{"100g", 0, 100 << 30, false, false},
		{"4096", 0, 4096, false, false},
		{"101%", 0, 0, true, true},
		{"-1%", 0, 0, true, true},
		{"%", 0, 0, true, true},
		{"x%", 0, 0, true, true},
		{"nan%", 0, 0, true, true},
		{"lots", 0, 0, false, true},
	}
	for _, tc := range tests {
		p, b, isPct, err := ParseWatermark(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseWatermark(%q) accepted", tc.in)
			}
			continue
		}
		if err != nil || p != tc.pct || b != tc.bytes || isPct != tc.isPct {
			t.Errorf("ParseWatermark(%q) = %v %v %v %v", tc.in, p, b, isPct, err)
		}
	}
}
