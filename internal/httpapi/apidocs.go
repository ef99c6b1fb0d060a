package httpapi

import (
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/web"
)

// apiDocsRoutes serves the API documentation page (Swagger UI, embedded)
// at /ges/api-docs/, beside the documents it shows
// (/ges/v1/openapi/{doc}). Like the documents it needs no sign-in: both
// describe the contract, not a tenant's data.
func apiDocsRoutes(r chi.Router) {
	files, err := fs.Sub(web.APIDocs, "apidocs")
	if err != nil {
		panic(err) // the embed pattern names the folder: a build defect
	}
	static := http.StripPrefix("/ges/api-docs/", http.FileServer(http.FS(files)))
	r.Get("/ges/api-docs", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ges/api-docs/", http.StatusMovedPermanently)
	})
	r.Get("/ges/api-docs/*", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Swagger UI sets style attributes from script; everything else
		// comes from this node only.
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "public, max-age=3600")
		static.ServeHTTP(w, r)
	})
}
