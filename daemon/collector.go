package daemon

import "github.com/prometheus/client_golang/prometheus"

// channelCollector exports counters the components keep themselves (the
// demuxer's TR 101 290 counters, input bytes, WebSocket hub figures), read
// at scrape time so nothing is counted twice.
type channelCollector struct {
	d          *daemon
	inputBytes *prometheus.Desc
	tr         *prometheus.Desc
	wsClients  *prometheus.Desc
	wsDeliv    *prometheus.Desc
	wsSlow     *prometheus.Desc
	wsRejected *prometheus.Desc
	whipActive *prometheus.Desc
	whipRej    *prometheus.Desc
	whipReaped *prometheus.Desc
	whipLost   *prometheus.Desc
}

func newChannelCollector(d *daemon) *channelCollector {
	return &channelCollector{
		d: d,
		inputBytes: prometheus.NewDesc("subtitled_input_bytes_total",
			"Transport stream bytes read per channel.", []string{"channel"}, nil),
		tr: prometheus.NewDesc("subtitled_tr101290_errors_total",
			"ETSI TR 101 290 priority 1 and 2 errors per channel and indicator.", []string{"channel", "indicator"}, nil),
		wsClients: prometheus.NewDesc("subtitled_websocket_clients",
			"Connected WebSocket caption clients.", nil, nil),
		wsDeliv: prometheus.NewDesc("subtitled_websocket_deliveries_total",
			"Messages written to WebSocket clients.", nil, nil),
		wsSlow: prometheus.NewDesc("subtitled_websocket_slow_disconnects_total",
			"WebSocket clients closed with 1013 because they could not keep up.", nil, nil),
		wsRejected: prometheus.NewDesc("subtitled_websocket_rejected_total",
			"WebSocket connections rejected, by reason.", []string{"reason"}, nil),
		whipActive: prometheus.NewDesc("subtitled_whip_sessions",
			"Active WHIP publisher sessions.", nil, nil),
		whipRej: prometheus.NewDesc("subtitled_whip_rejected_total",
			"WHIP requests rejected, by reason.", []string{"reason"}, nil),
		whipReaped: prometheus.NewDesc("subtitled_whip_reaped_total",
			"WHIP sessions closed because ICE/DTLS did not complete within setup_timeout.", nil, nil),
		whipLost: prometheus.NewDesc("subtitled_whip_packets_lost_total",
			"RTP audio packets lost (not recovered by reordering) per WHIP channel.", []string{"channel"}, nil),
	}
}

func (c *channelCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inputBytes, c.tr, c.wsClients, c.wsDeliv, c.wsSlow, c.wsRejected,
		c.whipActive, c.whipRej, c.whipReaped, c.whipLost} {
		ch <- d
	}
}

func (c *channelCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.d.statuses() {
		ch <- prometheus.MustNewConstMetric(c.inputBytes, prometheus.CounterValue, float64(st.Input.Bytes), st.ID)
		for ind, v := range st.TR101290 {
			ch <- prometheus.MustNewConstMetric(c.tr, prometheus.CounterValue, float64(v), st.ID, ind)
		}
	}
	if w := c.d.whip; w != nil {
		ws := w.Stats()
		ch <- prometheus.MustNewConstMetric(c.whipActive, prometheus.GaugeValue, float64(ws.Sessions))
		ch <- prometheus.MustNewConstMetric(c.whipReaped, prometheus.CounterValue, float64(ws.Reaped))
		for reason, n := range ws.Rejected {
			ch <- prometheus.MustNewConstMetric(c.whipRej, prometheus.CounterValue, float64(n), reason)
		}
		for id, cs := range ws.Channels {
			ch <- prometheus.MustNewConstMetric(c.whipLost, prometheus.CounterValue, float64(cs.Lost), id)
		}
	}
	if c.d.hub == nil {
		return
	}
	hs := c.d.hub.Stats()
	ch <- prometheus.MustNewConstMetric(c.wsClients, prometheus.GaugeValue, float64(hs.Clients))
	ch <- prometheus.MustNewConstMetric(c.wsDeliv, prometheus.CounterValue, float64(hs.Deliveries))
	ch <- prometheus.MustNewConstMetric(c.wsSlow, prometheus.CounterValue, float64(hs.SlowClientDisconnects))
	for reason, n := range hs.Rejected {
		ch <- prometheus.MustNewConstMetric(c.wsRejected, prometheus.CounterValue, float64(n), string(reason))
	}
}
