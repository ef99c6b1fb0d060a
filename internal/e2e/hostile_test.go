package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/testenv"
)

// Where a hostile request goes.
const (
	apiExt = "external" // /engagement/v3, X-API-Key, {status:{code,message,corrId}}
	apiGMS = "gms"      // /genesys/..., ContactCenterId, {exception,message}
	apiUI  = "ui"       // the Callback UI's forms, an HTML page
)

// hostileCase is one hostile or careless request and the answer it must
// get. key and ccid name the credentials: "" is the default (Demo's),
// "-" none at all. ctype "" is application/json, "-" no Content-Type.
type hostileCase struct {
	name         string
	api          string
	method, path string
	key, ccid    string
	ctype        string
	header       http.Header
	body         string
	form         url.Values // UI cases: the form, _csrf added
	status       int
	msg          string // a part of the envelope's message (the UI: of the page)
	// creates: the request is accepted and books one callback of Demo.
	creates bool
}

// Texts of Go, its runtime or a driver that must never reach a caller.
var leakRE = regexp.MustCompile(`(?i)goroutine|panic|runtime error|nil pointer|\.go:\d|Go value|Go struct|json: |pgx|SQLSTATE|pq: |redis: |ERR |dial tcp|context deadline|connection refused|stack trace`)

// A bad or careless input of any kind, on any API, is refused with the
// API's own error in its envelope (never a 5xx, never an internal text),
// or accepted when the contract is lenient; afterwards Redis and
// Postgres hold exactly the callbacks of the accepted cases, no tenant
// was reached through another's credentials, nothing panicked and no
// 5xx was counted.
func TestHostileInput(t *testing.T) {
	s := testenv.NewStack(t, testenv.StackOptions{Env: map[string]string{
		// Every wrong key here would otherwise soon be answered 429.
		"API_KEY_FAILURES_PER_MINUTE": "100000",
	}})
	n := s.Nodes[0]
	demo, other := demoCCID(s), otherCCID(s)
	later := time.Now().Add(2 * time.Hour).UTC()
	own := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550109000", "desiredTime": wireTime(later)})
	// victim is what the refused bulk cancels name.
	victim := create(t, n, demoKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550109002", "desiredTime": wireTime(later)})
	theirs := create(t, n, otherKey, map[string]any{"serviceName": "Callback_Sales", "phoneNumber": "+15550109001", "desiredTime": wireTime(later)})
	admin := gwsSignIn(t, n, "admin", "admin-pw")
	csrf := uiCSRF(t, admin, n)

	const (
		cr      = "/engagement/v3/callbacks/create"
		rt      = "/engagement/v3/callbacks/retrieve"
		cn      = "/engagement/v3/callbacks/cancel"
		gms     = "/genesys/1/service/callback/Callback_Sales"
		gmsRoot = "/genesys/1/service/callback"
	)
	valid := func(phone string, extra string) string {
		return `{"serviceName":"Callback_Sales","phoneNumber":"` + phone + `"` + extra + `}`
	}
	// ext and gmsc build the common cases.
	ext := func(name, path, body string, status int, msg string) hostileCase {
		return hostileCase{name: name, api: apiExt, method: "POST", path: path, body: body, status: status, msg: msg}
	}
	gmsc := func(name, method, path, body string, status int, msg string) hostileCase {
		return hostileCase{name: name, api: apiGMS, method: method, path: path, body: body, status: status, msg: msg}
	}
	ui := func(name, path string, form url.Values, status int, msg string) hostileCase {
		return hostileCase{name: name, api: apiUI, method: "POST", path: path, form: form, status: status, msg: msg}
	}
	accepted := func(c hostileCase) hostileCase { c.creates = true; return c }
	with := func(c hostileCase, f func(*hostileCase)) hostileCase { f(&c); return c }
	at := func(d time.Duration) string { return wireTime(time.Now().Add(d)) }
	ud := func(members string) string { return valid("+15550101999", `,"userData":{`+members+`}`) }
	manyKeys := func(k int) string {
		var b strings.Builder
		for i := range k {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%d":"v"`, i)
		}
		return b.String()
	}
	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	_ = mw.WriteField("serviceName", "Callback_Sales")
	_ = mw.Close()

	cases := []hostileCase{
		// --- external API: bodies that are not one JSON object
		ext("ext empty body", cr, "", 400, "serviceName is required"),
		ext("ext only whitespace", cr, " \n\t ", 400, "serviceName is required"),
		ext("ext truncated object", cr, `{"serviceName":"Callback_Sales","phoneNumber":"+1555`, 400, "Malformed JSON"),
		ext("ext lone brace", cr, `{`, 400, "Malformed JSON"),
		ext("ext JSON null", cr, `null`, 400, "serviceName is required"),
		ext("ext JSON string", cr, `"hello"`, 400, "Malformed JSON"),
		ext("ext JSON array", cr, `[{"serviceName":"Callback_Sales"}]`, 400, "Malformed JSON"),
		ext("ext JSON number", cr, `42`, 400, "Malformed JSON"),
		ext("ext two objects", cr, valid("+15550101000", "")+valid("+15550101001", ""), 400, "trailing data"),
		ext("ext trailing garbage", cr, valid("+15550101002", "")+` xyz`, 400, "Malformed JSON"),
		ext("ext single quotes", cr, `{'serviceName':'Callback_Sales'}`, 400, "Malformed JSON"),
		ext("ext trailing comma", cr, `{"serviceName":"Callback_Sales","phoneNumber":"+15550101003",}`, 400, "Malformed JSON"),
		ext("ext comment", cr, `{"serviceName":"Callback_Sales", /* x */ "phoneNumber":"+15550101004"}`, 400, "Malformed JSON"),
		ext("ext NaN number", cr, valid("+15550101005", `,"priority":NaN`), 400, "Malformed JSON"),
		ext("ext deep nesting", cr, valid("+15550101006", `,"x":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)), 400, "Malformed JSON"),
		// --- duplicate keys, at any depth
		ext("ext duplicate serviceName", cr, `{"serviceName":"Callback_Sales","serviceName":"Callback_Support","phoneNumber":"+15550101007"}`, 400, "duplicate key"),
		ext("ext duplicate phoneNumber", cr, `{"serviceName":"Callback_Sales","phoneNumber":"+15550101008","phoneNumber":"+15550101009"}`, 400, "duplicate key"),
		ext("ext duplicate in userData", cr, ud(`"a":"1","a":"2"`), 400, "duplicate key"),
		ext("ext duplicate deep in userData", cr, ud(`"a":{"b":{"c":1,"c":2}}`), 400, "duplicate key"),
		ext("ext duplicate in unknown field", cr, valid("+15550101010", `,"x":{"y":[{"z":1,"z":2}]}`), 400, "duplicate key"),
		ext("ext duplicate in pushTargets", cr, valid("+15550101011", `,"pushTargets":[{"channel":"FCM","channel":"APNS","target":"t"}]`), 400, "duplicate key"),
		ext("ext duplicate id on retrieve", rt, `{"id":"`+own+`","id":"`+theirs+`"}`, 400, "duplicate key"),
		// --- sizes
		ext("ext body over 500 KB", cr, ud(`"big":"`+strings.Repeat("x", 600*1000)+`"`), 413, "exceeds"),
		ext("ext userData value over 64 KB", cr, ud(`"big":"`+strings.Repeat("x", 70*1000)+`"`), 400, "at most 65536"),
		ext("ext userData key over 256 chars", cr, ud(`"`+strings.Repeat("k", 300)+`":"v"`), 400, "at most 256"),
		ext("ext userData over 1000 keys", cr, ud(manyKeys(1001)), 400, "more than 1000 keys"),
		ext("ext serviceName over 256 chars", cr, `{"serviceName":"`+strings.Repeat("S", 300)+`","phoneNumber":"+15550101012"}`, 400, "at most 256"),
		ext("ext language over 64 KB", cr, valid("+15550101013", `,"language":"`+strings.Repeat("l", 70*1000)+`"`), 400, "at most 65536"),
		ext("ext phone over 64 chars", cr, valid("+1"+strings.Repeat(" 5", 40), ""), 400, "at most 64"),
		ext("ext phone over 32 digits", cr, valid("+"+strings.Repeat("5", 40), ""), 400, "at most 32"),
		ext("ext desiredTime of 10 KB", cr, valid("+15550101014", `,"desiredTime":"`+strings.Repeat("9", 10000)+`"`), 400, "Invalid desiredTime"),
		// --- content types
		with(ext("ext text/plain", cr, valid("+15550101015", ""), 415, "Unsupported Content-Type"), func(c *hostileCase) { c.ctype = "text/plain" }),
		with(ext("ext no Content-Type", cr, valid("+15550101016", ""), 415, "Unsupported Content-Type"), func(c *hostileCase) { c.ctype = "-" }),
		with(ext("ext XML", cr, `<callback/>`, 415, "Unsupported Content-Type"), func(c *hostileCase) { c.ctype = "application/xml" }),
		with(ext("ext form-urlencoded", cr, "serviceName=Callback_Sales&phoneNumber=%2B15550101017", 415, "Unsupported Content-Type"), func(c *hostileCase) { c.ctype = "application/x-www-form-urlencoded" }),
		with(ext("ext multipart", cr, multi.String(), 415, "Unsupported Content-Type"), func(c *hostileCase) { c.ctype = mw.FormDataContentType() }),
		with(ext("ext unparsable Content-Type", cr, valid("+15550101018", ""), 415, "Unsupported Content-Type"), func(c *hostileCase) { c.ctype = "application/json; ===" }),
		with(accepted(ext("ext JSON with charset", cr, valid("+15550101019", ""), 200, "Successful")), func(c *hostileCase) { c.ctype = "application/json; charset=utf-8" }),
		// --- NUL, invalid UTF-8 and lone surrogates in every text field
		ext("ext NUL in serviceName", cr, `{"serviceName":"Callback_Sales\u0000","phoneNumber":"+15550101020"}`, 400, "NUL"),
		ext("ext NUL in phoneNumber", cr, valid(`+1555\u00000101021`, ""), 400, "NUL"),
		ext("ext NUL in language", cr, valid("+15550101022", `,"language":"en\u0000"`), 400, "NUL"),
		ext("ext NUL in channel", cr, valid("+15550101023", `,"channel":"\u0000"`), 400, "NUL"),
		ext("ext NUL in cbOriginationIxnId", cr, valid("+15550101024", `,"cbOriginationIxnId":"a\u0000b"`), 400, "NUL"),
		ext("ext NUL in routePoint", cr, valid("+15550101025", `,"routePoint":"8999\u0000"`), 400, "NUL"),
		ext("ext NUL in userData value", cr, ud(`"note":"a\u0000b"`), 400, "NUL"),
		ext("ext NUL in nested userData value", cr, ud(`"a":{"b":["x","\u0000"]}`), 400, "NUL"),
		ext("ext NUL in nested userData key", cr, ud(`"a":{"b\u0000":"x"}`), 400, "NUL"),
		ext("ext NUL in pushTargets target", cr, valid("+15550101026", `,"pushTargets":[{"channel":"FCM","target":"t\u0000"}]`), 400, "NUL"),
		ext("ext NUL in retrieve id", rt, `{"id":"`+own[:35]+`\u0000"}`, 400, "Invalid id"),
		ext("ext invalid UTF-8 in serviceName", cr, "{\"serviceName\":\"Callback_\xff\",\"phoneNumber\":\"+15550101027\"}", 400, "UTF-8"),
		ext("ext invalid UTF-8 in phoneNumber", cr, valid("+1555\xc3\x280101028", ""), 400, "UTF-8"),
		ext("ext invalid UTF-8 in userData key", cr, ud("\"k\xfe\":\"v\""), 400, "UTF-8"),
		ext("ext invalid UTF-8 in userData value", cr, ud("\"k\":\"\xed\xa0\x80\""), 400, "UTF-8"),
		ext("ext invalid UTF-8 in unknown key", cr, valid("+15550101029", ",\"\xc0\xaf\":1"), 400, "UTF-8"),
		ext("ext lone surrogate in serviceName", cr, `{"serviceName":"Callback_Sales\ud800","phoneNumber":"+15550101030"}`, 400, "surrogate"),
		ext("ext lone surrogate in phoneNumber", cr, valid(`+1555\ud8000101031`, ""), 400, "surrogate"),
		ext("ext lone low surrogate in language", cr, valid("+15550101032", `,"language":"\udc00"`), 400, "surrogate"),
		ext("ext lone surrogate in userData key", cr, ud(`"k\ud800":"v"`), 400, "surrogate"),
		ext("ext lone surrogate in userData value", cr, ud(`"k":"\udbff"`), 400, "surrogate"),
		ext("ext reversed surrogate pair", cr, ud(`"k":"\ude00\ud83d"`), 400, "surrogate"),
		ext("ext lone surrogate in retrieve id", rt, `{"id":"\ud800"}`, 400, "surrogate"),
		accepted(ext("ext surrogate pair in userData", cr, valid("+15550101033", `,"userData":{"smile":"\ud83d\ude00"}`), 200, "Successful")),
		accepted(ext("ext escaped backslash before u", cr, valid("+15550101034", `,"userData":{"path":"C:\\ud800"}`), 200, "Successful")),
		// --- wrong types
		ext("ext serviceName number", cr, `{"serviceName":5,"phoneNumber":"+15550101035"}`, 400, "Invalid serviceName"),
		ext("ext serviceName object", cr, `{"serviceName":{"a":1},"phoneNumber":"+15550101036"}`, 400, "Invalid serviceName"),
		ext("ext phoneNumber number", cr, `{"serviceName":"Callback_Sales","phoneNumber":15550101037}`, 400, "Invalid phoneNumber"),
		ext("ext phoneNumber array", cr, `{"serviceName":"Callback_Sales","phoneNumber":["+15550101038"]}`, 400, "Invalid phoneNumber"),
		ext("ext phoneNumber boolean", cr, `{"serviceName":"Callback_Sales","phoneNumber":true}`, 400, "Invalid phoneNumber"),
		ext("ext desiredTime number", cr, valid("+15550101039", `,"desiredTime":1893456000000`), 400, "Invalid desiredTime"),
		ext("ext userData array", cr, valid("+15550101040", `,"userData":[1,2]`), 400, "Invalid userData"),
		ext("ext userData number", cr, valid("+15550101041", `,"userData":7`), 400, "Invalid userData"),
		ext("ext userData boolean", cr, valid("+15550101042", `,"userData":true`), 400, "Invalid userData"),
		ext("ext priority text", cr, valid("+15550101043", `,"priority":"high"`), 400, "Invalid priority"),
		ext("ext offerThreshold object", cr, valid("+15550101044", `,"offerThreshold":{}`), 400, "Invalid offerThreshold"),
		ext("ext alwaysCheckCapacity text", cr, valid("+15550101045", `,"alwaysCheckCapacity":"false"`), 400, "Invalid alwaysCheckCapacity"),
		ext("ext pushTargets object", cr, valid("+15550101046", `,"pushTargets":{"channel":"FCM"}`), 400, "Invalid pushTargets"),
		ext("ext pushTargets of strings", cr, valid("+15550101047", `,"pushTargets":["FCM"]`), 400, "Invalid pushTargets"),
		ext("ext language number", cr, valid("+15550101048", `,"language":1`), 400, "Invalid language"),
		ext("ext retrieve id number", rt, `{"id":12345}`, 400, "Invalid id"),
		ext("ext retrieve id object", rt, `{"id":{"$ne":null}}`, 400, "Invalid id"),
		ext("ext retrieve no id", rt, `{}`, 400, "id is required"),
		ext("ext cancel id array", cn, `{"id":["`+own+`"]}`, 400, "Invalid id"),
		// --- unknown keys and lenient forms (accepted, the unknown parts dropped)
		accepted(ext("ext unknown keys", cr, valid("+15550101049", `,"__proto__":{"admin":true},"constructor":1,"ccid":"`+other+`"`), 200, "Successful")),
		accepted(ext("ext NUL in an unknown key's value", cr, valid("+15550101050", `,"whatever":"a\u0000b"`), 200, "Successful")),
		accepted(ext("ext userData key not an identifier", cr, valid("+15550101051", `,"userData":{"a b":"x","1x":"y","<img>":"z","ok":"v"}`), 200, "Successful")),
		accepted(ext("ext legacy userData not JSON", cr, valid("+15550101052", `,"userData":"not json"`), 200, "Successful")),
		// --- phone numbers
		ext("ext phone letters", cr, valid("abc", ""), 400, "Invalid phoneNumber"),
		ext("ext phone markup", cr, valid("<img src=x>", ""), 400, "Invalid phoneNumber"),
		ext("ext phone SQL", cr, valid("1'; DROP TABLE callbacks;--", ""), 400, "Invalid phoneNumber"),
		ext("ext phone inner plus", cr, valid("1+5550101053", ""), 400, "Invalid phoneNumber"),
		ext("ext phone only plus", cr, valid("+", ""), 400, "no digits"),
		ext("ext phone only separators", cr, valid("(--)", ""), 400, "no digits"),
		ext("ext phone blank", cr, valid("   ", ""), 400, "phoneNumber is required"),
		ext("ext phone tab", cr, valid(`555\t0101054`, ""), 400, "Invalid phoneNumber"),
		ext("ext phone extension", cr, valid("+1 555 0101 ext 2", ""), 400, "Invalid phoneNumber"),
		ext("ext phone Arabic-Indic digits", cr, valid("١٢٣٤٥٦", ""), 400, "Invalid phoneNumber"),
		ext("ext phone full-width", cr, valid("＋１５５５０１０１", ""), 400, "Invalid phoneNumber"),
		ext("ext phone newline", cr, valid(`+1555\n0101055`, ""), 400, "Invalid phoneNumber"),
		accepted(ext("ext phone with spaces", cr, valid("+1 555 010 1056", ""), 200, "Successful")),
		accepted(ext("ext phone with brackets and dashes", cr, valid("+1 (555) 010-1057", ""), 200, "Successful")),
		accepted(ext("ext phone with dots and slash", cr, valid("555.010/1058", ""), 200, "Successful")),
		// --- dates
		ext("ext date February 30", cr, valid("+15550101059", `,"desiredTime":"2026-02-30T10:00:00.000Z"`), 400, "Invalid desiredTime"),
		ext("ext date hour 25", cr, valid("+15550101060", `,"desiredTime":"2030-01-02T25:00:00Z"`), 400, "Invalid desiredTime"),
		ext("ext date month 13", cr, valid("+15550101061", `,"desiredTime":"2030-13-02T10:00:00Z"`), 400, "Invalid desiredTime"),
		ext("ext date words", cr, valid("+15550101062", `,"desiredTime":"tomorrow at noon"`), 400, "Invalid desiredTime"),
		ext("ext date only", cr, valid("+15550101063", `,"desiredTime":"2030-01-02"`), 400, "Invalid desiredTime"),
		ext("ext date with a space", cr, valid("+15550101064", `,"desiredTime":"2030-01-02 10:00:00"`), 400, "Invalid desiredTime"),
		ext("ext date RFC 1123", cr, valid("+15550101065", `,"desiredTime":"Wed, 02 Jan 2030 10:00:00 GMT"`), 400, "Invalid desiredTime"),
		ext("ext date epoch text", cr, valid("+15550101066", `,"desiredTime":"1893456000"`), 400, "Invalid desiredTime"),
		ext("ext date offset 25h", cr, valid("+15550101067", `,"desiredTime":"2030-01-02T10:00:00+25:00"`), 400, "Invalid desiredTime"),
		ext("ext date year 9999", cr, valid("+15550101068", `,"desiredTime":"9999-12-31T23:59:59.999Z"`), 400, "horizon"),
		ext("ext date year 10000", cr, valid("+15550101069", `,"desiredTime":"10000-01-01T00:00:00Z"`), 400, "Invalid desiredTime"),
		accepted(ext("ext date far past books now", cr, valid("+15550101070", `,"desiredTime":"1900-01-01T00:00:00Z"`), 200, "Successful")),
		accepted(ext("ext date offset +05:30", cr, valid("+15550101071", `,"desiredTime":"`+time.Now().Add(3*time.Hour).In(time.FixedZone("", 5*3600+1800)).Format("2006-01-02T15:04:05.000-07:00")+`"`), 200, "Successful")),
		accepted(ext("ext date offset without colon", cr, valid("+15550101072", `,"desiredTime":"`+time.Now().Add(3*time.Hour).In(time.FixedZone("", -5*3600)).Format("2006-01-02T15:04:05-0700")+`"`), 200, "Successful")),
		// --- ids: not UUIDs, and the other tenant's
		ext("ext retrieve not a UUID", rt, `{"id":"not-a-uuid"}`, 400, "Invalid id"),
		ext("ext retrieve path traversal id", rt, `{"id":"../../etc/passwd"}`, 400, "Invalid id"),
		ext("ext retrieve SQL id", rt, `{"id":"' OR 1=1 --"}`, 400, "Invalid id"),
		ext("ext retrieve UUID with braces", rt, `{"id":"{`+own+`}"}`, 400, "Invalid id"),
		ext("ext retrieve unknown UUID", rt, `{"id":"00000000-0000-4000-8000-000000000000"}`, 404, "not found"),
		ext("ext retrieve other tenant's id", rt, `{"id":"`+theirs+`"}`, 404, "not found"),
		ext("ext cancel other tenant's id", cn, `{"id":"`+theirs+`"}`, 404, "not found"),
		ext("ext cancel not a UUID", cn, `{"id":"`+own+`x"}`, 400, "Invalid id"),
		with(ext("ext other key retrieves Demo's id", rt, `{"id":"`+own+`"}`, 404, "not found"), func(c *hostileCase) { c.key = otherKey }),
		with(ext("ext other key cancels Demo's id", cn, `{"id":"`+own+`"}`, 404, "not found"), func(c *hostileCase) { c.key = otherKey }),
		// --- API keys and tenant headers
		with(ext("ext no API key", cr, valid("+15550101073", ""), 401, "Invalid or missing API key"), func(c *hostileCase) { c.key = "-" }),
		with(ext("ext wrong API key", cr, valid("+15550101074", ""), 401, "Invalid or missing API key"), func(c *hostileCase) { c.key = "wrong-key" }),
		with(ext("ext blank API key", rt, `{"id":"`+own+`"}`, 401, "Invalid or missing API key"), func(c *hostileCase) { c.key = "   " }),
		with(ext("ext API key of 8 KB", rt, `{"id":"`+own+`"}`, 401, "Invalid or missing API key"), func(c *hostileCase) { c.key = strings.Repeat("k", 8000) }),
		with(ext("ext API key with markup", rt, `{"id":"`+own+`"}`, 401, "Invalid or missing API key"), func(c *hostileCase) { c.key = "<script>alert(1)</script>" }),
		with(ext("ext ContactCenterId header", rt, `{"id":"`+theirs+`"}`, 400, "not accepted"), func(c *hostileCase) { c.header = headers("ContactCenterId", other) }),
		with(ext("ext ccid header", cr, valid("+15550101075", ""), 400, "not accepted"), func(c *hostileCase) { c.header = headers("ccid", other) }),
		// --- paths and query strings
		{name: "ext dot-dot path", api: apiExt, method: "GET", path: "/engagement/v3/../../etc/passwd", status: 404, msg: "Not found"},
		{name: "ext encoded dot-dot path", api: apiExt, method: "GET", path: "/engagement/v3/%2e%2e/%2e%2e/etc/passwd", status: 404, msg: "Not found"},
		{name: "ext traversal in service name", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/..%2F..%2Fetc%2Fpasswd", status: 400, msg: "Unknown service"},
		{name: "ext NUL in service name", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/open-for/Callback_Sales%00", status: 400, msg: "Unknown service"},
		{name: "ext invalid UTF-8 in queue name", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/queue-status/%ff%fe", status: 400, msg: "Unknown service"},
		{name: "ext huge query string", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/queue-status/Callback_Sales?x=" + strings.Repeat("a", 200*1000), status: 200, msg: "Successful"},
		{name: "ext availability bad start", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?start=2026-02-30T00:00:00Z", status: 400, msg: "start"},
		{name: "ext availability negative days", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?numberOfDays=-5", status: 400, msg: "numberOfDays"},
		{name: "ext availability days past a Duration", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?numberOfDays=106752", status: 400, msg: "numberOfDays"},
		{name: "ext availability many days", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?numberOfDays=100000", status: 200, msg: "Successful"},
		{name: "ext availability huge slots", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?maxTimeSlots=99999999999999999999", status: 400, msg: "maxTimeSlots"},
		{name: "ext availability startMS text", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?startMS=yesterday", status: 400, msg: "startMS"},
		{name: "ext availability year 9999", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?start=9999-12-31T00:00:00Z", status: 200, msg: "Successful"},
		{name: "ext availability end before start", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?start=2030-01-02T00:00:00Z&end=2030-01-01T00:00:00Z", status: 400, msg: "ends before"},
		{name: "ext availability traversal time zone", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?timezone=..%2F..%2Fetc%2Fpasswd", status: 400, msg: "timezone"},
		{name: "ext availability absolute time zone", api: apiExt, method: "GET", path: "/engagement/v3/callbacks/availability/Callback_Sales?timezone=%2Fetc%2Flocaltime", status: 400, msg: "timezone"},
		{name: "ext wrong verb", api: apiExt, method: "GET", path: cr, status: 405, msg: "not allowed"},
		{name: "ext unknown verb", api: apiExt, method: "BREW", path: rt, status: 405, msg: "not allowed"},

		// --- GMS API: tenant header
		with(gmsc("gms no ContactCenterId", "POST", gms, `{"_customer_number":"+15550102000"}`, 400, "ContactCenterId header is required"), func(c *hostileCase) { c.ccid = "-" }),
		with(gmsc("gms unknown ContactCenterId", "POST", gms, `{"_customer_number":"+15550102001"}`, 400, "not configured"), func(c *hostileCase) { c.ccid = "00000000-0000-4000-8000-000000000000" }),
		with(gmsc("gms ContactCenterId of 4 KB", "GET", gms, "", 400, "not configured"), func(c *hostileCase) { c.ccid = strings.Repeat("c", 4000) }),
		with(gmsc("gms ContactCenterId traversal", "GET", gms, "", 400, "not configured"), func(c *hostileCase) { c.ccid = "../" + demo }),
		with(gmsc("gms x-ccid unknown", "GET", gms, "", 400, "not configured"), func(c *hostileCase) { c.ccid = "-"; c.header = headers("x-ccid", "nobody") }),
		// --- GMS create bodies
		gmsc("gms malformed JSON", "POST", gms, `{"_customer_number":`, 400, "Malformed request body"),
		gmsc("gms JSON array", "POST", gms, `["_customer_number"]`, 400, "Malformed request body"),
		gmsc("gms duplicate key", "POST", gms, `{"_customer_number":"+15550102002","_customer_number":"+15550102003"}`, 400, "duplicate key"),
		gmsc("gms duplicate nested key", "POST", gms, `{"_customer_number":"+15550102004","x":{"a":1,"a":2}}`, 400, "duplicate key"),
		gmsc("gms missing number", "POST", gms, `{"note":"x"}`, 400, "_customer_number is missing"),
		gmsc("gms number letters", "POST", gms, `{"_customer_number":"abc"}`, 400, "Invalid phoneNumber"),
		gmsc("gms number markup", "POST", gms, `{"_customer_number":"<img src=x>"}`, 400, "Invalid phoneNumber"),
		gmsc("gms NUL in user data", "POST", gms, `{"_customer_number":"+15550102005","note":"a\u0000"}`, 400, "NUL"),
		gmsc("gms NUL in a key", "POST", gms, `{"_customer_number":"+15550102006","no\u0000te":"a"}`, 400, "NUL"),
		gmsc("gms NUL in an option", "POST", gms, `{"_customer_number":"+15550102007","_vq":"\u0000"}`, 400, "NUL"),
		gmsc("gms lone surrogate in key", "POST", gms, `{"_customer_number":"+15550102008","k\ud800":"a"}`, 400, "surrogate"),
		gmsc("gms lone surrogate in value", "POST", gms, `{"_customer_number":"+15550102009","k":"\udfff"}`, 400, "surrogate"),
		gmsc("gms invalid UTF-8", "POST", gms, "{\"_customer_number\":\"+15550102010\",\"k\":\"\xff\"}", 400, "UTF-8"),
		gmsc("gms key over 256 chars", "POST", gms, `{"_customer_number":"+15550102011","`+strings.Repeat("k", 300)+`":"v"}`, 400, "at most 256"),
		gmsc("gms value over 64 KB", "POST", gms, `{"_customer_number":"+15550102012","k":"`+strings.Repeat("v", 70*1000)+`"}`, 400, "at most 65536"),
		gmsc("gms body over 10 MB", "POST", gms, `{"_customer_number":"+15550102013","k":"`+strings.Repeat("v", 10*1000*1000+10)+`"}`, 413, "exceeds"),
		gmsc("gms bad desired time", "POST", gms, `{"_customer_number":"+15550102014","_desired_time":"2026-02-30T10:00:00.000Z"}`, 400, "Invalid _desired_time"),
		gmsc("gms desired time words", "POST", gms, `{"_customer_number":"+15550102015","_desired_time":"soon"}`, 400, "Invalid _desired_time"),
		gmsc("gms desired year 9999", "POST", gms, `{"_customer_number":"+15550102016","_desired_time":"9999-12-31T23:59:59.000Z"}`, 400, "horizon"),
		gmsc("gms unknown service", "POST", "/genesys/1/service/callback/Nope", `{"_customer_number":"+15550102017"}`, 400, "Unknown service"),
		gmsc("gms traversal service", "POST", "/genesys/1/service/callback/..%2F..%2Fetc", `{"_customer_number":"+15550102018"}`, 400, "Unknown service"),
		gmsc("gms NUL in service", "POST", "/genesys/1/service/callback/Callback_Sales%00", `{"_customer_number":"+15550102019"}`, 400, "NUL"),
		with(gmsc("gms text/plain", "POST", gms, `{"_customer_number":"+15550102020"}`, 415, "Unsupported Content-Type"), func(c *hostileCase) { c.ctype = "text/plain" }),
		with(gmsc("gms form invalid UTF-8", "POST", gms, "_customer_number=%2B15550102021&k=%ff", 400, "UTF-8"), func(c *hostileCase) { c.ctype = "application/x-www-form-urlencoded" }),
		with(gmsc("gms form NUL", "POST", gms, "_customer_number=%2B15550102022&k=a%00b", 400, "NUL"), func(c *hostileCase) { c.ctype = "application/x-www-form-urlencoded" }),
		with(gmsc("gms form bad escape", "POST", gms, "_customer_number=%zz", 400, "Malformed request body"), func(c *hostileCase) { c.ctype = "application/x-www-form-urlencoded" }),
		with(gmsc("gms multipart without boundary", "POST", gms, "--x\r\n", 400, "Malformed request body"), func(c *hostileCase) { c.ctype = "multipart/form-data" }),
		accepted(gmsc("gms number with separators", "POST", gms, `{"_customer_number":"+1 (555) 010-2023"}`, 200, "")),
		accepted(with(gmsc("gms form create", "POST", gms, "_customer_number=%2B1+555+010+2024&note=hi", 200, ""), func(c *hostileCase) { c.ctype = "application/x-www-form-urlencoded" })),
		accepted(with(gmsc("gms JSON without Content-Type", "POST", gms, `{"_customer_number":"+15550102025"}`, 200, ""), func(c *hostileCase) { c.ctype = "-" })),
		// --- GMS ids: not UUIDs, and the other tenant's
		gmsc("gms get other tenant's id", "GET", gms+"/"+theirs, "", 404, "not found"),
		gmsc("gms update other tenant's id", "PUT", gms+"/"+theirs, `{"note":"mine now"}`, 404, "not found"),
		gmsc("gms reschedule other tenant's id", "PUT", gms+"/"+theirs, `{"_new_desired_time":"`+at(4*time.Hour)+`"}`, 404, "not found"),
		gmsc("gms complete other tenant's id", "PUT", gms+"/"+theirs, `{"_callback_state":"COMPLETED"}`, 404, "not found"),
		gmsc("gms cancel other tenant's id", "DELETE", gms+"/"+theirs, "", 404, "not found"),
		gmsc("gms queue position of other tenant's id", "GET", "/genesys/1/service/"+theirs+"/check-queue-position", "", 404, "not found"),
		gmsc("gms get not a UUID", "GET", gms+"/not-a-uuid", "", 404, "not found"),
		gmsc("gms update not a UUID", "PUT", gms+"/not-a-uuid", `{"note":"x"}`, 404, "not found"),
		gmsc("gms cancel not a UUID", "DELETE", gms+"/1%20OR%201=1", "", 404, "not found"),
		gmsc("gms cancel traversal id", "DELETE", gms+"/..%2F..%2Fetc%2Fpasswd", "", 404, "not found"),
		gmsc("gms queue position not a UUID", "GET", "/genesys/1/service/nope/check-queue-position", "", 404, "not found"),
		gmsc("gms own id under another service", "GET", "/genesys/1/service/callback/Callback_Support/"+own, "", 404, "not found"),
		// --- GMS reschedule and update of an own callback, refused
		gmsc("gms reschedule February 30", "PUT", gms+"/"+own, `{"_new_desired_time":"2026-02-30T10:00:00.000Z"}`, 400, "Invalid _new_desired_time"),
		gmsc("gms reschedule words", "PUT", gms+"/"+own, `{"_new_desired_time":"next week"}`, 400, "Invalid _new_desired_time"),
		gmsc("gms reschedule year 9999", "PUT", gms+"/"+own, `{"_new_desired_time":"9999-12-31T23:59:59.000Z"}`, 400, "horizon"),
		gmsc("gms reschedule far past", "PUT", gms+"/"+own, `{"_new_desired_time":"1900-01-01T00:00:00.000Z"}`, 400, "past"),
		gmsc("gms update NUL value", "PUT", gms+"/"+own, `{"note":"\u0000"}`, 400, "NUL"),
		gmsc("gms update lone surrogate", "PUT", gms+"/"+own, `{"note":"\ud800"}`, 400, "surrogate"),
		gmsc("gms update bad number", "PUT", gms+"/"+own, `{"_customer_number":"<img src=x>"}`, 400, "Invalid phoneNumber"),
		gmsc("gms update bad state", "PUT", gms+"/"+own, `{"_callback_state":"HACKED"}`, 400, "Invalid _callback_state"),
		gmsc("gms update duplicate key", "PUT", gms+"/"+own, `{"note":"a","note":"b"}`, 400, "duplicate key"),
		gmsc("gms update key over 256 chars", "PUT", gms+"/"+own, `{"`+strings.Repeat("k", 257)+`":"v"}`, 400, "at most 256"),
		// --- GMS queries
		gmsc("gms query id not a UUID", "GET", gmsRoot+"?_id=not-a-uuid", "", 200, ""),
		gmsc("gms query other tenant's id", "GET", gmsRoot+"?_id="+theirs, "", 200, ""),
		gmsc("gms query other tenant's number", "GET", gms+"?_customer_number=%2B15550109001", "", 200, ""),
		gmsc("gms query NUL filter", "GET", gms+"?note=a%00b", "", 400, "NUL"),
		gmsc("gms query NUL key", "GET", gms+"?no%00te=a", "", 400, "NUL"),
		gmsc("gms query invalid UTF-8", "GET", gms+"?note=%ff", "", 400, "UTF-8"),
		gmsc("gms query value over 64 KB", "GET", gms+"?note="+strings.Repeat("v", 70*1000), "", 400, "at most 65536"),
		gmsc("gms query huge string", "GET", gms+"?"+strings.Repeat("k=v&", 40*1000), "", 200, ""),
		gmsc("gms availability days past a Duration", "GET", gms+"/availability?number-of-days=106752", "", 400, "number-of-days"),
		gmsc("gms availability negative slots", "GET", gms+"/availability?max-time-slots=-1", "", 400, "max-time-slots"),
		gmsc("gms availability bad start", "GET", gms+"/availability?start=2026-02-30T00:00:00.000Z", "", 400, "start"),
		gmsc("gms admin queues bad start", "GET", "/genesys/1/admin/callback/queues?target=Callback_Sales&start_time=2026-02-30T00:00:00.000Z", "", 400, "start_time"),
		gmsc("gms admin bulk cancel other tenant's id", "POST", "/genesys/1/admin/callback/cancel", `{"reason":"x","ids":["`+theirs+`"]}`, 200, ""),
		gmsc("gms admin bulk cancel bad body", "POST", "/genesys/1/admin/callback/cancel", `{"ids":"`+victim+`"}`, 400, "ids"),
		gmsc("gms admin bulk cancel ids not UUIDs", "POST", "/genesys/1/admin/callback/cancel", `{"ids":["x","../`+victim+`"]}`, 200, ""),
		gmsc("gms admin bulk cancel NUL reason", "POST", "/genesys/1/admin/callback/cancel", `{"reason":"a\u0000","ids":["`+victim+`"]}`, 400, "NUL"),
		gmsc("gms admin bulk cancel surrogate reason", "POST", "/genesys/1/admin/callback/cancel", `{"reason":"\ud800","ids":["`+victim+`"]}`, 400, "surrogate"),
		gmsc("gms admin bulk cancel invalid UTF-8", "POST", "/genesys/1/admin/callback/cancel", "{\"reason\":\"\xff\",\"ids\":[\""+victim+"\"]}", 400, "UTF-8"),
		gmsc("gms admin bulk cancel long reason", "POST", "/genesys/1/admin/callback/cancel", `{"reason":"`+strings.Repeat("r", 300)+`","ids":["`+victim+`"]}`, 400, "at most 256"),
		gmsc("gms admin bulk cancel duplicate ids", "POST", "/genesys/1/admin/callback/cancel", `{"ids":["`+victim+`"],"ids":[]}`, 400, "duplicate key"),
		gmsc("gms admin bulk cancel over 10 MB", "POST", "/genesys/1/admin/callback/cancel", `{"reason":"`+strings.Repeat("r", 10*1000*1000+10)+`","ids":["`+victim+`"]}`, 413, "exceeds"),
		gmsc("gms unknown path", "GET", "/genesys/1/../../etc/passwd", "", 404, "Not found"),
		gmsc("gms wrong verb", "PATCH", gms+"/"+own, `{}`, 405, "not allowed"),

		// --- the Callback UI's forms (signed in as Demo's administrator)
		ui("ui create phone letters", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"abc"}}, 400, "Invalid phoneNumber"),
		ui("ui create phone markup", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"<img src=x>"}}, 400, "Invalid phoneNumber"),
		ui("ui create phone NUL", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+1555\x000103000"}}, 400, "NUL"),
		ui("ui create phone invalid UTF-8", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+1555\xff"}}, 400, "UTF-8"),
		ui("ui create February 30", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+15550103001"}, "desired": {"2026-02-30T10:00"}}, 400, "unreadable desired time"),
		ui("ui create year 9999", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+15550103002"}, "desired": {"9999-12-31T10:00"}}, 400, "horizon"),
		ui("ui create user data array", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+15550103003"}, "userData": {"[1]"}}, 400, "JSON object"),
		ui("ui create user data NUL", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+15550103004"}, "userData": {`{"a":"\u0000"}`}}, 400, "NUL"),
		ui("ui create user data surrogate", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+15550103005"}, "userData": {`{"a":"\ud800"}`}}, 400, "surrogate"),
		ui("ui create user data duplicate", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+15550103006"}, "userData": {`{"a":"1","a":"2"}`}}, 400, "duplicate key"),
		ui("ui create unknown service", "/ges/callbacks", url.Values{"service": {"../Nope"}, "phone": {"+15550103007"}}, 403, "may not book"),
		ui("ui cancel other tenant's id", "/ges/callbacks/"+theirs+"/cancel", url.Values{}, 404, "No such callback"),
		ui("ui cancel not a UUID", "/ges/callbacks/not-a-uuid/cancel", url.Values{}, 404, "No such callback"),
		ui("ui reschedule other tenant's id", "/ges/callbacks/"+theirs+"/reschedule", url.Values{"desired": {"2030-01-02T10:00"}}, 404, "No such callback"),
		with(ui("ui create without the anti-forgery token", "/ges/callbacks", url.Values{"service": {"Callback_Sales"}, "phone": {"+15550103008"}}, 403, "anti-forgery"), func(c *hostileCase) { c.key = "-" }),
	}

	// 5xx counted before the table (the readiness probe's while starting),
	// and where Postgres' log stands.
	before := fiveXX(metricsText(t, n))
	pgLog := s.PG.LogSize()
	acceptedDemo := 2 // own and victim
	for _, c := range cases {
		code, h, body := sendHostile(t, n, admin, csrf, c)
		checkHostileAnswer(t, c, code, h, body)
		if c.creates && code == 200 {
			acceptedDemo++
		}
	}
	t.Logf("%d cases", len(cases))
	// No refused input reached Postgres: it logged no error meanwhile
	// (a statement Postgres refuses is logged with its reason).
	for _, line := range strings.Split(s.PG.LogSince(pgLog), "\n") {
		if strings.Contains(line, "ERROR:") || strings.Contains(line, "STATEMENT:") {
			t.Errorf("Postgres logged during the table: %s", line)
		}
	}

	// Nothing of the refused inputs was kept, in either store.
	wantDemo, wantOther := acceptedDemo, 1
	rc := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
	defer rc.Close()
	ctx := context.Background()
	tenants := map[string]bool{}
	var keys []string
	iter := rc.Scan(ctx, 0, "ges:{*}:*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		keys = append(keys, k)
		tenants[k[len("ges:{"):strings.Index(k, "}")]] = true
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	for tn := range tenants {
		if tn != demo && tn != other {
			t.Errorf("Redis holds keys of tenant %q, which no accepted request named", tn)
		}
	}
	countRedis := func(tenant string) int {
		k := 0
		for _, key := range keys {
			if strings.HasPrefix(key, "ges:{"+tenant+"}:cb:") {
				k++
			}
		}
		return k
	}
	if got := countRedis(demo); got != wantDemo {
		t.Errorf("Redis holds %d callbacks of Demo, want %d (the accepted cases)", got, wantDemo)
	}
	if got := countRedis(other); got != wantOther {
		t.Errorf("Redis holds %d callbacks of Other, want %d", got, wantOther)
	}
	pg, err := pgx.Connect(ctx, s.PG.ConnString(s.DBName))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	rows := map[string]int{}
	r, err := pg.Query(ctx, `SELECT ccid, count(*) FROM callbacks GROUP BY ccid`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var cc string
		var k int
		if err := r.Scan(&cc, &k); err != nil {
			t.Fatal(err)
		}
		rows[cc] = k
	}
	r.Close()
	if len(rows) > 2 || rows[demo] != wantDemo || rows[other] != wantOther {
		t.Errorf("Postgres callbacks per tenant %v, want Demo %d and Other %d", rows, wantDemo, wantOther)
	}
	var orphans int
	if err := pg.QueryRow(ctx, `SELECT count(*) FROM callback_events e WHERE NOT EXISTS (SELECT 1 FROM callbacks c WHERE c.id = e.callback_id)`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("callback events without their callback: %d %v", orphans, err)
	}
	// Other's callback was neither changed nor cancelled through Demo.
	code, d := retrieve(t, n, otherKey, theirs)
	if code != 200 || d["callbackState"] != "SCHEDULED" || d["desiredTime"] != wireTime(later) {
		t.Errorf("Other's callback after the table: %d %v", code, d)
	}
	var rev int
	if err := pg.QueryRow(ctx, `SELECT rev FROM callbacks WHERE id=$1`, theirs).Scan(&rev); err != nil || rev != 1 {
		t.Errorf("Other's callback has revision %d (%v), want 1", rev, err)
	}
	// Nor were Demo's own, which every refused update and bulk cancel named.
	if code, d := retrieve(t, n, demoKey, own); code != 200 || d["callbackState"] != "SCHEDULED" || d["desiredTime"] != wireTime(later) || d["phoneNumber"] != "+15550109000" {
		t.Errorf("Demo's callback after the table: %d %v", code, d)
	}
	if code, d := retrieve(t, n, demoKey, victim); code != 200 || d["callbackState"] != "SCHEDULED" {
		t.Errorf("the bulk cancels' callback after the table: %d %v", code, d)
	}
	for _, id := range []string{own, victim} {
		if err := pg.QueryRow(ctx, `SELECT rev FROM callbacks WHERE id=$1`, id).Scan(&rev); err != nil || rev != 1 {
			t.Errorf("Demo's callback %s has revision %d (%v), want 1", id, rev, err)
		}
	}
	// The separators were stripped from the numbers stored.
	var spaced int
	if err := pg.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE phone !~ '^\+?[0-9]+$'`).Scan(&spaced); err != nil || spaced != 0 {
		t.Errorf("%d stored numbers are not normalised (%v)", spaced, err)
	}

	// No panic, no 5xx.
	for _, line := range strings.Split(n.Proc.Logs(), "\n") {
		for _, bad := range []string{"panic serving request", "goroutine ", "external API error", "internal API error", "UI action failed",
			"could not keep API errors"} {
			if strings.Contains(line, bad) {
				t.Errorf("the GES log holds %q: %.2000s", bad, line)
			}
		}
	}
	for series, v := range fiveXX(metricsText(t, n)) {
		if v != before[series] {
			t.Errorf("metrics count %s 5xx of %s during the table", v, series)
		}
	}
}

// fiveXX returns the 5xx series of ges_http_failed_requests_total and
// their values.
func fiveXX(metrics string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "ges_http_failed_requests_total{") && strings.Contains(line, `httpCode="5`) {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				out[line[:i]] = line[i+1:]
			}
		}
	}
	return out
}

// uiCSRF reads the anti-forgery token of a signed-in UI session.
func uiCSRF(t *testing.T, c *http.Client, n *testenv.Node) string {
	t.Helper()
	_, page := fetch(t, c, "GET", n.InternalURL+"/ges/callbacks", nil)
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no anti-forgery token on the callbacks page: %.300s", page)
	}
	return string(m[1])
}

// sendHostile sends one case as it is written, bytes and headers
// untouched by any encoder.
func sendHostile(t *testing.T, n *testenv.Node, ui *http.Client, csrf string, c hostileCase) (int, http.Header, []byte) {
	t.Helper()
	base := n.ExternalURL
	if c.api != apiExt {
		base = n.InternalURL
	}
	body := c.body
	if c.api == apiUI {
		f := url.Values{}
		for k, v := range c.form {
			f[k] = v
		}
		if c.key != "-" {
			f.Set("_csrf", csrf)
		}
		body = f.Encode()
	}
	req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	switch {
	case c.api == apiUI:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case c.ctype == "-":
	case c.ctype != "":
		req.Header.Set("Content-Type", c.ctype)
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.api == apiExt && c.key == "":
		req.Header.Set("x-api-key", demoKey)
	case c.api == apiExt && c.key != "-":
		req.Header["X-Api-Key"] = []string{c.key}
	case c.api == apiGMS && c.ccid == "":
		req.Header.Set("ContactCenterId", testenv.DemoContactCenterID)
	case c.api == apiGMS && c.ccid != "-":
		req.Header.Set("ContactCenterId", c.ccid)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	// An oversized body waits for 100 Continue, which GES never sends as
	// it refuses on the length: the client sees the 413 instead of its
	// write cut.
	if len(body) > 400*1000 {
		req.Header.Set("Expect", "100-continue")
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, ExpectContinueTimeout: 10 * time.Second}}
	if c.api == apiUI {
		client = ui
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// checkHostileAnswer checks status, envelope and message of one answer.
func checkHostileAnswer(t *testing.T, c hostileCase, code int, h http.Header, body []byte) {
	t.Helper()
	fail := func(format string, a ...any) {
		t.Helper()
		t.Errorf("%s: "+format+"\n  answer %d %s: %.300s", append(append([]any{c.name}, a...), code, h.Get("Content-Type"), body)...)
	}
	if code >= 500 {
		fail("a 5xx")
		return
	}
	if code != c.status {
		fail("status %d, want %d", code, c.status)
	}
	var msg string
	switch c.api {
	case apiUI:
		if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			fail("not an HTML page")
		}
		msg = string(body)
		if strings.Contains(msg, "<img src=x>") {
			fail("the page holds the input's markup unescaped")
		}
	case apiExt:
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			fail("not JSON")
			return
		}
		var env struct {
			Status *struct {
				Code    *int    `json:"code"`
				Message *string `json:"message"`
				CorrID  string  `json:"corrId"`
			} `json:"status"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.Status == nil || env.Status.Code == nil || env.Status.Message == nil {
			fail("not the envelope (%v)", err)
			return
		}
		want := code
		if code == 200 {
			want = 0
		}
		if *env.Status.Code != want || !uuidRE.MatchString(env.Status.CorrID) {
			fail("status.code %d (want %d) or corrId %q", *env.Status.Code, want, env.Status.CorrID)
		}
		if code != 200 && len(env.Data) > 0 {
			fail("an error with data")
		}
		msg = *env.Status.Message
	case apiGMS:
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			fail("not JSON")
			return
		}
		if code == 200 {
			if !json.Valid(body) {
				fail("not JSON")
			}
			if c.creates {
				var ok struct {
					ID string `json:"_id"`
				}
				if json.Unmarshal(body, &ok) != nil || !uuidRE.MatchString(ok.ID) {
					fail("no _id")
				}
				return
			}
			checkNothingDone(t, c, body)
			return
		}
		var e struct {
			Exception string `json:"exception"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || !strings.HasPrefix(e.Exception, "com.genesyslab.") || e.Message == "" {
			fail("not the GMS envelope (%v)", err)
			return
		}
		msg = e.Message
	}
	if !strings.Contains(strings.ToLower(msg), strings.ToLower(c.msg)) {
		fail("message lacks %q", c.msg)
	}
	if c.api != apiUI && leakRE.MatchString(msg) {
		fail("message leaks an internal text")
	}
	if c.api == apiUI && leakRE.MatchString(regexp.MustCompile(`(?s)<script.*?</script>`).ReplaceAllString(msg, "")) {
		fail("page leaks an internal text")
	}
}

// checkNothingDone fails when a 200 of a GMS query lists a callback, or
// one of a bulk cancel cancelled one: no case here may reach any.
func checkNothingDone(t *testing.T, c hostileCase, body []byte) {
	t.Helper()
	var list []map[string]any
	if json.Unmarshal(body, &list) == nil {
		if len(list) > 0 && !strings.Contains(c.name, "huge string") {
			t.Errorf("%s: callbacks were listed: %.300s", c.name, body)
		}
		return
	}
	var bulk struct {
		Cancelled []string          `json:"cancelled"`
		Failed    map[string]string `json:"failed"`
	}
	if json.Unmarshal(body, &bulk) == nil && bulk.Failed != nil {
		if len(bulk.Cancelled) > 0 || len(bulk.Failed) == 0 {
			t.Errorf("%s: %s", c.name, body)
		}
		return
	}
	t.Errorf("%s: an answer of unknown shape: %.300s", c.name, body)
}
