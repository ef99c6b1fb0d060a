package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gesgo/ges/internal/sim"
	"github.com/gesgo/ges/internal/sim/designer"
	"github.com/gesgo/ges/internal/sim/fixture"
)

func serve(args []string, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg sim.Config
	fixturePath := fs.String("fixture", "", "fixture file (JSON)")
	fs.StringVar(&cfg.VoiceRedis, "voice-redis", "", "Voice Redis host:port holding the session stream")
	fs.StringVar(&cfg.VoiceRedisPassword, "voice-redis-password", "", "Voice Redis password")
	fs.StringVar(&cfg.AuthAddr, "auth-addr", "", "GWS Auth listen address")
	fs.StringVar(&cfg.EnvAddr, "env-addr", "", "GWS Environment listen address")
	fs.StringVar(&cfg.ORSAddr, "ors-addr", "", "ORS session API listen address")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", "", "simulator admin API listen address")
	fs.StringVar(&cfg.PublishTo, "publish-to", "", "GES internal base URL to publish the fixture's tables to at start")
	fs.Var((*addrList)(&cfg.URSAddrs), "urs-addr", "URS listen address; repeat (or separate with commas) for several instances, indexed from 0 in order")
	fs.StringVar(&cfg.StatsAddr, "stats-addr", "", "GWS Statistics listen address (optional)")
	fs.StringVar(&cfg.ConfAddr, "conf-addr", "", "GWS Configuration listen address (optional)")
	fs.StringVar(&cfg.FCMAddr, "fcm-addr", "", "Firebase Cloud Messaging listen address (optional)")
	fs.StringVar(&cfg.CaptchaAddr, "captcha-addr", "", "reCAPTCHA siteverify listen address (optional)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.PublishToken = os.Getenv(designer.TokenEnv)
	missing := []string{}
	for name, v := range map[string]string{"fixture": *fixturePath, "voice-redis": cfg.VoiceRedis,
		"auth-addr": cfg.AuthAddr, "env-addr": cfg.EnvAddr, "ors-addr": cfg.ORSAddr, "admin-addr": cfg.AdminAddr} {
		if v == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gessim serve: missing %v or extra arguments %v\n%s", missing, fs.Args(), usage)
		return 2
	}
	fx, err := fixture.Load(*fixturePath)
	if err != nil {
		log.Error("cannot load fixture", "err", err)
		return 1
	}
	cfg.Fixture, cfg.Logger = fx, log
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := sim.Start(cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("gessim started", "addrs", s.Addrs(), "contactCenters", len(fx.ContactCenters), "users", len(fx.Users),
		"voiceRedis", cfg.VoiceRedis, "publishTo", cfg.PublishTo)
	<-ctx.Done()
	log.Info("gessim stopping")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(shutdown); err != nil {
		log.Warn("unclean shutdown", "err", err)
	}
	log.Info("gessim stopped")
	return 0
}

// addrList is a flag that may be repeated and may hold comma-separated
// addresses.
type addrList []string

func (a *addrList) String() string { return strings.Join(*a, ",") }

func (a *addrList) Set(v string) error {
	for _, addr := range strings.Split(v, ",") {
		if addr = strings.TrimSpace(addr); addr == "" {
			return fmt.Errorf("empty address in %q", v)
		}
		*a = append(*a, addr)
	}
	return nil
}
