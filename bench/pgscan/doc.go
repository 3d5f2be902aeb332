// Package pgscan benchmarks the questions an administrator asks of a big
// namespace, answered by the embedded catalog (a walk of the files and
// their xattrs) and by the PostgreSQL catalog holding the same files:
// find -recursive unmigrated, and the purge selection (a plan that must
// free everything, so every file is looked at and ranked).
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/pgscan/                      # 100,000 files
//	FRM_BENCH_FILES=1000000 go test -run '^$' -bench . -benchtime 3x -timeout 1h ./bench/pgscan/
//
// The namespace is core/sitegen.Flat's (1 in 10 files without a copy
// time, 2 in 10 modified since their copy, 1 in 50 pinned); the database
// is a throwaway PostgreSQL (core/pgtest) filled by pgcat.Import. Each
// run checks that both catalogs give the same answer. Read ms/op of the
// embedded and postgres variants side by side; the files/s column is the
// namespace size over the time.
package pgscan
