package meta

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOrigin(t *testing.T) {
	f := filepath.Join(xattrDir(t), "f")
	os.WriteFile(f, nil, 0o644)
	if _, ok, err := GetOrigin(f); ok || err != nil {
		t.Fatalf("a file without origin: ok %v err %v", ok, err)
	}
	at := time.Unix(1796000000, 0)
	if err := SetOrigin(f, Origin{Peer: "site-b", At: at}); err != nil {
		t.Fatal(err)
	}
	o, ok, err := GetOrigin(f)
	if !ok || err != nil || o.Peer != "site-b" || !o.At.Equal(at) {
		t.Fatalf("GetOrigin = %+v %v %v", o, ok, err)
	}
	for _, bad := range []Origin{{Peer: ""}, {Peer: "a b"}, {Peer: string(make([]byte, 64))}} {
		if err := SetOrigin(f, bad); !errors.Is(err, ErrBadValue) {
			t.Errorf("SetOrigin(%q) = %v", bad.Peer, err)
		}
	}
}

func FuzzDecodeOrigin(f *testing.F) {
	f.Add([]byte("v1 1796000000 site-b"))
	f.Add([]byte("v1 -1 x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOrigin(b)
		if err != nil {
			return
		}
		enc, err := EncodeOrigin(o)
		if err != nil {
			return // a name Encode refuses (never written by frm)
		}
		if back, err := DecodeOrigin(enc); err != nil || back != o {
			t.Fatalf("round trip %q: %+v -> %+v %v", b, o, back, err)
		}
	})
}
