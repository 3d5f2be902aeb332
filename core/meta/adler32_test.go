package meta

import (
	"bytes"
	"hash/adler32"
	"math/rand/v2"
	"testing"
)

// TestAdler32MatchesStdlib: the fast Adler-32 gives hash/adler32's value
// for every length around the block (64) and reduction (5552) sizes, for
// the worst case of the bounds (all 0xff), and however the input is split
// between writes.
func TestAdler32MatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 3*adlerNMax+200)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := map[string][]byte{
		"random": random,
		"0xff":   bytes.Repeat([]byte{0xff}, 3*adlerNMax+200),
		"zeros":  make([]byte, 3*adlerNMax+200),
	}
	var lengths []int
	for n := 0; n <= 200; n++ {
		lengths = append(lengths, n)
	}
	for _, base := range []int{adlerNMax, 2 * adlerNMax, 3 * adlerNMax} {
		for d := -70; d <= 70; d++ {
			lengths = append(lengths, base+d)
		}
	}
	for name, in := range inputs {
		for _, n := range lengths {
			want := adler32.Checksum(in[:n])
			h := NewAdler32()
			h.Write(in[:n])
			if got := h.Sum32(); got != want {
				t.Fatalf("%s, %d bytes: %08x, want %08x", name, n, got, want)
			}
			// Split in three at places that cut blocks and reductions.
			a, b := n/3, n/3+rng.IntN(n-n/3+1)
			h.Reset()
			h.Write(in[:a])
			h.Write(in[a:b])
			h.Write(in[b:n])
			if got := h.Sum32(); got != want {
				t.Fatalf("%s, %d bytes split at %d, %d: %08x, want %08x", name, n, a, b, got, want)
			}
		}
	}
	// A long input, well past many reductions.
	big := bytes.Repeat(random, 40)
	h := NewAdler32()
	h.Write(big)
	if got, want := h.Sum(nil), binaryBE(adler32.Checksum(big)); !bytes.Equal(got, want) {
		t.Fatalf("long input: %x, want %x", got, want)
	}
}

func binaryBE(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func FuzzAdler32(f *testing.F) {
	f.Add([]byte("hello world\n"), 5)
	f.Add(bytes.Repeat([]byte{0xff}, 6000), 64)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		h := NewAdler32()
		if split < 0 {
			split = -split
		}
		split %= len(b) + 1
		h.Write(b[:split])
		h.Write(b[split:])
		if got, want := h.Sum32(), adler32.Checksum(b); got != want {
			t.Fatalf("%d bytes split at %d: %08x, want %08x", len(b), split, got, want)
		}
	})
}

func BenchmarkAdler32(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, c := range []struct {
		name string
		h    func() interface{ Write([]byte) (int, error) }
	}{
		{"frm", func() interface{ Write([]byte) (int, error) } { return NewAdler32() }},
		{"stdlib", func() interface{ Write([]byte) (int, error) } { return adler32.New() }},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := c.h()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				h.Write(buf)
			}
		})
	}
}
