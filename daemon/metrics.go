package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the daemon's Prometheus series. Counters that live in the
// components (demuxer, decoder, hub) are read at scrape time by a collector
// over the running channels, so nothing is double-counted across restarts:
// the channel adds its finished run's totals to the *_total counters below.
type metrics struct {
	reg *prometheus.Registry

	audioSeconds    *prometheus.CounterVec
	droppedSeconds  *prometheus.CounterVec
	cues            *prometheus.CounterVec
	gaps            *prometheus.CounterVec
	inputReports    *prometheus.CounterVec
	restarts        *prometheus.CounterVec
	channelUp       *prometheus.GaugeVec
	queueDepth      *prometheus.GaugeVec
	finalLatency    *prometheus.HistogramVec
	partialLatency  *prometheus.HistogramVec
	sinkErrors      *prometheus.CounterVec
	reloads         *prometheus.CounterVec
	buildInfo       *prometheus.GaugeVec
	providerInUse   *prometheus.GaugeVec
	providerFallbck *prometheus.CounterVec
	whipSessions    *prometheus.CounterVec
	whipDropped     *prometheus.CounterVec
	batchSize       *prometheus.HistogramVec
	callSeconds     *prometheus.HistogramVec
}

var latencyBuckets = []float64{0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.5, 4, 5, 7.5, 10, 15, 30}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	ch := []string{"channel"}
	m.audioSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_audio_decoded_seconds_total", Help: "Seconds of audio decoded per channel."}, ch)
	m.droppedSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_audio_dropped_seconds_total", Help: "Seconds of audio dropped because recognition lagged more than max_lag."}, ch)
	m.cues = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_cues_total", Help: "Final cues emitted per channel and track."}, []string{"channel", "track"})
	m.gaps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_gaps_total", Help: "Gap events per channel and reason."}, []string{"channel", "reason"})
	m.inputReports = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_input_reports_total", Help: "Input problems the channel runs through, by reason: no_audio, unsupported_codec, program_not_found."}, []string{"channel", "reason"})
	m.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_channel_restarts_total", Help: "Channel pipeline restarts after a failure."}, ch)
	m.channelUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "subtitled_channel_up", Help: "1 while the channel's input is live."}, ch)
	m.queueDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "subtitled_queue_depth", Help: "Audio PES waiting for recognition per channel."}, ch)
	m.finalLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "subtitled_final_latency_seconds", Help: "Wall time from the arrival of a cue's last word to its emission.",
		Buckets: latencyBuckets}, ch)
	m.partialLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "subtitled_partial_latency_seconds", Help: "Wall time from the arrival of a partial's last audio to its emission.",
		Buckets: latencyBuckets}, ch)
	m.sinkErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_sink_errors_total", Help: "Errors writing caption outputs."}, []string{"channel", "sink"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_reloads_total", Help: "Config reloads by result."}, []string{"result"})
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "subtitled_build_info", Help: "Build information."}, []string{"version"})
	m.providerInUse = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "subtitled_model_provider", Help: "Execution provider in use per model (1)."}, []string{"model", "provider"})
	m.providerFallbck = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_model_provider_fallbacks_total", Help: "Fallbacks from the configured execution provider to CPU."}, []string{"model"})
	m.whipSessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_whip_session_events_total", Help: "WHIP publisher sessions started and ended per channel."}, []string{"channel", "event"})
	m.whipDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subtitled_whip_packets_dropped_total", Help: "WHIP audio packets that arrived while the channel's pipeline was restarting."}, ch)
	m.batchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "subtitled_model_batch_size", Help: "Streams per encoder call, per model.",
		Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}}, []string{"model"})
	m.callSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "subtitled_model_call_seconds", Help: "Duration of one encoder call, per model.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"model"})
	m.reg.MustRegister(m.batchSize, m.callSeconds, m.whipSessions, m.whipDropped, m.audioSeconds, m.droppedSeconds, m.cues, m.gaps,
		m.inputReports, m.restarts, m.channelUp, m.queueDepth, m.finalLatency, m.partialLatency, m.sinkErrors,
		m.reloads, m.buildInfo, m.providerInUse, m.providerFallbck,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.buildInfo.WithLabelValues(Version).Set(1)
	return m
}

// observeBatch returns the scheduler callback that records a model's batch
// sizes and call durations.
func (m *metrics) observeBatch(model string) func(n int, d time.Duration) {
	size, secs := m.batchSize.WithLabelValues(model), m.callSeconds.WithLabelValues(model)
	return func(n int, d time.Duration) {
		size.Observe(float64(n))
		secs.Observe(d.Seconds())
	}
}

// forget removes a channel's labelled series (after it is removed by reload).
func (m *metrics) forget(channel string) {
	l := prometheus.Labels{"channel": channel}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.audioSeconds, m.droppedSeconds, m.cues, m.gaps, m.inputReports, m.restarts,
		m.channelUp, m.queueDepth, m.finalLatency, m.partialLatency, m.sinkErrors,
		m.whipSessions, m.whipDropped,
	} {
		v.DeletePartialMatch(l)
	}
}
