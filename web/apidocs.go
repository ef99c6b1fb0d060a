package web

import "embed"

// APIDocs is the API documentation page (Swagger UI, vendored from npm
// with its licence: apidocs/README.md) over the documents of api/.
//
//go:embed apidocs
var APIDocs embed.FS
