package tui

import (
	"fmt"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"frm/tui/model"
)

// BenchmarkNamespaceFrame renders one 80x24 frame of a 1,000,000-entry
// directory, scrolled to the middle and sorted by size. The frame budget
// is 16 ms.
func BenchmarkNamespaceFrame(b *testing.B) {
	const n = 1_000_000
	a := newTestApp(newFake(), false)
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.view = viewNamespace
	gen := a.ns.Enter("/big")
	rows := make([]model.FileRow, 0, 10_000)
	for i := range n {
		rows = append(rows, model.FileRow{Name: fmt.Sprintf("f%07d.fits", i), Size: int64(i*7919) % (1 << 30), Space: "data",
			Res: model.Residency(i%4 + 1), Mtime: t0.Unix() - int64(i), Atime: t0.Unix() - int64(i/2)})
		if len(rows) == cap(rows) {
			a.ns.Chunk(gen, rows, false)
			rows = make([]model.FileRow, 0, 10_000)
		}
	}
	a.ns.Done(gen, nil, t0)
	a.ns.SetSort(model.SortSize)
	a.ns.Table.Move(n / 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.ns.Table.Move(1 - 2*(i%2)) // scroll: every frame differs
		_ = a.View()
	}
	b.StopTimer()
	reportFrame(b)
}

// BenchmarkQueuesFrame renders one 80x24 frame of 100,000 queued requests.
func BenchmarkQueuesFrame(b *testing.B) {
	const n = 100_000
	a := newTestApp(newFake(), false)
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.view = viewQueues
	rows := make([]model.QueueRow, n)
	for i := range rows {
		rows[i] = model.QueueRow{Kind: []string{"stage", "migrate", "get", "put"}[i%4], Priority: i % 3, LFN: fmt.Sprintf("/store/run%04d/f%06d.fits", i/1000, i),
			RID: fmt.Sprintf("r%d", i), TID: "user.1:2@host", Added: t0.Unix() - int64(i), Running: i < 20, Size: 1 << 30, Done: int64(i) << 20, Rate: 50 << 20}
	}
	a.queues.Table.SetRows(rows)
	a.queues.DaemonUp = true
	a.queues.Table.Move(n / 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.queues.Table.Move(1 - 2*(i%2))
		_ = a.View()
	}
	b.StopTimer()
	reportFrame(b)
}

// BenchmarkNamespaceLoad measures loading 1,000,000 entries in 10,000-row
// chunks (sorted by name as they arrive): the background work behind the
// frames, not a frame.
func BenchmarkNamespaceLoad(b *testing.B) {
	const n = 1_000_000
	chunks := make([][]model.FileRow, 0, n/10_000)
	for c := 0; c < n/10_000; c++ {
		rows := make([]model.FileRow, 10_000)
		for i := range rows {
			rows[i] = model.FileRow{Name: fmt.Sprintf("f%07d", (c*10_000+i)*7919%n), Size: int64(i)}
		}
		chunks = append(chunks, rows)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ns := model.NewNamespace("/")
		gen := ns.Enter("/big")
		for _, c := range chunks {
			ns.Chunk(gen, append([]model.FileRow(nil), c...), false)
		}
	}
}

func reportFrame(b *testing.B) {
	per := time.Duration(int64(b.Elapsed()) / int64(max(b.N, 1)))
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/frame")
	if per > 16*time.Millisecond {
		b.Errorf("a frame takes %v, over the 16 ms budget", per)
	}
}

// BenchmarkAuditFrame renders one 80x24 frame of 100,000 audit problems
// (the title counts them by kind on every frame).
func BenchmarkAuditFrame(b *testing.B) {
	const n = 100_000
	a := newTestApp(newFake(), false)
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.view = viewAudit
	ps := make([]model.AuditProblem, n)
	for i := range ps {
		pfn := fmt.Sprintf("/srv/ns/store/run%04d/f%06d.fits", i/1000, i)
		ps[i] = model.AuditProblem{Code: 1 + i%2, Kind: []string{"dangling link", "no copy time"}[i%2], Name: pfn, PFN: pfn, Fix: "fix " + pfn}
	}
	gen := a.audit.Start("names", "/", t0)
	a.audit.Add(gen, ps)
	a.audit.Finish(gen, "done", nil)
	a.audit.Table.Move(n / 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.audit.Table.Move(1 - 2*(i%2))
		_ = a.View()
	}
	b.StopTimer()
	reportFrame(b)
}
