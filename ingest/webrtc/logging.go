package webrtc

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes pion's logs to slog, one level lower than pion's own
// (pion logs routine network trouble as warnings and errors): trace and
// debug are dropped below slog's Debug, info → Debug, warn → Info,
// error → Warn.
type slogFactory struct{ l *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{l: f.l.With("component", "pion/"+scope)}
}

type pionLogger struct{ l *slog.Logger }

const levelTrace = slog.LevelDebug - 4

func (p pionLogger) log(level slog.Level, msg string) {
	p.l.Log(context.Background(), level, msg)
}

func (p pionLogger) logf(level slog.Level, format string, args ...any) {
	if !p.l.Enabled(context.Background(), level) {
		return
	}
	p.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (p pionLogger) Trace(msg string)             { p.log(levelTrace, msg) }
func (p pionLogger) Tracef(f string, args ...any) { p.logf(levelTrace, f, args...) }
func (p pionLogger) Debug(msg string)             { p.log(levelTrace, msg) }
func (p pionLogger) Debugf(f string, args ...any) { p.logf(levelTrace, f, args...) }
func (p pionLogger) Info(msg string)              { p.log(slog.LevelDebug, msg) }
func (p pionLogger) Infof(f string, args ...any)  { p.logf(slog.LevelDebug, f, args...) }
func (p pionLogger) Warn(msg string)              { p.log(slog.LevelInfo, msg) }
func (p pionLogger) Warnf(f string, args ...any)  { p.logf(slog.LevelInfo, f, args...) }
func (p pionLogger) Error(msg string)             { p.log(slog.LevelWarn, msg) }
func (p pionLogger) Errorf(f string, args ...any) { p.logf(slog.LevelWarn, f, args...) }
