// Package scrub measures the checksum scrubber (site.Scrub, what `frm
// daemon -only scrub` and `frm admin chksum -r verify` run) against `cat
// FILES >/dev/null` of the same files in the same run: how close to the
// disk's streaming rate a scrub with no rate limit gets.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/scrub/
//	FRM_BENCH_SCRUB_FILES=16 FRM_BENCH_SCRUB_SIZE=512m FRM_BENCH_DIR=/data/scrub-bench \
//	    go test -run '^$' -bench . -benchtime 1x -timeout 1h ./bench/scrub/
//
// Method. The site (core/sitegen's layout) gets FRM_BENCH_SCRUB_FILES
// files (default 8) of FRM_BENCH_SCRUB_SIZE bytes (default 256m) of
// random data in the XA space "data", each with its adler32 record, as a
// stage would leave them; FRM_BENCH_DIR keeps the site between runs (the
// generation is not measured). Then FRM_BENCH_ROUNDS rounds (default 3)
// of: cat, scrub with one reader, scrub with two readers, scrub through
// the page cache (Cached), in an order that rotates each round. Before each cold run every data file's pages
// are dropped from the page cache with posix_fadvise(POSIX_FADV_DONTNEED)
// (the files are fsync'd when written, so nothing is dirty): the data
// comes from the disk, without root and without touching other
// processes' cache, as drop_caches would. A warm run (everything cached)
// follows, for the record: there the hash, not the disk, sets the pace
// for "scrub cached" (site.ScrubOptions.Cached), while the default scrub
// drops the file's pages first to check what the disk holds, and so reads
// the disk warm or cold.
// Each method's best time over the rounds is reported (best-of: the
// machine is shared, and noise only ever adds time), with MB/s and the
// ratio scrub/cat = cat time / scrub time. Target: cold ratio >= 0.8
// with one reader.
//
// FRM_BENCH_SCRUB_RATE (e.g. 100m) adds a scrub at that rate to show the
// limiter holds it.
package scrub
