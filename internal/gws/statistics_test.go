package gws

import "testing"

func TestDataOf(t *testing.T) {
	for in, want := range map[string]string{
		`{"status":{"code":0},"data":{"statistics":[]}}`:                       `{"statistics":[]}`,
		`{"status":{"code":0},"data":{"statistics":[]},"errors":[{"code":1}]}`: `{"errors":[{"code":1}],"statistics":[]}`,
		`{"status":{"code":0},"statistics":[1]}`:                               `{"statistics":[1]}`,
		`[1,2]`:                                                                `{"value":[1,2]}`,
		``:                                                                     `{}`,
		`not json`:                                                             `{}`,
	} {
		if got := string(dataOf([]byte(in))); got != want {
			t.Errorf("dataOf(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCanonical(t *testing.T) {
	if canonical(nil) != canonical([]byte(" {} ")) {
		t.Error("an empty body and {} differ")
	}
	if canonical([]byte(`{ "a" : 1 }`)) != `{"a":1}` {
		t.Error("whitespace is not ignored")
	}
}

func TestCheckCredentials(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"clientId":"c","clientSecret":"s"}`:       true,
		`{"clientId":"","clientSecret":"s"}`:        false,
		`{"clientId":"c"}`:                          false,
		`{"clientId":"c","clientSecret":"s","x":1}`: false,
	} {
		if err := CheckCredentials([]byte(in)); (err == nil) != ok {
			t.Errorf("CheckCredentials(%s) = %v, want ok=%v", in, err, ok)
		}
	}
}
