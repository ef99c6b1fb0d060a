package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gesgo/ges/internal/gws"
	"github.com/gesgo/ges/internal/metrics"
)

// statistics proxies GWS Statistics with the tenant's stored GWS client
// credentials (engagement-api §3.9). POST with an empty body or any JSON
// object; GET is the legacy spelling (no body).
func (x *external) statistics(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Method == http.MethodPost {
		b, err := readBody(r, ExternalBodyLimit)
		if errors.Is(err, errTooLarge) {
			x.Metrics.Alert(metrics.InvalidContentLength)
			x.fail(w, r, http.StatusRequestEntityTooLarge, "Request body exceeds the limit of 500 KB", nil)
			return
		}
		if err != nil {
			x.fail(w, r, http.StatusBadRequest, "Could not read the request body", nil)
			return
		}
		if err := requireJSON(r, b); err != nil {
			x.fail(w, r, http.StatusUnsupportedMediaType, err.Error(), nil)
			return
		}
		if _, err := decodeObject(b); err != nil {
			x.fail(w, r, http.StatusBadRequest, "Malformed JSON body: "+jsonProblem(err), nil)
			return
		}
		body = b
	}
	if x.Statistics == nil {
		x.fail(w, r, http.StatusServiceUnavailable, "Statistics are not configured", nil)
		return
	}
	ri := info(r.Context())
	data, age, err := x.Statistics.Get(r.Context(), ri.tenant, body, cacheMaxAge(r.Header.Values("Cache-Control")))
	var re *gws.RequestError
	switch {
	case err == nil:
		w.Header().Set("Age", strconv.Itoa(int(age/time.Second)))
		x.ok(w, r, data)
	case errors.Is(err, gws.ErrNoCredentials):
		x.fail(w, r, http.StatusUnauthorized, "GWS credentials not configured", nil)
	case errors.Is(err, gws.ErrRejected):
		x.Metrics.Alert(metrics.GWSIncorrectClientCredentials)
		slog.Warn("GWS refused a tenant's statistics credentials", "corrId", ri.corrID, "tenant", ri.tenant, "err", err)
		x.fail(w, r, http.StatusUnauthorized, "GWS refused the stored GWS credentials", nil)
	case errors.Is(err, gws.ErrGWSUnavailable):
		x.Metrics.Alert(metrics.GWSServerError)
		slog.Error("GWS Statistics failed", "corrId", ri.corrID, "tenant", ri.tenant, "err", err)
		x.fail(w, r, http.StatusInternalServerError, "GWS Statistics is unavailable, try again", nil)
	case errors.As(err, &re):
		x.fail(w, r, http.StatusBadRequest, "GWS Statistics refused the request: "+truncate(re.Message, 200), nil)
	default:
		slog.Error("statistics request failed", "corrId", ri.corrID, "tenant", ri.tenant, "err", err)
		x.fail(w, r, http.StatusInternalServerError, "Internal error", nil)
	}
}

// cacheMaxAge reads max-age from cache-control (other directives are
// ignored); absent or unreadable means the default. The statistics proxy
// clamps it to its bounds.
func cacheMaxAge(values []string) time.Duration {
	d := gws.DefaultMaxAge
	for _, part := range strings.Split(strings.Join(values, ","), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "max-age") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), `"`))
		if err != nil || n < 0 {
			continue
		}
		d = time.Duration(min(n, 86400)) * time.Second
	}
	return d
}
