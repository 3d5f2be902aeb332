package serve

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// accessLog is [serve] access_log: one line per request, written whole
// (one write each, O_APPEND), with the request's start and end, so that
// overlapping requests can be told from it:
//
//	2026-12-06T18:00:00.123456789Z 2026-12-06T18:00:00.125000000Z 127.0.0.1:5555 manager-read GET /v1/status 200 412
//
// (start, end, remote address, token name, method, path, status, bytes;
// the path quoted when it holds a space or a control character).
type accessLog struct {
	path string
	mu   sync.Mutex // guards f
	f    *os.File
}

func openAccessLog(path string) (*accessLog, error) {
	l := &accessLog{path: path}
	if err := l.reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

// reopen opens the file again (after logrotate moved it).
func (l *accessLog) reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("serve.access_log: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (l *accessLog) write(start, end time.Time, remote, who, method, path string, status int, bytes int64) {
	if l == nil {
		return
	}
	b := make([]byte, 0, 160+len(path))
	b = start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = end.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, remote...)
	b = append(b, ' ')
	b = append(b, who...)
	b = append(b, ' ')
	b = append(b, method...)
	b = append(b, ' ')
	if needsQuote(path) {
		b = strconv.AppendQuote(b, path)
	} else {
		b = append(b, path...)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, '\n')
	l.mu.Lock()
	l.f.Write(b)
	l.mu.Unlock()
}

func needsQuote(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c == '"' || c == 0x7f {
			return true
		}
	}
	return s == ""
}

func (l *accessLog) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
