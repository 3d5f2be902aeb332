package units

import "testing"

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 1000: "1000", 1023: "1023", -4000: "-4000", 1024: "1.0K", 2100: "2.0K", 4000: "3.9K",
		1048575: "1023.9K", 1 << 20: "1.0M", 270_479_601_664: "251.9G", 5 << 40: "5.0T", 1<<63 - 1: "8388607.9T",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
