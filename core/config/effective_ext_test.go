package config_test

import (
	"testing"

	"frm/core/config"
	"frm/core/mss"
)

// TestDefaultS3PartSizeMatchesMSS: frm config show prints the part size
// core/mss uses when none is configured.
func TestDefaultS3PartSizeMatchesMSS(t *testing.T) {
	if config.DefaultS3PartSize != mss.DefaultPartSize {
		t.Errorf("config.DefaultS3PartSize %d, mss.DefaultPartSize %d", config.DefaultS3PartSize, mss.DefaultPartSize)
	}
}
