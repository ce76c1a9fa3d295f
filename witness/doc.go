// Package witness is the optional third vote of a redis-vip pair (issue 10,
// partition safety): a lease service on a third host, run as
// `redis-vip witness`, and the client the nodes use to talk to it. For
// each pair it keeps one lease: at most one node holds it, it expires, the
// holder renews it, the holder may give it back. The witness keeps nothing
// on disk. docs/witness.md has the protocol, the timing argument and how
// to run it.
//
// # Client API
//
//	secret, err := witness.ReadSecretFile("/etc/redis-vip/witness.secret")
//	c, err := witness.NewClient("witness.example:7480", "sessions/pair-1", "10.0.0.1:6379", secret, 500*time.Millisecond)
//	lease, err := c.Acquire(ctx, 5*time.Second) // acquire, or renew if held
//	if err == nil && lease.Valid(time.Now()) { ... this node holds the lease until lease.Until ... }
//	holder, remaining, err := c.Status(ctx)     // who holds it, for display
//	err = c.Release(ctx)                         // planned switchover: give it back
//
// Both nodes of a pair use the same pair name (say the instance name and a
// pair id from the configuration) and each its own node name. Every call
// makes one TCP exchange bounded by the timeout (and ctx).
//
// # The rule for callers
//
// A node holds the lease at instant now exactly when it has a Lease from a
// successful Acquire with lease.Valid(now): Until is on this host's
// monotonic clock, counted from when the request was sent, less Margin (1%
// + 5 ms), so it ends before the witness lets another node take the lease.
// Any error from any call means "no lease from this call": it never
// extends anything. A Lease obtained earlier stays valid until its Until,
// not a moment longer, whatever later calls return; renew well before
// Until (say every quarter of the lease, with a timeout under a quarter).
// Call Release only after this node stopped acting as the holder: the
// lease ends when Release is called. Valid and Remaining also end the
// lease when the wall clock says it is over (a suspended host); to carry
// a lease to another process, store the boot clock's now plus
// lease.Remaining(time.Now()).
// A node that is not Held learns the holder's name; with ErrStarting it
// also learns how long the witness's restart grace still runs.
//
// The error classes (errors.Is): ErrWrongSecret (the witness could not
// verify our MAC: a configuration error), ErrUnreachable (refused, no
// route, timeout, reset, full, or ctx ended), ErrGarbage (an answer that
// is malformed, unauthenticated or for another request), ErrStarting (the
// witness restarted less than its maximum lease ago: see StartingError),
// ErrConfig (bad arguments or secret file).
//
// # Server
//
// NewServer and Server.Serve run the witness; Table is its pure core (one
// lease per pair, time passed in), which restarts empty and grants nothing
// for one maximum lease after it starts, so no lease of an earlier run can
// still be running when it grants one.
package witness
