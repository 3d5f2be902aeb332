package daemons

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"frm/core/xrdq"
)

// notify tells a requester how its request ended, as frm_xfrd does:
//
//	file:///path      the line "stage OK <lfn>" or "stage ENOENT|BAD <lfn> <emsg>"
//	                  written to a FIFO or file that must exist
//	udp://host:port/m the datagram "ready <rid> <m> <lfn>" or "unprep <rid> <m> <lfn>"
//
// Several targets are separated by CR. Requests ask for notification on
// failure (the default) and/or on success through their mode letters.
func notify(r xrdq.Request, ok, notFound bool, emsg string) []error {
	if r.Notify == "" || r.Notify == "-" {
		return nil
	}
	if ok && r.Options&xrdq.NotifySucc == 0 || !ok && r.Options&xrdq.NotifyFail == 0 {
		return nil
	}
	var errs []error
	for _, target := range strings.Split(r.Notify, "\r") {
		if err := notifyOne(target, r, ok, notFound, emsg); err != nil {
			errs = append(errs, fmt.Errorf("notify %s: %w", target, err))
		}
	}
	return errs
}

func notifyOne(target string, r xrdq.Request, ok, notFound bool, emsg string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	lfn := r.Path()
	switch u.Scheme {
	case "file":
		msg := "stage OK " + lfn + "\n"
		if !ok {
			code := "BAD"
			if notFound {
				code = "ENOENT"
			}
			msg = fmt.Sprintf("stage %s %s %s\n", code, lfn, oneLine(emsg))
		}
		// O_NONBLOCK: a FIFO nobody reads must not hang the daemon.
		f, err := os.OpenFile(u.Path, os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString(msg)
		return err
	case "udp":
		word := "ready"
		if !ok {
			word = "unprep"
		}
		m := strings.TrimPrefix(u.Path, "/")
		msg := fmt.Sprintf("%s %s %s %s", word, r.ID, m, lfn)
		c, err := net.DialTimeout("udp", u.Host, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(msg))
		return err
	}
	return fmt.Errorf("unknown notification scheme %q", u.Scheme)
}

func oneLine(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "\r", " ") }
