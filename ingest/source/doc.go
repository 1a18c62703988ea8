// Package source opens the live transports that carry an MPEG transport
// stream into the daemon and hands their bytes to the demuxer.
//
// A Source is an io.Reader over TS bytes plus Stats. Open picks the
// transport from Options.Kind:
//
//   - file: a TS file, read as fast as the caller reads, or in real time
//     (Options.Realtime) paced by the PCR of its packets, by the PTS of its
//     PES headers when it has no PCR, else by a nominal bitrate; with
//     Options.Loop it starts again at its end.
//   - stdin: any io.Reader (the daemon passes os.Stdin).
//   - udp: unicast or multicast (any-source or source-specific join on a
//     chosen interface), raw TS or RTP-wrapped TS (payload type 33), with a
//     bounded queue between the socket and Read that drops the oldest
//     datagrams when the reader falls behind.
//   - http: an HTTP or HTTPS GET of a live TS. Any end of the response body,
//     the server's clean EOF included, counts as a disconnect: the source
//     reconnects with a jittered exponential backoff and carries on with the
//     new response body.
//
// The bytes are not aligned to packets (the demuxer resyncs), except that a
// UDP Read never returns more than one datagram and no datagram is split
// between Reads unless p is smaller than it.
//
// # States
//
// Every source starts connecting. It goes live with its first byte and is
// reported stalled while no byte has come for Options.StallTimeout; Read
// keeps waiting meanwhile, and the next byte makes it live again. An
// unrecoverable error makes it failed, and Read returns that error from then
// on. Close, the end of the Open context, or the end of a finite input make
// it closed. A blocked Read returns promptly after Close or the end of the
// context, with an error that wraps ErrClosed.
package source
