package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gesgo/ges/internal/sim/designer"
	"github.com/gesgo/ges/internal/sim/fixture"
)

// publish sends the tables once and prints each of GES' answers on stdout.
func publish(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fixturePath := fs.String("fixture", "", "fixture file (JSON)")
	ges := fs.String("ges", "", "GES internal base URL")
	ccid := fs.String("ccid", "", "publish only this contact center")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *fixturePath == "" || *ges == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gessim publish: --fixture and --ges are required\n%s", usage)
		return 2
	}
	fx, err := fixture.Load(*fixturePath)
	if err != nil {
		log.Error("cannot load fixture", "err", err)
		return 1
	}
	ccs := fx.ContactCenters
	if *ccid != "" {
		cc, ok := fx.ContactCenterByID(*ccid)
		if !ok {
			log.Error("unknown contact center", "ccid", *ccid)
			return 1
		}
		ccs = []fixture.ContactCenter{cc}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hc := designer.WithToken(&http.Client{Timeout: 30 * time.Second}, os.Getenv(designer.TokenEnv))
	for _, cc := range ccs {
		results, err := designer.PublishAll(ctx, hc, *ges, cc)
		for _, r := range results {
			log.Info("published", "ccid", r.CCID, "table", r.Table, "status", r.Status)
			fmt.Fprintf(stdout, "%s\n", r.Body)
			if !r.OK() {
				log.Error("GES refused the table", "ccid", r.CCID, "table", r.Table, "status", r.Status)
				return 1
			}
		}
		if err != nil {
			log.Error("publish failed", "err", err)
			return 1
		}
	}
	return 0
}
