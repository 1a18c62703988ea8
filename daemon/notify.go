package daemon

import (
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// notifier speaks the systemd notify protocol (Type=notify): READY once the
// models and channels are started, STOPPING at shutdown, and WATCHDOG pings
// only while the pipeline makes progress, so a stuck daemon is restarted.
type notifier struct {
	log *slog.Logger
}

func newNotifier(log *slog.Logger) *notifier { return &notifier{log: log} }

func (n *notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Warn("systemd notify failed", "state", state, "err", err)
	}
}

func (n *notifier) ready()    { n.send(sd.SdNotifyReady) }
func (n *notifier) stopping() { n.send(sd.SdNotifyStopping) }

// watchdog pings at half the watchdog interval while progressing() holds.
// It does nothing when systemd set no watchdog. The returned function stops it.
func (n *notifier) watchdog(progressing func() bool) func() {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if progressing() {
					n.send(sd.SdNotifyWatchdog)
				} else {
					n.log.Error("pipeline made no progress; withholding the watchdog ping")
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}
