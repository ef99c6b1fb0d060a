package app

import (
	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/captcha"
	"github.com/gesgo/ges/internal/config"
	"github.com/gesgo/ges/internal/credentials"
	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/httpapi"
)

// withStatisticsAndCaptcha adds the GWS Statistics proxy and the CAPTCHA
// check (with the validators of their stored credentials) to the APIs and
// the callback service.
func withStatisticsAndCaptcha(cfg *config.Config, svc *callback.Service, deps *httpapi.Deps, creds *credentials.Store) {
	statsURL := cfg.GWS.StatsURL
	if statsURL == "" {
		statsURL = cfg.GWS.EnvURL
	}
	verifyURL := cfg.CaptchaVerifyURL
	if verifyURL == "" {
		verifyURL = captcha.DefaultVerifyURL
	}
	deps.Statistics = gws.NewStatistics(cfg.GWS.AuthURL, statsURL, creds)
	deps.Statistics.Clock = svc.Clock
	deps.Captcha = captcha.New(verifyURL, creds)
	deps.Captcha.Clock = svc.Clock
	svc.Captcha = deps.Captcha
	if deps.CredentialChecks == nil {
		deps.CredentialChecks = map[string]func([]byte) error{}
	}
	deps.CredentialChecks[credentials.GWS] = gws.CheckCredentials
	deps.CredentialChecks[credentials.Captcha] = captcha.CheckCredentials
}
