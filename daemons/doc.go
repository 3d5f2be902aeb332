// Package daemons runs frm's headless services over the core engine:
//
//   - Transfer: takes stage, copy-in, migrate and copy-out requests from
//     the queue (xrootd's queue files, so xrootd's frm_xfragent can feed
//     it), in priority order, up to copymax at once, and notifies
//     requesters; it replaces frm_xfrd.
//   - Migrator: scans the mig exports for files modified since their last
//     copy and idle long enough, and hands them to Transfer.
//   - Purger: frees space per the purge policies (package purge); it
//     replaces frm_purged.
//   - Scrubber: re-reads files with a current stored checksum at a
//     bounded rate and marks those whose data no longer matches (frm's
//     own; in the default set only when [scrub] enables it).
//
// Run starts any subset in one process. Components only use package site,
// xfer, purge and xrdq; nothing here knows about terminals. The control
// socket speaks package control's protocol (this package implements its
// Handler); faces dial it with control.Client and never import daemons.
// The site comes from package wire, which chose its implementations.
package daemons
