package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"frm/core/xrdq"
	"frm/daemons"
)

const agentUsage = `Usage: frm pstga [-c cfgfile] [-n name] [-ack]

The request agent (xrootd's frm_xfragent protocol): reads request lines on
stdin and writes the queue files the transfer daemon serves.
  +[tid] reqid notify prty mode path...   stage (also < get, > put, = put+purge,
                                          & migrate, ^ migrate+purge)
  -reqid | - reqid                        cancel from the stage and get queues
  ~reqid | ~ reqid                        cancel from the migrate and put queues
  ?[queues] [vars...]                     list (queues: + < & > = ^)
  ![queues]                               wake the daemon
Requests are committed in groups: all the lines already read are written,
made durable with one fsync per queue file, and only then acknowledged (the
daemon is woken; with -ack, "ack N" is printed on stdout, N the number of the
last line whose requests are all durable). A kill at any moment loses no
acknowledged request.
Exits 0 at end of input (xrootd's agent exits 8), 1 when a line was refused:
a line over 1 MiB, a line holding a NUL byte, a name climbing above the root
with .. (each reported with its line number; the other requests go in).
`

func agentMain(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := siteFlags(name)
	ack := fs.Bool("ack", false, "")
	if code, done := fs.parse(args, agentUsage, stdout, stderr); done {
		return code
	}
	_, cfg, err := loadConfig(*fs.cfgPath, *fs.inst, nil, warnTo(stderr, name))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 4
	}
	q := xrdq.Open(cfg.QueueDir())
	if err := cfg.MkdirAdmin(true); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	if err := q.Init(); err != nil {
		fmt.Fprintf(stderr, "%s: queue %s: %v\n", name, cfg.QueueDir(), err)
		return 1
	}
	instance := cfg.Instance
	if instance == "" {
		instance = "anon"
	}
	wake := func() {
		c, err := net.Dial("unixgram", daemons.WakeSocket(cfg))
		if err != nil {
			return // no daemon listening: it sees the request at its next queue check
		}
		c.Write([]byte("!"))
		c.Close()
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	status := 0
	// Requests are committed in groups: every request already read is
	// written, made durable with one fsync per queue file, and only
	// then is the daemon woken (the acknowledgement); a group ends when
	// no further line is ready without waiting, at maxGroup requests, or
	// before any other command, so that commands keep their order.
	const maxGroup = 4096
	type pendingAdd struct {
		req  xrdq.Request
		line int
		path string
	}
	var group []pendingAdd
	acked := 0 // the last line acknowledged
	commit := func() {
		if len(group) == 0 {
			return
		}
		last := group[len(group)-1].line
		rs := make([]xrdq.Request, len(group))
		for i, p := range group {
			rs[i] = p.req
		}
		done, err := q.AddBatch(rs)
		added := 0
		for i, p := range group {
			if done[i] {
				added++
				continue
			}
			fmt.Fprintf(stderr, "%s: line %d: cannot queue %s: %v\n", name, p.line, p.path, err)
			status = 1
		}
		group = group[:0]
		if added > 0 {
			wake()
		}
		if *ack && last > acked {
			acked = last
			fmt.Fprintf(out, "ack %d\n", last)
			out.Flush()
		}
	}
	defer commit()
	in := xrdq.NewAgentReader(stdin, xrdq.MaxAgentLine)
	for {
		if len(group) > 0 && (len(group) >= maxGroup || !in.Ready()) {
			commit()
		}
		line, num, err := in.Next()
		if err == io.EOF {
			break
		}
		if ctx.Err() != nil {
			commit() // what was read before the interrupt is kept
			return 130
		}
		var tooLong *xrdq.LineTooLongError
		switch {
		case errors.As(err, &tooLong):
			fmt.Fprintf(stderr, "%s: line %d: %v; refused\n", name, num, err)
			status = 1
			continue
		case err != nil:
			// A line cut by the error is not queued: it may name another file.
			commit()
			fmt.Fprintf(stderr, "%s: line %d: reading the requests: %v\n", name, num, err)
			return 1
		}
		cmd, err := xrdq.ParseAgentLine(line)
		if err != nil {
			fmt.Fprintf(stderr, "%s: line %d: %v\n", name, num, err)
			status = 1
			continue
		}
		for _, e := range cmd.PathErrors {
			fmt.Fprintf(stderr, "%s: line %d: %v; not queued\n", name, num, e)
			status = 1
		}
		if cmd.Type == xrdq.CmdAdd {
			now := time.Now()
			for _, p := range cmd.Paths {
				group = append(group, pendingAdd{req: xrdq.BuildRequest(cmd, p, instance, now), line: num, path: p})
			}
			continue
		}
		commit()
		switch cmd.Type {
		case xrdq.CmdCancel:
			n, err := q.Cancel(cmd.Kinds, cmd.ReqID)
			if err != nil {
				fmt.Fprintf(stderr, "%s: line %d: cancel %s: %v\n", name, num, cmd.ReqID, err)
				status = 1
				continue
			}
			fmt.Fprintf(stderr, "%s: %s has %d entries; %d removed\n", name, cmd.ReqID, n, n)
		case xrdq.CmdList:
			now := time.Now()
			for _, k := range cmd.Kinds {
				q.List([]xrdq.Kind{k}, -1, func(r xrdq.Request) error {
					s, err := xrdq.FormatVars(r, cmd.Vars, now)
					if err == nil {
						out.WriteString(s)
						out.WriteByte('\n')
					}
					return nil
				})
			}
			out.WriteByte('\n')
			out.Flush()
		case xrdq.CmdWake:
			wake()
		}
	}
	commit()
	return status
}
