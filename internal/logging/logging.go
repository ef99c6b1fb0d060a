// Package logging sets up the JSON logs of GES: level from LOG_LEVEL,
// messages cut at LOG_MAX_LEN, and failed writes counted (LOGGING_FAILURE)
// rather than lost silently.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing JSON lines to w.
func New(w io.Writer, level string, maxLen int, onFailure func()) *slog.Logger {
	var lv slog.Level
	switch strings.ToUpper(level) {
	case "DEBUG":
		lv = slog.LevelDebug
	case "WARN", "WARNING":
		lv = slog.LevelWarn
	case "ERROR":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	fw := &failWriter{w: w, onFailure: onFailure}
	h := slog.NewJSONHandler(fw, &slog.HandlerOptions{Level: lv})
	return slog.New(&cutHandler{Handler: h, max: maxLen})
}

type failWriter struct {
	w         io.Writer
	onFailure func()
}

func (f *failWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if err != nil && f.onFailure != nil {
		f.onFailure()
	}
	return n, err
}

// cutHandler shortens messages and string attributes longer than max.
type cutHandler struct {
	slog.Handler
	max int
}

func (c *cutHandler) cut(s string) string {
	if c.max > 0 && len(s) > c.max {
		return s[:c.max] + "…"
	}
	return s
}

func (c *cutHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, c.cut(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(c.cut(a.Value.String()))
		}
		nr.AddAttrs(a)
		return true
	})
	return c.Handler.Handle(ctx, nr)
}

func (c *cutHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &cutHandler{Handler: c.Handler.WithAttrs(as), max: c.max}
}

func (c *cutHandler) WithGroup(name string) slog.Handler {
	return &cutHandler{Handler: c.Handler.WithGroup(name), max: c.max}
}
