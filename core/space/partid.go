package space

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// IDFile is the file in a partition's directory that names the
// partition: a random identifier written once. Hosts that mount the same
// partition read the same identifier; partitions at the same path on
// different hosts' own disks have different ones. That is what tells a
// shared partition from a look-alike, where paths, devices and file
// system ids cannot.
const IDFile = ".frm-partition-id"

// PartitionID returns the identifier of partition directory dir, creating
// it on first use. Concurrent first uses (two hosts on a shared mount)
// agree: the identifier is linked into place, and the loser reads the
// winner's.
func PartitionID(dir string) (string, error) {
	path := filepath.Join(dir, IDFile)
	if id, err := readID(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	tmp, err := os.CreateTemp(dir, IDFile+".tmp*")
	if err != nil {
		return "", fmt.Errorf("partition id for %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(id + "\n"); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("partition id for %s: %w", dir, err)
	}
	// link fails if the file exists: never replace an identifier.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("partition id for %s: %w", dir, err)
	}
	return readID(path)
}

func readID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%s: not a partition id (%q); remove it to have a new one made", path, id)
	}
	return id, nil
}
