// Command ges is the Genesys Engagement Service: the callback service with
// its internal (GMS-compatible) and external (Engagement API) ports and the
// callback monitor.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gesgo/ges/internal/app"
	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/logging"
	"github.com/gesgo/ges/internal/metrics"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

func main() {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(2)
	}
	m := metrics.New(version)
	slog.SetDefault(logging.New(os.Stdout, cfg.LogLevel, cfg.LogMaxLen, func() { m.Alert(metrics.LoggingFailure) }))
	logging.RouteRedis()
	slog.Info("configuration", "settings", cfg.Redacted())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := app.Run(ctx, cfg, version, m); err != nil {
		slog.Error("GES failed", "err", err)
		os.Exit(1)
	}
}
