// Package control is the protocol between frm's faces (the shell, the TUI,
// and later frm serve) and a running frm daemon: the typed requests and
// replies of the daemon's control socket, the Client that faces dial, the
// event stream, and Serve, into which the daemon plugs its Handler.
//
// It owns the wire format and the socket's place in the admin directory,
// and nothing else: it imports no other frm package, so a face that
// speaks to the daemon links this package, not the daemon.
//
// The wire format is one JSON request line on a Unix stream socket,
// answered by one JSON line (for events, a stream of lines):
//
//	{"cmd":"status"}             components, slots, active transfers, purge
//	{"cmd":"queue"}              queued requests
//	{"cmd":"cancel","rid":"r1"}  cancel a request (queued or running)
//	{"cmd":"wake"}               look at the queue, scan, purge now
//	{"cmd":"events"}             recent events, then live ones
//
// A reply that is an error is {"error":"text"}.
package control

import (
	"errors"
	"path/filepath"
	"time"
)

// SocketPath is the control socket of the daemon whose admin directory is
// adminDir: a Unix stream socket, mode 0660.
func SocketPath(adminDir string) string { return filepath.Join(adminDir, "frm.sock") }

// command names a request on the wire. Faces never spell one: the
// Client has a method per command, so a misspelt command does not build.
type command string

const (
	cmdStatus command = "status"
	cmdQueue  command = "queue"
	cmdCancel command = "cancel"
	cmdWake   command = "wake"
	cmdEvents command = "events"
)

// request is one control request.
type request struct {
	Cmd command `json:"cmd"`
	RID string  `json:"rid,omitempty"`
}

// errorReply is the reply of a request that failed.
type errorReply struct {
	Error string `json:"error"`
}

// cancelReply answers cancel.
type cancelReply struct {
	Cancelled int `json:"cancelled"`
}

// wakeReply answers wake.
type wakeReply struct {
	OK bool `json:"ok"`
}

// ErrNotRunning is wrapped by the errors of a Client that could not reach
// a daemon: no socket, or nobody listening on it. Faces fall back to the
// files (queue files, stop files) on it.
var ErrNotRunning = errors.New("daemon not reachable")

// DaemonError is a request the daemon received and refused; its text is
// the daemon's.
type DaemonError struct{ Msg string }

func (e *DaemonError) Error() string { return e.Msg }

// StatusReply answers status.
type StatusReply struct {
	PID        int             `json:"pid"`
	Started    time.Time       `json:"started"`
	Components []string        `json:"components"`
	Transfer   *TransferStatus `json:"transfer,omitempty"`
	Purge      *PurgeStatus    `json:"purge,omitempty"`
	Scrub      *ScrubReport    `json:"scrub,omitempty"`
	Stopped    []string        `json:"stopped,omitempty"` // stop files present
}

// TransferStatus is the transfer component's part of a status reply.
type TransferStatus struct {
	// SlotsIn and SlotsOut bound inbound (stage, get) and outbound
	// (migrate, put) transfers; InUse counts those running, in and out.
	SlotsIn, SlotsOut int
	InUse             [2]int
	Active            []Active
	// Internal counts the files the migration scan found, waiting for a
	// slot.
	Internal int
	Draining bool
	// Paused lists the directions paused because the MSS is unavailable.
	Paused []PauseStatus `json:"paused,omitempty"`
	// Classes are the configured request classes (none: xrootd's two
	// directions, SlotsIn and SlotsOut). Sizing counts the requests
	// waiting for the size of their MSS copy to know their class.
	Classes []ClassStatus `json:"classes,omitempty"`
	Sizing  int           `json:"sizing,omitempty"`
}

// ClassStatus is one request class of the transfer daemon.
type ClassStatus struct {
	Name string `json:"name"`
	// Slots are the class's own; Running may exceed them with slots lent
	// by idle classes.
	Slots   int `json:"slots"`
	Running int `json:"running"`
	// Waiting counts its queued requests not running (-1 unknown: with
	// a shared queue see the queue listing); Internal the migrations the
	// scan found, waiting.
	Waiting  int           `json:"waiting"`
	Internal int           `json:"internal"`
	Lend     bool          `json:"lend"`
	Timeout  time.Duration `json:"timeout_ns,omitempty"`
}

// Active describes a transfer in progress.
type Active struct {
	Kind     string    `json:"kind"`
	LFN      string    `json:"lfn"`
	RID      string    `json:"rid"`
	TID      string    `json:"tid"`
	Priority int       `json:"priority"`
	Started  time.Time `json:"started"`
	Merged   int       `json:"merged"` // duplicate requests riding along
	// Size is the file's size; Done the bytes written so far (inbound;
	// -1 when unknown, as for copies out); Rate in bytes per second.
	Size int64   `json:"size"`
	Done int64   `json:"done"`
	Rate float64 `json:"rate"`
	// Class is the request class whose slot it holds.
	Class string `json:"class,omitempty"`
	// Source says where the data comes from when not this site's MSS
	// ("peer b", "peer c (staging there)").
	Source string `json:"source,omitempty"`
}

// PauseStatus is a direction paused because the MSS is unavailable.
type PauseStatus struct {
	Direction string    `json:"direction"` // "in" (stage, get) or "out" (migrate, put)
	Since     time.Time `json:"since"`
	Cause     string    `json:"cause"`
	Probes    int       `json:"probes"` // probes (or trial transfers) failed since
}

// PurgeStatus is the purger's last cycle.
type PurgeStatus struct {
	At      time.Time `json:"at"`
	Skipped bool      `json:"skipped"`
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Errors  int       `json:"errors"`
	Stopped bool      `json:"stopped"` // STOPPURGE present
	// Leading lists the spaces this host purges, with a shared catalog
	// (other hosts purge the rest); nil means all.
	Leading []string `json:"leading,omitempty"`
}

// ScrubReport is the checksum scrubber's part of a status reply.
type ScrubReport struct {
	Rate     int64         `json:"rate"` // bytes a second, 0 unlimited
	Interval time.Duration `json:"interval"`
	Running  *ScrubPass    `json:"running,omitempty"` // the pass under way, counts so far
	Last     *ScrubPass    `json:"last,omitempty"`
	Bad      int           `json:"bad"` // files marked bad, as last counted
}

// ScrubPass is one pass of the checksum scrubber.
type ScrubPass struct {
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended,omitzero"`
	Files      int64     `json:"files"`
	Bytes      int64     `json:"bytes"`
	Mismatches int       `json:"mismatches"`
	Marked     int       `json:"marked"` // marked bad by this pass
	Bad        int       `json:"bad"`    // files marked bad at its end
	Stale      int       `json:"stale"`
	NoChecksum int       `json:"no_checksum"`
	Errors     int       `json:"errors"`
	// Complete: the pass went through every export (not stopped).
	Complete bool `json:"complete"`
}

// QueueEntry is one queued request.
type QueueEntry struct {
	Kind     string `json:"kind"` // stage, migrate, get, put (as events and the shared queue say)
	Priority int    `json:"priority"`
	LFN      string `json:"lfn"`
	RID      string `json:"rid"`
	TID      string `json:"tid"`
	Notify   string `json:"notify,omitempty"`
	Added    int64  `json:"added"`
	Op       string `json:"op"`
	Running  bool   `json:"running"`
	// With a shared queue: the host that must run it ("" any) and the
	// worker holding it while it runs.
	Host  string `json:"host,omitempty"`
	Owner string `json:"owner,omitempty"`
	// Class is the request's class ("" when not known yet: its class
	// depends on the size of its MSS copy, which the daemon asks).
	Class string `json:"class,omitempty"`
}

// Event reports what a daemon component did.
type Event struct {
	Time  time.Time `json:"time"`
	Type  string    `json:"type"` // queued, start, done, fail, merged, skipped, cancel; purged; bad_checksum, scrub_pass (kind scrub); mirror_run, mirror_fail (kind mirror, the mirror's name in LFN)
	Kind  string    `json:"kind,omitempty"`
	LFN   string    `json:"lfn,omitempty"`
	RID   string    `json:"rid,omitempty"`
	Bytes int64     `json:"bytes,omitempty"`
	Secs  float64   `json:"secs,omitempty"`
	Err   string    `json:"error,omitempty"`
	Class string    `json:"class,omitempty"` // transfer events: the request class
}
