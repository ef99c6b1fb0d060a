package simhttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gesgo/ges/internal/sim/simhttp"
)

func TestFailures(t *testing.T) {
	var f simhttp.Failures
	if _, fail := f.Take(); fail {
		t.Fatal("zero value fails")
	}
	f.Set(2, 503)
	for i := range 2 {
		if st, fail := f.Take(); !fail || st != 503 {
			t.Fatalf("call %d: %d %v", i, st, fail)
		}
	}
	if _, fail := f.Take(); fail {
		t.Fatal("a third call failed")
	}
	f.Set(-7, 0)
	for range 5 {
		if _, fail := f.Take(); !fail {
			t.Fatal("armed for every call but passed")
		}
	}
	f.Clear()
	if _, fail := f.Take(); fail || f.State().Applied != 7 {
		t.Fatalf("after Clear: %+v", f.State())
	}
}

func TestHandleSet(t *testing.T) {
	var f simhttp.Failures
	h := f.HandleSet(500, 503)
	for _, tc := range []struct {
		method, query string
		code, left    int
	}{
		{http.MethodPost, "?count=3", 200, 3},
		{http.MethodPost, "", 200, -1},
		{http.MethodPost, "?count=0", 200, 0},
		{http.MethodPost, "?count=x", 400, 0},
		{http.MethodPost, "?count=1&status=404", 400, 0},
		{http.MethodPost, "?count=1&status=503", 200, 1},
		{http.MethodDelete, "", 200, 0},
	} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(tc.method, "/sim/x/fail"+tc.query, nil))
		if rec.Code != tc.code || f.State().Left != tc.left {
			t.Errorf("%s %s: %d, left %d", tc.method, tc.query, rec.Code, f.State().Left)
		}
	}
}

func TestBearer(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for hdr, want := range map[string]string{"": "", "Bearer abc": "abc", "bearer  xyz ": "xyz", "Basic abc": "", "Bearer": ""} {
		req.Header.Set("Authorization", hdr)
		if got := simhttp.Bearer(req); got != want {
			t.Errorf("%q: %q, want %q", hdr, got, want)
		}
	}
}
