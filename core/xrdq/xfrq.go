package xrdq

import (
	"fmt"
	"strconv"
	"time"
)

// xfrqVars are the variable names of frm_admin query xfrq and the agent's
// '?' request (XrdFrcUtils::MapV2I).
var xfrqVars = map[string]bool{
	"lfn": true, "lfncgi": true, "mode": true, "obj": true, "objcgi": true,
	"op": true, "prty": true, "qwt": true, "rid": true, "tod": true,
	"note": true, "tid": true,
}

func validVar(v string) bool { return xfrqVars[v] }

// listBufSize is the usable size of xrootd's listing buffer (8192 - 2).
const listBufSize = 8192 - 2

// ParseXfrqArgs parses the arguments of "query xfrq" as frm_admin does:
// queue names (all, get, migr, migrate, put, stage; repeatable; default
// all), then an optional one-digit priority (> 2 is "Invalid xfrq priority
// - 3"), then variables (default lfn; an unknown one is "Invalid xfrq
// variable - <v>"; more than 12 is "Too many xfrq variables starting at
// <v>"). kinds are returned in listing order (getf, migr, pstg, putf);
// prty is -1 for all.
func ParseXfrqArgs(args []string) (kinds []Kind, prty int, vars []string, err error) {
	i := 0
	var sel []Kind
	for ; i < len(args); i++ {
		switch args[i] {
		case "all":
			sel = append(sel, ListOrder...)
		case "get":
			sel = append(sel, Get)
		case "migr", "migrate":
			sel = append(sel, Migrate)
		case "put":
			sel = append(sel, Put)
		case "stage":
			sel = append(sel, Stage)
		default:
			goto done
		}
	}
done:
	if len(sel) == 0 {
		sel = ListOrder
	}
	kinds = sortKinds(sel)
	prty = -1
	if i < len(args) && len(args[i]) == 1 && args[i][0] >= '0' && args[i][0] <= '9' {
		prty = int(args[i][0] - '0')
		if prty > MaxPriority {
			return nil, 0, nil, fmt.Errorf("Invalid xfrq priority - %s", args[i])
		}
		i++
	}
	if i >= len(args) {
		return kinds, prty, []string{"lfn"}, nil
	}
	for ; i < len(args); i++ {
		if len(vars) == maxListVars {
			return nil, 0, nil, fmt.Errorf("Too many xfrq variables starting at %s", args[i])
		}
		if !validVar(args[i]) {
			return nil, 0, nil, fmt.Errorf("Invalid xfrq variable - %s", args[i])
		}
		vars = append(vars, args[i])
	}
	return kinds, prty, vars, nil
}

// lfnField returns the LFN field as xrootd sees it in memory: the LFN
// padded with NULs to 3072 bytes followed by the User, ID and Notify fields
// (a C string running off the end of a full field continues into the next
// one), plus room for the two bytes lfncgi may write past the string.
func lfnField(r Request) []byte {
	b := make([]byte, offNotify+szNotify+2)
	copy(b[offLFN:offLFN+szLFN], r.LFN)
	copy(b[offUser:offUser+szUser], r.User)
	copy(b[offID:offID+szID], r.ID)
	copy(b[offNotify:offNotify+szNotify], r.Notify)
	return b
}

// cAt returns the C string starting at off in b.
func cAt(b []byte, off int) string {
	if off < 0 || off >= len(b) {
		return ""
	}
	return string(cstrBytes(b[off:]))
}

// FormatVars renders r as one line of "frm_admin query xfrq" (and of the
// agent's '?' listing): the items for vars separated by one blank, with a
// trailing blank, reproducing XrdFrcReqFile::ListL byte for byte (including
// its 8190-byte truncation): lfn (path part), lfncgi (path + '?' + cgi; a
// bare '?' without cgi), obj, objcgi (whole URL), mode (r|w, then f if
// notify on failure, n if on success), note (the notify field verbatim,
// "-" when none), op, prty, qwt (seconds queued at now), rid, tid, tod
// (epoch added). An unknown variable is an error ("Invalid xfrq variable -
// <v>"). With no vars the raw LFN (whole URL) is returned without a
// trailing blank, as the agent lists it.
func FormatVars(r Request, vars []string, now time.Time) (string, error) {
	for _, v := range vars {
		if !validVar(v) {
			return "", fmt.Errorf("Invalid xfrq variable - %s", v)
		}
	}
	fld := lfnField(r)
	if len(vars) == 0 {
		return cAt(fld, 0), nil
	}
	var out []byte
	bln := listBufSize
	for _, v := range vars {
		if bln <= 0 {
			break
		}
		lfo := int(r.LFO)
		var s string // the item; n is its full length
		switch v {
		case "obj":
			lfo = 0
			fallthrough
		case "lfn":
			s = cAt(fld, lfo)
		case "objcgi":
			lfo = 0
			fallthrough
		case "lfncgi":
			tmp := append([]byte(nil), fld...)
			n := len(cstrBytes(tmp))
			tmp[n] = '?'
			if r.Opaque == 0 {
				tmp[n+1] = 0
			}
			s = cAt(tmp, lfo)
		case "mode":
			m := []byte{'r'}
			if r.Options&ReadWrite != 0 {
				m[0] = 'w'
			}
			if r.Options&NotifyFail != 0 && bln-len(m) > 0 {
				m = append(m, 'f')
			}
			if r.Options&NotifySucc != 0 && bln-len(m) > 0 {
				m = append(m, 'n')
			}
			s = string(m)
		case "note":
			s = cstr(r.Notify)
		case "op":
			s = string([]byte{r.Op})
		case "prty":
			switch r.Priority {
			case 2:
				s = "2"
			case 1:
				s = "1"
			default:
				s = "0"
			}
		case "qwt":
			s = strconv.FormatInt(now.Unix()-r.Added, 10)
		case "tod":
			s = strconv.FormatInt(r.Added, 10)
		case "rid":
			s = cstr(r.ID)
		case "tid":
			s = cstr(r.User)
		}
		n := len(s)
		if v == "op" || v == "mode" || v == "prty" {
			out = append(out, s...) // written directly, never past bln
		} else {
			// strlcpy(Buff, s, bln) copies at most bln-1 bytes.
			c := min(n, bln-1)
			out = append(out, s[:c]...)
			if c < n { // truncated: the NUL strlcpy wrote ends the line
				return string(cstrBytes(out)), nil
			}
		}
		bln -= n
		if bln > 0 {
			out = append(out, ' ')
			bln--
		}
	}
	// An op character of NUL ends the C string there.
	return string(cstrBytes(out)), nil
}
