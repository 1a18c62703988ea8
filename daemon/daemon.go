package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/subtitled/subtitled/captions/hub"
	"github.com/subtitled/subtitled/config"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/ingest/webrtc"
	"github.com/subtitled/subtitled/web"
)

// daemon is the running `subtitled run` process.
type daemon struct {
	path    string
	log     *slog.Logger
	stdin   io.Reader
	metrics *metrics
	hub     *hub.Hub
	notify  *notifier
	tsHTTP  *tsHTTP
	whip    *webrtc.Server // nil until run starts it
	state   *cueState      // nil: no state_dir

	mu       sync.Mutex // guards cfg, models, channels, nextIDs
	cfg      *config.Config
	models   map[string]*engine
	channels map[string]*channel
	nextIDs  map[string]map[string]uint64 // channel → track → next cue ID
	runCtx   context.Context
	reloadMu sync.Mutex
}

// runRun is `subtitled run --config FILE [--listen ADDR]`.
func runRun(e *env, args []string) error {
	fs := newFlagSet(e, "run")
	path := fs.String("config", config.DefaultPath, "config file")
	listen := fs.String("listen", "", "HTTP listen address (overrides the config's listen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg, err := config.Load(*path)
	if err != nil {
		var list config.Errors
		if errors.As(err, &list) {
			for _, ve := range list {
				fmt.Fprintln(e.stderr, ve.Error())
			}
			return fmt.Errorf("%s: %d problem(s) in the config", *path, len(list))
		}
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	d := &daemon{
		path: *path, cfg: cfg, stdin: e.stdin,
		log:      newLogger(cfg.Log, e.stderr),
		metrics:  newMetrics(),
		models:   map[string]*engine{},
		channels: map[string]*channel{},
		nextIDs:  map[string]map[string]uint64{},
		tsHTTP:   newTSHTTP(),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return d.run(ctx)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// run starts the models, the HTTP server and the channels, then waits for
// SIGTERM (graceful shutdown) while serving SIGHUP reloads.
func (d *daemon) run(ctx context.Context) error {
	d.log.Info("subtitled starting", "version", Version, "config", d.path, "channels", len(d.cfg.Channels))
	d.logCHeap()
	if err := onnx.Setup(); err != nil {
		return err
	}
	state, err := openCueState(stateDir(d.cfg.StateDir))
	if err != nil {
		return err
	}
	d.state = state
	if err := d.loadModels(d.cfg); err != nil {
		return err
	}
	defer d.closeModels()
	d.hub = hub.New(hubOptions(d.cfg))
	if d.whip, err = webrtc.NewServer(whipConfig(d.cfg, d)); err != nil {
		return fmt.Errorf("whip: %w", err)
	}
	defer d.whip.Close()
	d.metrics.reg.MustRegister(newChannelCollector(d))
	d.metrics.reg.MustRegister(newCHeapCollector())
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", d.cfg.Listen, err)
	}

	chCtx, cancelChannels := context.WithCancel(context.Background())
	defer cancelChannels()
	d.mu.Lock()
	d.runCtx = chCtx
	for _, cc := range d.cfg.Channels {
		if err := d.startChannelLocked(cc); err != nil {
			d.log.Error("channel not started", "channel", cc.ID, "err", err)
		}
	}
	d.mu.Unlock()

	srv := d.httpServer()
	srvErr := make(chan error, 1)
	go func() {
		if d.cfg.HTTP.TLS.Enabled() {
			srvErr <- srv.ServeTLS(ln, d.cfg.HTTP.TLS.Cert, d.cfg.HTTP.TLS.Key)
		} else {
			srvErr <- srv.Serve(ln)
		}
	}()
	d.log.Info("listening", "addr", ln.Addr().String())

	d.notify = newNotifier(d.log)
	d.notify.ready()
	stopWatchdog := d.notify.watchdog(d.progressing)
	defer stopWatchdog()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := d.reload(); err != nil {
				d.log.Error("reload rejected; keeping the running config", "err", err)
			}
			continue
		case err := <-srvErr:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("HTTP server failed", "err", err)
				d.shutdown(srv)
				return err
			}
		case <-ctx.Done():
		}
		break
	}
	d.log.Info("shutting down")
	d.notify.stopping()
	return d.shutdown(srv)
}

// shutdown stops every channel (flushing final cues to every sink), closes
// WebSocket clients with 1001 and stops the HTTP server, within
// shutdown_timeout.
func (d *daemon) shutdown(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	done := make(chan struct{})
	if d.whip != nil {
		// Publishers are disconnected first; their last audio is still
		// recognised and flushed by the channels below.
		for _, cc := range d.cfg.Channels {
			if isWHIP(cc) {
				d.whip.RemovePublisher(cc.ID)
			}
		}
	}
	go func() {
		defer close(done)
		d.mu.Lock()
		chs := make([]*channel, 0, len(d.channels))
		for _, c := range d.channels {
			chs = append(chs, c)
		}
		d.mu.Unlock()
		var wg sync.WaitGroup
		for _, c := range chs {
			wg.Add(1)
			go func(c *channel) {
				defer wg.Done()
				c.stop()
				if c.hubCh != nil {
					c.hubCh.EOS()
				}
			}(c)
		}
		wg.Wait()
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("shutdown: channels did not stop within %s", d.cfg.ShutdownTimeout)
	}
	d.hub.Close(ctx)
	if serr := srv.Shutdown(ctx); serr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", serr)
	}
	if err == nil {
		d.log.Info("stopped")
	}
	return err
}

// loadModels opens every model the config uses that is not open yet.
func (d *daemon) loadModels(cfg *config.Config) error {
	for _, name := range cfg.UsedModels() {
		if _, ok := d.models[name]; ok {
			continue
		}
		mc, _ := cfg.Model(name)
		dir := mc.Path
		if mc.Embedded() {
			var err error
			if dir, err = findDemoModel(d.log); err != nil {
				return fmt.Errorf("model %s: %w", name, err)
			}
		}
		o := engineOptionsFor(mc)
		o.OnBatch = d.metrics.observeBatch(name)
		e, err := openEngine(dir, o, func(err error) {
			d.log.Error("execution provider unavailable; falling back to CPU", "model", name, "device", mc.Device, "err", err)
			d.metrics.providerFallbck.WithLabelValues(name).Inc()
		})
		if err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		for _, n := range e.notes {
			d.log.Warn(n, "model", name)
		}
		if e.demo {
			d.log.Warn("model is a demo trained on synthetic speech only; not for real broadcasts", "model", name, "dir", dir)
		}
		device := e.device
		d.metrics.providerInUse.WithLabelValues(name, device).Set(1)
		d.models[name] = e
		d.log.Info("model loaded", "model", name, "dir", dir, "family", e.family, "device", device)
	}
	return nil
}

func (d *daemon) closeModels() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, e := range d.models {
		e.close()
		delete(d.models, name)
	}
}

// startChannelLocked builds and starts one channel; d.mu is held.
func (d *daemon) startChannelLocked(cc config.Channel) error {
	m, ok := d.models[cc.Model]
	if !ok {
		return fmt.Errorf("model %q is not loaded", cc.Model)
	}
	if d.nextIDs[cc.ID] == nil {
		next, err := d.state.load(cc.ID)
		if err != nil {
			// A damaged state file must not stop captioning; IDs restart.
			d.log.Error("cue IDs not restored", "channel", cc.ID, "err", err)
		}
		d.nextIDs[cc.ID] = next
	}
	c, err := newChannel(d, cc, m, d.nextIDs[cc.ID])
	if err != nil {
		return err
	}
	d.channels[cc.ID] = c
	c.start(d.runCtx)
	if isWHIP(cc) && d.whip != nil {
		d.whip.SetPublisher(cc.ID, c.publisher())
	}
	return nil
}

// reload re-reads the config file and restarts only the channels whose
// settings changed; an invalid file changes nothing.
func (d *daemon) reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	next, err := config.Load(d.path)
	if err != nil {
		d.metrics.reloads.WithLabelValues("rejected").Inc()
		return err
	}
	d.mu.Lock()
	next.Listen = d.cfg.Listen // the listener is not reopened
	ch := config.Diff(d.cfg, next)
	if err := d.loadModels(next); err != nil {
		d.mu.Unlock()
		d.metrics.reloads.WithLabelValues("rejected").Inc()
		return err
	}
	var stopping []*channel
	for _, id := range append(append([]string{}, ch.Removed...), ch.Changed...) {
		if c, ok := d.channels[id]; ok {
			stopping = append(stopping, c)
			delete(d.channels, id)
		}
	}
	d.mu.Unlock()
	for _, c := range stopping {
		if isWHIP(c.cfg) && d.whip != nil {
			d.whip.RemovePublisher(c.id)
		}
		c.stop()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ch.Removed {
		d.hub.RemoveChannel(id)
		d.metrics.forget(id)
		delete(d.nextIDs, id)
		d.state.forget(id)
	}
	d.cfg = next
	for _, id := range append(append([]string{}, ch.Added...), ch.Changed...) {
		if cc := next.Channel(id); cc != nil {
			if err := d.startChannelLocked(*cc); err != nil {
				d.log.Error("channel not started after reload", "channel", id, "err", err)
			}
		}
	}
	d.metrics.reloads.WithLabelValues("applied").Inc()
	d.log.Info("config reloaded", "changes", ch.String())
	return nil
}

// progressing reports whether the pipeline moved recently: at least one
// live channel recognised audio within the last 30 s, or no channel is
// live (nothing to be stuck on).
func (d *daemon) progressing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	live := false
	for _, c := range d.channels {
		st := c.snapshot()
		if st.State != stateLive {
			continue
		}
		live = true
		if time.Since(time.Unix(0, c.progress.Load())) < 30*time.Second {
			return true
		}
	}
	return !live
}

// httpServer builds the HTTP API.
func (d *daemon) httpServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", d.handleReady)
	mux.HandleFunc("GET /v1/channels", d.handleChannels)
	mux.HandleFunc("POST /v1/reload", d.handleReload)
	mux.Handle("GET /v1/channels/{id}/captions", d.hub.Handler())
	mux.Handle("GET /v1/channels/{id}/ts", d.tsHTTP)
	mux.Handle("/v1/whip/", d.whipHandler())
	if d.cfg.Metrics.Enabled {
		mux.Handle("GET "+d.cfg.Metrics.Path, promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	}
	wh := web.NewHandler(web.Options{DemoChannel: d.demoChannel()})
	for _, p := range web.Paths {
		mux.Handle("GET "+p, wh)
	}
	mux.HandleFunc("GET /{$}", d.handleStatusPage)
	h := d.cfg.HTTP
	return &http.Server{
		Handler:           mux,
		ReadTimeout:       h.ReadTimeout,
		ReadHeaderTimeout: h.ReadHeaderTimeout,
		WriteTimeout:      0, // WebSocket connections are long-lived; the hub sets its own deadlines
		IdleTimeout:       h.IdleTimeout,
		MaxHeaderBytes:    int(h.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
}

// demoChannel is the channel /demo shows without ?channel=: "demo" when
// configured, else the first channel.
func (d *daemon) demoChannel() string {
	for _, c := range d.cfg.Channels {
		if c.ID == "demo" {
			return c.ID
		}
	}
	if len(d.cfg.Channels) > 0 {
		return d.cfg.Channels[0].ID
	}
	return "demo"
}

func (d *daemon) statuses() []channelStatus {
	d.mu.Lock()
	chs := make([]*channel, 0, len(d.channels))
	for _, c := range d.channels {
		chs = append(chs, c)
	}
	d.mu.Unlock()
	out := make([]channelStatus, 0, len(chs))
	for _, c := range chs {
		out = append(out, c.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (d *daemon) handleChannels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"channels": d.statuses()})
}

// handleReady: config and models loaded, at least one channel live.
func (d *daemon) handleReady(w http.ResponseWriter, r *http.Request) {
	live := 0
	var states []string
	for _, s := range d.statuses() {
		states = append(states, s.ID+"="+s.State)
		if s.State == stateLive || s.State == stateStalled {
			live++
		}
	}
	body := map[string]any{"ready": live > 0, "live_channels": live, "channels": strings.Join(states, " ")}
	code := http.StatusOK
	if live == 0 {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

// handleReload is POST /v1/reload with the reload bearer token.
func (d *daemon) handleReload(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	token := d.cfg.HTTP.ReloadBearer()
	d.mu.Unlock()
	if token == "" {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "reload over HTTP is disabled (set http.reload_token)"})
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="subtitled"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad or missing bearer token"})
		return
	}
	if err := d.reload(); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// hubOptions maps the WebSocket server config onto the hub.
func hubOptions(c *config.Config) hub.Options {
	ws := c.WebSocket
	return hub.Options{
		AllowedOrigins:  ws.AllowedOrigins,
		Token:           ws.Bearer(),
		MaxClients:      ws.MaxClients,
		MaxClientsPerIP: ws.MaxClientsPerIP,
		ReadLimit:       int64(ws.ReadLimit),
		PingInterval:    ws.PingInterval,
		PongTimeout:     ws.PongTimeout,
		WriteTimeout:    ws.WriteTimeout,
	}
}
