package meta

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"
)

func FuzzDecodePin(f *testing.F) {
	for _, s := range []string{
		"000000000002bf20 02 00000000000000 2f746d702f66726d",
		"0000000000000000 01 00000000000000 0000000000000000",
		"0000000072bbba80 04",
		"00",
		"",
		"ffffffffffffffff ff ffffffffffffff",
	} {
		b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePin(b)
		if err != nil {
			if len(b) >= 9 {
				t.Fatalf("DecodePin(%d bytes) failed: %v", len(b), err)
			}
			return
		}
		enc := EncodePin(p)
		if len(enc) != PinSize || !bytes.Equal(enc[:9], b[:9]) || !bytes.Equal(enc[9:], make([]byte, PinSize-9)) {
			t.Fatalf("EncodePin(DecodePin(%x)) = %x", b, enc)
		}
		back, err := DecodePin(enc)
		if err != nil || back != p {
			t.Fatalf("round trip %+v -> %+v, %v", p, back, err)
		}
		// Rendering and policy must not panic on any value.
		now := time.Unix(1764000000, 0)
		_ = p.FindSpec(now, time.UTC)
		_ = p.Expired(now)
		_ = p.Protects(now, now.Add(-time.Hour))
	})
}

func FuzzDecodeChecksum(f *testing.F) {
	good, _ := EncodeChecksum(Checksum{Alg: "adler32", Value: []byte{0x1e, 0x72, 0x04, 0x67}, MTime: 1577836800, Delta: 3})
	f.Add(good)
	md5rec, _ := EncodeChecksum(Checksum{Alg: "md5", Value: bytes.Repeat([]byte{0xab}, 16), MTime: -1, Delta: -7})
	f.Add(md5rec)
	f.Add(make([]byte, 96))
	f.Add(append(good, 1, 2, 3))
	f.Add(good[:50])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeChecksum(b)
		if err != nil {
			return
		}
		if c.Alg == "" || len(c.Alg) > 15 || len(c.Value) < 1 || len(c.Value) > 64 {
			t.Fatalf("DecodeChecksum accepted %+v", c)
		}
		_ = c.Hex()
		enc, err := EncodeChecksum(c)
		if err != nil {
			t.Fatalf("EncodeChecksum(DecodeChecksum(%x)) failed: %v", b, err)
		}
		back, err := DecodeChecksum(enc)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip %+v -> %+v, %v", c, back, err)
		}
		// The meaningful bytes survive; reserved and padding are zeroed.
		if !bytes.Equal(enc[16:31], append(b[16:28:28], 0, 0, 0)) || enc[31] != b[31] {
			t.Fatalf("re-encoded header %x from %x", enc[16:32], b[16:32])
		}
	})
}

func FuzzParseKeep(f *testing.F) {
	for _, s := range []string{
		"forever", "+50h", "+3m", "100m", "10d", "0", "+0", "+", "", "1.5h", "bad",
		"12/31/30", "12/31/2030", "13/40/30", "02/29/2028", "-5", "9223372036854775807",
		"+9223372036854775807s", "1/1/1", "99/99/9999",
	} {
		f.Add(s, int64(1764000000))
	}
	f.Add("10d", int64(9223372036854775000))
	f.Add("5", int64(-9223372036854775808))
	f.Fuzz(func(t *testing.T, spec string, nowSec int64) {
		now := time.Unix(nowSec, 0)
		p, unpin, err := ParseKeep(spec, now, time.UTC)
		if err != nil {
			if p != (Pin{}) || unpin {
				t.Fatalf("ParseKeep(%q) error with non-zero result %+v %v", spec, p, unpin)
			}
			return
		}
		if unpin {
			if p != (Pin{}) {
				t.Fatalf("unpin with pin %+v", p)
			}
			return
		}
		switch p.Flags {
		case PinForever:
			if p.Time != 0 {
				t.Fatalf("forever pin with time %d", p.Time)
			}
		case PinIdle:
			if p.Time <= 0 {
				t.Fatalf("idle pin with time %d from %q", p.Time, spec)
			}
		case PinKeep:
		default:
			t.Fatalf("ParseKeep(%q) flags %d", spec, p.Flags)
		}
		back, err := DecodePin(EncodePin(p))
		if err != nil || back != p {
			t.Fatalf("pin round trip %+v -> %+v, %v", p, back, err)
		}
		s := p.FindSpec(now, time.UTC)
		if p.Flags == PinIdle {
			// An idle pin shows as an idle spec that parses back to an idle
			// pin of at most the same length.
			q, unpin, err := ParseKeep(s, now, time.UTC)
			if err != nil || (!unpin && (q.Flags != PinIdle || q.Time > p.Time)) {
				t.Fatalf("ParseKeep(FindSpec(%+v) = %q) = %+v, %v, %v", p, s, q, unpin, err)
			}
		}
	})
}

func FuzzDecodeBadChecksum(f *testing.F) {
	good, _ := EncodeBadChecksum(BadChecksum{Alg: "adler32", Found: 1800000000, MTime: 1700000000,
		Stored: []byte{0x1e, 0x72, 0x04, 0x67}, Computed: []byte{0x1e, 0x72, 0x04, 0x68}})
	f.Add(good)
	md5rec, _ := EncodeBadChecksum(BadChecksum{Alg: "md5", Found: -1, MTime: -2,
		Stored: bytes.Repeat([]byte{0xab}, 16), Computed: bytes.Repeat([]byte{0xcd}, 16)})
	f.Add(md5rec)
	f.Add(make([]byte, BadChecksumSize))
	f.Add(append(good, 9, 9))
	f.Add(good[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeBadChecksum(b)
		if err != nil {
			return
		}
		if m.Alg == "" || len(m.Alg) >= ChecksumNameSize || len(m.Stored) < 1 || len(m.Stored) > ChecksumValueMax ||
			len(m.Computed) < 1 || len(m.Computed) > ChecksumValueMax {
			t.Fatalf("DecodeBadChecksum accepted %+v", m)
		}
		_ = m.String()
		enc, err := EncodeBadChecksum(m)
		if err != nil {
			t.Fatalf("EncodeBadChecksum(DecodeBadChecksum(%x)) failed: %v", b, err)
		}
		back, err := DecodeBadChecksum(enc)
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip %+v -> %+v, %v", m, back, err)
		}
		// The meaningful header bytes survive (reserved and padding are
		// zeroed).
		if !bytes.Equal(enc[:1], b[:1]) || !bytes.Equal(enc[18:36], b[18:36]) {
			t.Fatalf("re-encoded header %x from %x", enc[:36], b[:36])
		}
	})
}
