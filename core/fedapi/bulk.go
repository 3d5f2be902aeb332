package fedapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// BulkPath serves many small files in one response (POST; frm mirror's
// small files). The body is a BulkRequest; the answer is a bulk stream.
const BulkPath = "/v1/bulk"

// Limits of a bulk request.
const (
	// MaxBulk is the most names one bulk request asks for (413 past it).
	MaxBulk = 1024
	// MaxBulkBody bounds a bulk request's body (413 past it): MaxBulk
	// names of up to 4 KiB each.
	MaxBulkBody = 4 << 20
	// MaxBulkHeader bounds one record's header line: a name of up to
	// 4 KiB escaped, and the rest.
	MaxBulkHeader = 64 << 10
)

// BulkContentType is the media type of a bulk stream.
const BulkContentType = "application/x-frm-bulk"

// BulkRequest is the body of POST /v1/bulk.
type BulkRequest struct {
	LFNs []string `json:"lfns"`
}

// BulkHeader is one record's header line in a bulk stream. The stream is
// a sequence of records, one per name asked and in the order asked, then
// an end line:
//
//	{"lfn":"/store/a","size":3,"mtime":1700000000,"checksum":"adler32:024d0127","etag":"\"3-...\""}\n
//	<size bytes: the file's content>
//	{"lfn":"/store/b","status":404,"error":"not on disk"}\n
//	{"end":true,"files":2}\n
//
// A file record (Status 0) is followed by exactly Size bytes; an error
// record (Status 400 to 599, Error saying why) by none. A stream without
// its end line, or whose end line counts another number of records, was
// cut short: a server that cannot send a file's promised bytes resets the
// stream rather than end it.
type BulkHeader struct {
	LFN      string `json:"lfn,omitempty"`
	Size     int64  `json:"size,omitempty"`
	MTime    int64  `json:"mtime,omitempty"`
	Checksum string `json:"checksum,omitempty"`
	ETag     string `json:"etag,omitempty"`
	// Status and Error: an error record, with the status GET /v1/files
	// would have answered for the name.
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// End and Files: the end line, and how many records came before it.
	End   bool `json:"end,omitempty"`
	Files int  `json:"files,omitempty"`
}

// BulkRecord is one record of a bulk stream as the reader gives it.
type BulkRecord struct {
	BulkHeader
	// Body is the file's content (Size bytes; empty for an error
	// record), valid until the callback returns.
	Body io.Reader
}

// Err is the error of an error record (an *HTTPError with its status),
// nil for a file.
func (r BulkRecord) Err() error {
	if r.Status == 0 {
		return nil
	}
	return &HTTPError{Status: r.Status, Msg: r.Error, URL: r.LFN}
}

// WriteBulkHeader writes one header line (the server's side).
func WriteBulkHeader(w io.Writer, h BulkHeader) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ErrBulkCut: a bulk stream ended before its end line, or within a
// file's bytes.
var ErrBulkCut = errors.New("bulk stream cut short")

// ReadBulk reads a bulk stream and calls fn with each record, in order;
// the bytes fn does not read of a file are skipped. It returns the count
// of records. A stream without its end line, a header line that is not
// one, a file's bytes cut short or an end line that counts otherwise is
// an error: every record fn saw was whole, but the stream as a whole is
// refused.
func ReadBulk(r io.Reader, fn func(BulkRecord) error) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	for {
		line, err := readLine(br, MaxBulkHeader)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, fmt.Errorf("%w: after %d records (no end line)", ErrBulkCut, n)
			}
			return n, fmt.Errorf("bulk record %d: %w", n+1, err)
		}
		var h BulkHeader
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil {
			return n, fmt.Errorf("bulk record %d: header: %w", n+1, err)
		}
		if h.End {
			if h.Files != n || h.LFN != "" {
				return n, fmt.Errorf("bulk stream: %d records, its end line says %d", n, h.Files)
			}
			return n, nil
		}
		switch {
		case h.LFN == "" && h.Status == 0:
			// An error record may name "" (the name asked was empty);
			// a file has a name.
			return n, fmt.Errorf("bulk record %d: a file without a name", n+1)
		case h.Size < 0:
			return n, fmt.Errorf("bulk record %d: negative size", n+1)
		case h.Status != 0 && (h.Status < 400 || h.Status > 599 || h.Size != 0):
			return n, fmt.Errorf("bulk record %d: error record with status %d and %d bytes", n+1, h.Status, h.Size)
		case h.Files != 0:
			return n, fmt.Errorf("bulk record %d: a count outside the end line", n+1)
		}
		n++
		body := &io.LimitedReader{R: br, N: h.Size}
		if err := fn(BulkRecord{BulkHeader: h, Body: body}); err != nil {
			return n, err
		}
		if body.N > 0 {
			if _, err := io.Copy(io.Discard, body); err != nil {
				return n, fmt.Errorf("bulk record %d (%s): %w", n, h.LFN, err)
			}
			if body.N > 0 {
				return n, fmt.Errorf("%w: within %s, %d of its %d bytes missing", ErrBulkCut, h.LFN, body.N, h.Size)
			}
		}
	}
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > max+1 {
			return nil, fmt.Errorf("header line longer than %d bytes", max)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, fmt.Errorf("%w: within a header line", ErrBulkCut)
		default:
			return nil, err
		}
	}
}

// Bulk fetches the files lfns (at most MaxBulk) in one request and calls
// fn with each record, in the order asked: a file's content, or the
// error that name met (denied, absent; Err says which). An error of the
// request as a whole (the site refused it, the stream was cut short, a
// record not the one asked) is returned; the records fn saw before it
// were whole.
func (c *Client) Bulk(ctx context.Context, lfns []string, fn func(BulkRecord) error) error {
	if len(lfns) > MaxBulk {
		return fmt.Errorf("bulk: %d names; at most %d at once", len(lfns), MaxBulk)
	}
	body, _ := json.Marshal(BulkRequest{LFNs: lfns})
	resp, err := c.do(ctx, http.MethodPost, BulkPath, bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errorOf(resp)
	}
	defer resp.Body.Close()
	i := 0
	n, err := ReadBulk(resp.Body, func(r BulkRecord) error {
		if i >= len(lfns) || r.LFN != lfns[i] {
			return fmt.Errorf("bulk: record %d names %q, not the name asked", i+1, r.LFN)
		}
		i++
		return fn(r)
	})
	if err != nil {
		return fmt.Errorf("bulk from %s: %w", c.Base, err)
	}
	if n != len(lfns) {
		return fmt.Errorf("bulk from %s: %d records for %d names", c.Base, n, len(lfns))
	}
	return nil
}
