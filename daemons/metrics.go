package daemons

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"frm/core/control"
	"frm/core/space"
	"frm/core/xrdq"
)

// metrics are the Prometheus metrics of a daemon. Counters are fed by
// events; gauges (space, queue depth) are read at scrape time from the
// durable state, so they are right after a restart too.
type metrics struct {
	reg       *prometheus.Registry
	transfers *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	purged    *prometheus.CounterVec
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.transfers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frm_transfers_total", Help: "Transfers finished, by kind, request class and outcome."}, []string{"kind", "class", "outcome"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frm_transfer_bytes_total", Help: "Bytes transferred, by kind, request class and outcome."}, []string{"kind", "class", "outcome"})
	m.purged = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "frm_purged_total", Help: "Files and bytes purged."}, []string{"unit"})
	m.reg.MustRegister(m.transfers, m.bytes, m.purged, stateCollector{d}, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(ev control.Event) {
	switch ev.Type {
	case "done", "fail", "skipped":
		m.transfers.WithLabelValues(ev.Kind, ev.Class, ev.Type).Inc()
		m.bytes.WithLabelValues(ev.Kind, ev.Class, ev.Type).Add(float64(ev.Bytes))
	case "purged":
		m.purged.WithLabelValues("files").Inc()
		m.purged.WithLabelValues("bytes").Add(float64(ev.Bytes))
	}
}

var (
	spaceBytesDesc = prometheus.NewDesc("frm_space_bytes", "Space size and free bytes (a filesystem shared by partitions counted once).", []string{"space", "kind"}, nil)
	queueDesc      = prometheus.NewDesc("frm_queue_requests", "Queued requests by kind and priority.", []string{"kind", "priority"}, nil)
	activeDesc     = prometheus.NewDesc("frm_transfers_active", "Transfers running.", []string{"direction"}, nil)
	depthDesc      = prometheus.NewDesc("frm_queue_depth", "Requests waiting (not running), by request class.", []string{"class"}, nil)
	classRunDesc   = prometheus.NewDesc("frm_class_running", "Transfers running in a request class's slots (more than its slots while it borrows).", []string{"class"}, nil)
	unclassDesc    = prometheus.NewDesc("frm_queue_unclassified", "Requests waiting for the MSS size that decides their class.", nil, nil)
	mssUpDesc      = prometheus.NewDesc("frm_mss_up", "1 when the MSS takes transfers in this direction, 0 while they are paused by an outage.", []string{"direction"}, nil)

	// The scrubber's counters live in the Scrubber (a file checked is
	// no event), read at scrape time like the gauges.
	mirrorFilesDesc = prometheus.NewDesc("frm_mirror_files_total", "Files frm mirror brought (new or changed) in the daemon's runs, by mirror.", []string{"mirror"}, nil)
	mirrorBytesDesc = prometheus.NewDesc("frm_mirror_bytes_total", "Bytes frm mirror brought in the daemon's runs, by mirror.", []string{"mirror"}, nil)
	mirrorFailDesc  = prometheus.NewDesc("frm_mirror_failures_total", "Failed mirror runs plus failed files of partial runs, by mirror.", []string{"mirror"}, nil)
	mirrorLastDesc  = prometheus.NewDesc("frm_mirror_last_success_timestamp_seconds", "When the mirror's last run without a failure ended (Unix time).", []string{"mirror"}, nil)
	scrubBytesDesc  = prometheus.NewDesc("frm_scrub_bytes_total", "Bytes the checksum scrubber read.", nil, nil)
	scrubFilesDesc  = prometheus.NewDesc("frm_scrub_files_total", "Files whose data the checksum scrubber checked.", nil, nil)
	scrubMisDesc    = prometheus.NewDesc("frm_scrub_mismatches_total", "Files the checksum scrubber found differing from their stored checksum and marked bad (each once).", nil, nil)
	scrubBadDesc    = prometheus.NewDesc("frm_scrub_bad_files", "Files marked bad (their data failed their stored checksum), as the scrubber last counted.", nil, nil)
)

type stateCollector struct{ d *Daemon }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- spaceBytesDesc
	ch <- queueDesc
	ch <- activeDesc
	ch <- depthDesc
	ch <- classRunDesc
	ch <- unclassDesc
	ch <- mssUpDesc
	ch <- scrubBytesDesc
	ch <- mirrorFilesDesc
	ch <- mirrorBytesDesc
	ch <- mirrorFailDesc
	ch <- mirrorLastDesc
	ch <- scrubFilesDesc
	ch <- scrubMisDesc
	ch <- scrubBadDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sp := range c.d.Site.Spaces.All() {
		var us []space.Usage
		for _, p := range sp.Partitions {
			us = append(us, space.Stat(p))
		}
		total, free := space.Totals(us)
		ch <- prometheus.MustNewConstMetric(spaceBytesDesc, prometheus.GaugeValue, float64(total), sp.Name, "total")
		ch <- prometheus.MustNewConstMetric(spaceBytesDesc, prometheus.GaugeValue, float64(free), sp.Name, "free")
	}
	if t := c.d.Transfer; t != nil {
		for _, k := range []xrdq.Kind{xrdq.Stage, xrdq.Get, xrdq.Migrate, xrdq.Put} {
			for p := 0; p <= xrdq.MaxPriority; p++ {
				n := 0
				t.Queue.Queue(k, p).Walk(func(xrdq.Request) error { n++; return nil })
				ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), k.String(), string(rune('0'+p)))
			}
		}
		depth, unclassified, running := t.classDepth()
		for class, n := range depth {
			ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n), class)
		}
		for class, n := range running {
			ch <- prometheus.MustNewConstMetric(classRunDesc, prometheus.GaugeValue, float64(n), class)
		}
		ch <- prometheus.MustNewConstMetric(unclassDesc, prometheus.GaugeValue, float64(unclassified))
		st := t.Status()
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(st.InUse[0]), "in")
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(st.InUse[1]), "out")
		up := map[string]float64{"in": 1, "out": 1}
		for _, p := range st.Paused {
			up[p.Direction] = 0
		}
		for _, dir := range dirNames {
			ch <- prometheus.MustNewConstMetric(mssUpDesc, prometheus.GaugeValue, up[dir], dir)
		}
	}
	if mr := c.d.Mirrorer; mr != nil {
		for name, v := range mr.Stats() {
			ch <- prometheus.MustNewConstMetric(mirrorFilesDesc, prometheus.CounterValue, float64(v[0]), name)
			ch <- prometheus.MustNewConstMetric(mirrorBytesDesc, prometheus.CounterValue, float64(v[1]), name)
			ch <- prometheus.MustNewConstMetric(mirrorFailDesc, prometheus.CounterValue, float64(v[2]), name)
			if v[3] > 0 {
				ch <- prometheus.MustNewConstMetric(mirrorLastDesc, prometheus.GaugeValue, float64(v[3]), name)
			}
		}
	}
	if sc := c.d.Scrubber; sc != nil {
		ch <- prometheus.MustNewConstMetric(scrubBytesDesc, prometheus.CounterValue, float64(sc.Counters.Bytes.Load()))
		ch <- prometheus.MustNewConstMetric(scrubFilesDesc, prometheus.CounterValue, float64(sc.Counters.Files.Load()))
		ch <- prometheus.MustNewConstMetric(scrubMisDesc, prometheus.CounterValue, float64(sc.Counters.Marked.Load()))
		if n, ok := sc.BadFiles(); ok {
			ch <- prometheus.MustNewConstMetric(scrubBadDesc, prometheus.GaugeValue, float64(n))
		}
	}
}

// MetricsHandler returns the handler of the daemon's Prometheus metrics
// (the one ServeMetrics serves), for another listener to serve too (frm
// serve's /metrics). The counters count from the first call of either.
func (d *Daemon) MetricsHandler() http.Handler {
	d.metricsOnce.Do(func() { d.metrics.Store(newMetrics(d)) })
	return promhttp.HandlerFor(d.metrics.Load().reg, promhttp.HandlerOpts{})
}

// ServeMetrics serves /metrics on addr until ctx ends. It is opt-in: a
// daemon without an address opens no port.
func (d *Daemon) ServeMetrics(ctx context.Context, addr string) (string, error) {
	h := d.MetricsHandler()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.Log.Warn("metrics server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(c)
	}()
	return l.Addr().String(), nil
}
