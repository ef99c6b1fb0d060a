package ors_test

import (
	"io"
	"net/http"
	"time"
)

var httptestClient = &http.Client{Timeout: 5 * time.Second}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func get(url string) (*http.Response, error) { return httptestClient.Get(url) }
