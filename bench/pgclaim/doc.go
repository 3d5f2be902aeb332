// Package pgclaim benchmarks the shared PostgreSQL request queue
// (core/pgqueue): claims per second with 1, 2 and 4 workers, each claim
// one request (Claim n=1, then Complete), against a throwaway PostgreSQL
// started by core/pgtest. Every run checks that no request was claimed
// twice and that each request has exactly one final transfer_history row.
//
//	go test -run '^$' -bench . -benchtime 20000x ./bench/pgclaim/
//
// BenchmarkClaimBatch claims up to 8 at a time, as the transfer daemon
// claims its free slots at once. The claims/s column is the figure to read (ns/op is its inverse over
// all workers). The throwaway server runs with fsync and
// synchronous_commit off; on a production server each claim and each
// completion is a commit and waits for the WAL flush, so the rate is
// bounded by the disk's flush latency unless synchronous_commit is
// relaxed for the frm role (a lost commit after a crash is a request
// claimed or completed again, which the lease and fencing already allow).
package pgclaim
