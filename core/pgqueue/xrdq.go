package pgqueue

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"frm/core/xrdq"
)

// Request kinds of the xrootd queues.
var xrdqKinds = map[xrdq.Kind]string{
	xrdq.Stage:   "stage",
	xrdq.Migrate: "migrate",
	xrdq.Get:     "get",
	xrdq.Put:     "put",
}

// KindName is the request kind of an xrootd queue ("stage", "migrate",
// "get", "put").
func KindName(k xrdq.Kind) string { return xrdqKinds[k] }

// XrdqKind is the xrootd queue of a request kind; ok is false for kinds
// that have none.
func XrdqKind(name string) (k xrdq.Kind, ok bool) {
	for k, n := range xrdqKinds {
		if n == name {
			return k, true
		}
	}
	return 0, false
}

// XrdqKinds are the xrootd queue kinds, in the order they are imported.
var XrdqKinds = []xrdq.Kind{xrdq.Stage, xrdq.Migrate, xrdq.Get, xrdq.Put}

// xrdqOptions is what a request keeps of an xrootd record that has no
// requests column, in Request.Options.
type xrdqOptions struct {
	Op       string `json:"op,omitempty"`
	Bits     uint32 `json:"xrdq_options"`
	Instance string `json:"instance,omitempty"`
	Object   string `json:"object,omitempty"` // the URL of a get/put
	CGI      string `json:"cgi,omitempty"`
	CksType  uint8  `json:"cks_type,omitempty"`
	CksValue string `json:"cks_value,omitempty"` // hex
}

// FromXrdq converts a record of an xrootd queue file into a request. ok
// is false for records that are not transfer requests (registrations).
func FromXrdq(r xrdq.Request) (nr NewRequest, ok bool) {
	k, ok := xrdq.KindForOp(r.Op)
	if !ok || r.Options&xrdq.Register != 0 {
		return NewRequest{}, false
	}
	lfn := r.Path()
	if lfn == "" {
		lfn = r.Object()
	}
	if lfn == "" {
		return NewRequest{}, false
	}
	o := xrdqOptions{Op: string(r.Op), Bits: uint32(r.Options), Instance: r.Instance, CGI: r.CGI()}
	if obj := r.Object(); obj != lfn {
		o.Object = obj
	}
	if r.CksType != 0 {
		o.CksType = r.CksType
		o.CksValue = hex.EncodeToString([]byte(strings.TrimRight(r.CksValue, "\x00")))
	}
	b, _ := json.Marshal(o)
	notify := r.Notify
	if notify == "-" {
		notify = ""
	}
	var created time.Time
	if r.Added > 0 {
		created = time.Unix(r.Added, 0)
	}
	return NewRequest{
		Kind: xrdqKinds[k], Priority: int(r.Priority), LFN: lfn, RID: r.ID, Requester: r.User,
		// Several targets of one record are CR-separated; a request
		// keeps one per line.
		Notify:  strings.ReplaceAll(notify, "\r", "\n"),
		Options: b, Created: created,
	}, true
}

// Xrdq returns the request as an xrootd queue record: what the transfer
// engine and the notifications understand. Requests not imported from a
// queue file notify on failure and success.
func (r Request) Xrdq() xrdq.Request {
	var o xrdqOptions
	if len(r.Options) > 0 {
		json.Unmarshal(r.Options, &o) // unknown or bad options: defaults
	}
	x := xrdq.Request{LFN: r.LFN, User: r.Requester, ID: r.RID, Notify: strings.Join(r.Notify, "\r"),
		Instance: o.Instance, Added: r.Created.Unix(), Priority: int8(min(max(r.Priority, 0), xrdq.MaxPriority))}
	if o.Op != "" {
		x.Op = o.Op[0]
	}
	x.Options = xrdq.Options(o.Bits)
	if o.Op == "" {
		x.Options |= xrdq.NotifyFail | xrdq.NotifySucc
	}
	if o.CGI != "" {
		x.LFN = r.LFN + "?" + o.CGI
		x.Opaque = int16(len(r.LFN) + 1)
	}
	if x.Notify == "" {
		x.Notify = "-"
	}
	return x
}
