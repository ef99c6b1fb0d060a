// Package web holds the Callback UI's templates and static assets, embedded
// into the binary so a deployment needs no front-end build or CDN.
package web

import "embed"

// Templates are the html/template pages: layout.html wraps every page
// template, which defines "title" and "content".
//
//go:embed templates/*.html
var Templates embed.FS

// Static holds the stylesheet and the small script of the UI.
//
//go:embed static
var Static embed.FS
