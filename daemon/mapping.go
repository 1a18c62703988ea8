package daemon

import (
	"context"
	"fmt"
	"sort"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/config"
	"github.com/subtitled/subtitled/ingest/mpegts"
	"github.com/subtitled/subtitled/ingest/source"
)

// captionOptions maps a channel's caption config onto the builder options
// (the per-track fields are filled by the chain) and the subtitle rules.
func captionOptions(ch config.Channel) (captions.Options, captions.RulesConfig, error) {
	c := ch.Captions
	o := captions.DefaultOptions()
	o.Language = ch.Language
	switch c.Mode {
	case "", "pop-on":
		o.Mode = captions.PopOn
	case "roll-up":
		o.Mode = captions.RollUp
	default:
		return o, captions.RulesConfig{}, fmt.Errorf("channels.%s.captions.mode: %q (want pop-on or roll-up)", ch.ID, c.Mode)
	}
	if c.MaxCharsPerLine > 0 {
		o.MaxChars = c.MaxCharsPerLine
	}
	if c.MaxLines > 0 {
		o.MaxLines = c.MaxLines
	}
	if c.MinDuration > 0 {
		o.MinDuration = c.MinDuration
	}
	if c.MaxDuration > 0 {
		o.MaxDuration = c.MaxDuration
	}
	if c.MinGap > 0 {
		o.MinGap = c.MinGap
	}
	if c.Hang > 0 {
		o.Hang = c.Hang
		o.MaxHang = max(o.MaxHang, c.Hang)
	}
	r := captions.DefaultRulesConfig(ch.Language)
	r.RemoveFillers = c.Subtitle.Fillers
	r.CollapseRepetitions = c.Subtitle.Repetitions
	r.RestoreCasing = c.Subtitle.Casing
	if len(c.Subtitle.WordFilter.Words) > 0 || c.Subtitle.WordFilter.Mode != "" && c.Subtitle.WordFilter.Mode != "off" {
		switch c.Subtitle.WordFilter.Mode {
		case "remove":
			r.Filter = captions.FilterRemove
		case "off":
			r.Filter = captions.FilterOff
		default:
			r.Filter = captions.FilterMask
		}
		r.FilterWords = c.Subtitle.WordFilter.Words
	}
	keys := make([]string, 0, len(c.Subtitle.Replacements))
	for k := range c.Subtitle.Replacements {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Replacements = append(r.Replacements, captions.Replacement{From: k, To: c.Subtitle.Replacements[k]})
	}
	return o, r, nil
}

// openSource opens a channel's TS input.
func openSource(ctx context.Context, ch config.Channel, d *daemon) (source.Source, error) {
	s, err := ch.Input.Source()
	if err != nil {
		return nil, err
	}
	o := source.Options{
		Realtime:     ch.Input.Realtime,
		Loop:         ch.Input.Loop,
		StallTimeout: ch.Input.StallTimeout,
		ReconnectMin: ch.Input.Reconnect.Min,
		ReconnectMax: ch.Input.Reconnect.Max,
		ReadBuffer:   int(d.cfg.Limits.UDPBufferBytes),
		// A few quick retries inside the source; beyond them the channel
		// reports failed and its supervisor restarts it with backoff.
		MaxAttempts: 3,
	}
	switch s.Kind {
	case config.SourceFile:
		o.Kind, o.Path = source.KindFile, s.Path
	case config.SourceStdin:
		o.Kind, o.Reader = source.KindStdin, d.stdin
	case config.SourceUDP:
		o.Kind, o.Host, o.Port, o.SourceAddr, o.Iface = source.KindUDP, s.Host, s.Port, s.SourceAddr, s.Iface
	case config.SourceHTTP:
		o.Kind, o.URL = source.KindHTTP, s.URL
	default:
		return nil, fmt.Errorf("input kind %s is not a transport stream", s.Kind)
	}
	return source.Open(ctx, o)
}

// addDemuxStats sums two demuxer counter sets (the TR 101 290 fields and
// the byte count), for totals across pipeline restarts.
func addDemuxStats(a, b mpegts.Stats) mpegts.Stats {
	a.BytesRead += b.BytesRead
	a.SyncLoss += b.SyncLoss
	a.SyncByteError += b.SyncByteError
	a.PATError += b.PATError
	a.ContinuityError += b.ContinuityError
	a.PMTError += b.PMTError
	a.PIDError += b.PIDError
	a.TransportError += b.TransportError
	a.CRCError += b.CRCError
	a.PCRDiscontinuityError += b.PCRDiscontinuityError
	a.PTSError += b.PTSError
	a.ScrambledAudioPackets += b.ScrambledAudioPackets
	a.ScrambledPackets += b.ScrambledPackets
	a.NullPackets += b.NullPackets
	a.BytesSkipped += b.BytesSkipped
	a.TailBytes += b.TailBytes
	a.PESDelivered += b.PESDelivered
	a.PESDropped += b.PESDropped
	a.PESErrors += b.PESErrors
	a.Discontinuities += b.Discontinuities
	a.StreamChanges += b.StreamChanges
	a.PTSWraps += b.PTSWraps
	a.ParserPanics += b.ParserPanics
	return a
}

// demuxCounters are the demuxer's counters beyond TR 101 290, by the names
// `transcribe --stats` and /v1/channels use.
func demuxCounters(d mpegts.Stats) map[string]uint64 {
	return map[string]uint64{
		"scrambled_packets": d.ScrambledPackets,
		"null_packets":      d.NullPackets,
		"bytes_skipped":     d.BytesSkipped,
		"tail_bytes":        d.TailBytes,
		"pes_delivered":     d.PESDelivered,
		"pes_dropped":       d.PESDropped,
		"pes_errors":        d.PESErrors,
		"discontinuities":   d.Discontinuities,
		"stream_changes":    d.StreamChanges,
		"pts_wraps":         d.PTSWraps,
		"parser_panics":     d.ParserPanics,
	}
}

// tr101290 names the TR 101 290 indicators as in the standard.
func tr101290(s mpegts.Stats) map[string]uint64 {
	return map[string]uint64{
		"1.1_ts_sync_loss":           s.SyncLoss,
		"1.2_sync_byte_error":        s.SyncByteError,
		"1.3_pat_error":              s.PATError,
		"1.4_continuity_count_error": s.ContinuityError,
		"1.5_pmt_error":              s.PMTError,
		"1.6_pid_error":              s.PIDError,
		"2.1_transport_error":        s.TransportError,
		"2.2_crc_error":              s.CRCError,
		"2.3b_pcr_discontinuity":     s.PCRDiscontinuityError,
		"2.5_pts_error":              s.PTSError,
		"scrambled_audio_packets":    s.ScrambledAudioPackets,
	}
}
