package purge

import "fmt"

// Reason says why a file was kept on disk. Every file a purge looks at and
// does not remove gets one, so "why is this file still here?" always has an
// answer (RobinHood#27).
type Reason uint8

// Reasons, in the order eligibility is decided (the first that applies is
// reported). The values from InUse on are only given by Execute's re-check
// just before a removal.
const (
	// Dangling: the namespace entry is an XA link whose data file is
	// missing; there is nothing to purge (xrootd reports "no copy time").
	Dangling Reason = iota + 1
	// Foreign: a symlink whose target is outside every configured
	// partition. frm never deletes data it does not own.
	Foreign
	// NoCopyTime: the file has no user.XrdFrm.Cpy attribute. In purge
	// exports a copy time is required, as in xrootd ("no copy time xattr").
	NoCopyTime
	// NoPurgePolicy: the space's policy is nopurge or hold forever (and no
	// -O override applies).
	NoPurgePolicy
	// NotMigrated: Cpy < mtime; the MSS copy is older than the file.
	NotMigrated
	// Deferred: Cpy == 0, migration deferred. xrootd purges such files (it
	// treats 0 as migrated) and so does frm by default; the reason is only
	// given with Options.KeepDeferred.
	Deferred
	// PinnedForever: a forever pin.
	PinnedForever
	// PinnedUntil: a keep pin in the future; Until is the pin time.
	PinnedUntil
	// IdlePin: an idle pin longer than the time since the last access;
	// Until is atime + pin time.
	IdlePin
	// InHold: accessed within the policy's hold (now - atime <= hold);
	// Until is atime + hold.
	InHold
	// BadChecksum: the file's data failed its stored checksum (verify or
	// the scrubber marked it, meta.AttrBadChecksum); it stays until an
	// administrator decides. Only files otherwise eligible are looked at.
	BadChecksum
	// NotNeeded: eligible, but the older files already free enough to
	// reach the space's maximum (or the space needs nothing).
	NotNeeded
	// InUse: Execute found the file locked (open by a server or writer).
	InUse
	// Changed: the file was accessed or modified between the plan and the
	// removal; it is kept until the next cycle looks at it again.
	Changed
	// Gone: the file disappeared before it could be removed.
	Gone
	// PolicyRefused: the policy program answered "n".
	PolicyRefused

	maxReason = PolicyRefused
)

var reasonNames = [...]string{
	Dangling:      "dangling",
	Foreign:       "foreign",
	NoCopyTime:    "no_copy_time",
	NoPurgePolicy: "no_purge_policy",
	NotMigrated:   "not_migrated",
	Deferred:      "deferred",
	PinnedForever: "pinned_forever",
	PinnedUntil:   "pinned_until",
	IdlePin:       "idle_pin",
	InHold:        "in_hold",
	BadChecksum:   "bad_checksum",
	NotNeeded:     "not_needed",
	InUse:         "in_use",
	Changed:       "changed",
	Gone:          "gone",
	PolicyRefused: "policy_refused",
}

// Reasons lists every reason in order.
func Reasons() []Reason {
	rs := make([]Reason, 0, maxReason)
	for r := Reason(1); r <= maxReason; r++ {
		rs = append(rs, r)
	}
	return rs
}

// String is the stable name of r (snake_case, as in JSON output).
func (r Reason) String() string {
	if r >= 1 && r <= maxReason {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// HasUntil reports whether r carries a time (Kept.Until).
func (r Reason) HasUntil() bool { return r == PinnedUntil || r == IdlePin || r == InHold }

// ParseReason is the inverse of String.
func ParseReason(s string) (Reason, bool) {
	for r := Reason(1); r <= maxReason; r++ {
		if reasonNames[r] == s {
			return r, true
		}
	}
	return 0, false
}

// MarshalText renders r by name (for JSON map keys and values).
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (r *Reason) UnmarshalText(b []byte) error {
	v, ok := ParseReason(string(b))
	if !ok {
		return fmt.Errorf("unknown purge reason %q", b)
	}
	*r = v
	return nil
}
