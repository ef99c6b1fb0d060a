package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/captcha"
)

// verifyCaptcha is the legacy POST /captcha/verify (engagement-api §3.10
// L1): it verifies a token with the tenant's stored CAPTCHA secret. The
// verification uses the token up, as any verification does.
func (x *external) verifyCaptcha(w http.ResponseWriter, r *http.Request) {
	m, ok := x.body(w, r)
	if !ok {
		return
	}
	if _, err := requiredText(m, "siteKey"); err != nil {
		x.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	token, err := requiredText(m, "captchaToken")
	if err != nil {
		x.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	if x.Captcha == nil {
		x.fail(w, r, http.StatusServiceUnavailable, "CAPTCHA verification is not configured", nil)
		return
	}
	ri := info(r.Context())
	s, stored, err := x.Captcha.Settings(r.Context(), ri.tenant)
	if err != nil {
		x.failErr(w, r, &callback.Error{Kind: callback.KindUnavailable, Msg: "CAPTCHA settings cannot be read, try again", Err: err})
		return
	}
	if !stored || s.Secret == "" {
		x.fail(w, r, http.StatusBadRequest, "CAPTCHA is not configured for this contact center", nil)
		return
	}
	res, err := x.Captcha.Verify(r.Context(), s.Secret, token, "")
	if err != nil {
		slog.Error("CAPTCHA verifier failed", "corrId", ri.corrID, "err", err)
		x.fail(w, r, http.StatusServiceUnavailable, "CAPTCHA verification is unavailable, try again", nil)
		return
	}
	if err := captcha.Outcome(ri.tenant, res); err != nil && callback.KindOf(err) == callback.KindUnavailable {
		x.failErr(w, r, err)
		return
	}
	x.ok(w, r, map[string]bool{"success": res.Success})
}
