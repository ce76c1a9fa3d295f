// Package liveness notices at once that the local Redis process is gone.
//
// A Watcher holds one idle TCP connection to the server and blocks reading
// it. When redis-server dies (kill -9, a crash, the OOM killer, an exit),
// the kernel closes its sockets as part of the exit, so the read returns
// EOF or a reset within a millisecond: no timer, no polling. The periodic
// health check stays the judge of everything else, a hung server (SIGSTOP,
// a stuck disk) included: a hang closes nothing.
//
// A closed connection alone is not proof of death: CLIENT KILL (redis-vip
// sheds a demoted node's clients, S7), the server's idle timeout, or
// maxclients close it too. So the Watcher confirms at once with one new
// connection: refused means nothing listens on the port any more, and the
// server is gone; accepted means it is alive, and the new connection is
// watched instead. A reconnect that neither succeeds nor is refused (it
// times out) proves nothing and reports nothing. While the server is gone
// the Watcher tries to connect again every GonePoll (10 ms: a refused
// connect costs the kernel microseconds) and reports it back as soon as a
// connection is accepted (a restart).
//
// The Watcher sends nothing on the connection (no AUTH, no PING): it works
// the same on a password-protected or TLS port, and a hung server cannot
// make it block. The connection counts against maxclients.
//
// TrackFile turns the Watcher's events into the value of a keepalived
// track_file with weight 0 (keepalived watches it with inotify and goes to
// FAULT as soon as it reads a non-zero value): 1 as soon as the server is
// gone, 0 once it is back and the health check passes again.
package liveness
