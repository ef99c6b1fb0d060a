package api

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestDocumentsValid loads each embedded document with a full OpenAPI 3
// loader and validator, so a stray key or a broken $ref fails the build
// instead of reaching the clients generated from the served document.
func TestDocumentsValid(t *testing.T) {
	for _, name := range []string{"external.yaml", "internal.yaml"} {
		t.Run(name, func(t *testing.T) {
			b, err := FS.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := openapi3.NewLoader().LoadFromData(b)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if err := doc.Validate(context.Background()); err != nil {
				t.Fatalf("validate: %v", err)
			}
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					if op.OperationID == "" {
						t.Errorf("%s %s: no operationId", method, path)
					}
				}
			}
		})
	}
}
