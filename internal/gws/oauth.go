package gws

import "golang.org/x/oauth2"

// oauth2HTTPClient makes the token requests use our timeouts.
var oauth2HTTPClient = oauth2.HTTPClient
