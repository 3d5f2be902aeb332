package purge

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"frm/core/config"
)

// Watermark is a free-space threshold: a percentage of the space's total
// or an absolute number of bytes.
type Watermark struct {
	Percent   float64 // when IsPercent, 0..100
	Bytes     int64   // when !IsPercent
	IsPercent bool
}

// ParseWatermark parses "5%", "2.5%" or a size ("100g", see
// config.ParseSize).
func ParseWatermark(s string) (Watermark, error) {
	p, b, isPct, err := config.ParseWatermark(s)
	if err != nil {
		return Watermark{}, err
	}
	return Watermark{Percent: p, Bytes: b, IsPercent: isPct}, nil
}

// Of returns the watermark in bytes for a space of total bytes.
func (w Watermark) Of(total int64) int64 {
	if !w.IsPercent {
		return w.Bytes
	}
	return int64(float64(total) * w.Percent / 100)
}

// String renders w as it is written ("5%", "100g").
func (w Watermark) String() string {
	if w.IsPercent {
		return strconv.FormatFloat(w.Percent, 'f', -1, 64) + "%"
	}
	return config.Size(w.Bytes).String()
}

// ParseOverride parses frm_purged's -O argument "free[,hold]": free is a
// watermark that replaces both min and max of every policy (even nopurge),
// hold (optional) replaces every policy's hold. xrootd takes the hold as
// whole seconds; frm also accepts an s/m/h/d suffix. A nil hold means
// "not given".
func ParseOverride(s string) (Watermark, *time.Duration, error) {
	free, hold, hasHold := strings.Cut(s, ",")
	w, err := ParseWatermark(free)
	if err != nil {
		return Watermark{}, nil, fmt.Errorf("invalid -O free value: %v", err)
	}
	if !hasHold {
		return w, nil, nil
	}
	d, err := config.ParseDuration(hold)
	if err != nil {
		return Watermark{}, nil, fmt.Errorf("invalid -O hold value: %v", err)
	}
	return w, &d, nil
}
