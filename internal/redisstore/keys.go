// Package redisstore keeps the hot copy of callbacks in Redis. Every key
// name lives in this file. Keys of one tenant share the hash tag {ccid}, so
// each multi-key script runs in one slot and the same code serves a single
// Redis and a Redis Cluster.
package redisstore

import (
	"strconv"
	"time"

	"github.com/gesgo/ges/internal/callback"
)

func prefix(tenant string) string { return "ges:{" + tenant + "}:" }

// tenantPattern matches every key of every tenant (SCAN), and nothing else.
const tenantPattern = "ges:{*}:*"

// recordKey holds one callback as one string: "<rev>:<header length>:"
// followed by the compact JSON header and the user data JSON. Scripts read
// the revision and splice a new header in front of the user data without
// decoding either.
func recordKey(tenant, id string) string { return prefix(tenant) + "cb:" + id }

// dueKey is the tenant's timer set: callback id -> when the monitor must
// look at it (unix ms).
func dueKey(tenant string) string { return prefix(tenant) + "due" }

// leaseKey holds the callbacks a monitor has claimed: id -> lease end (ms).
func leaseKey(tenant string) string { return prefix(tenant) + "lease" }

// pendKey holds admitted callbacks whose Postgres commit is not confirmed
// yet: id -> deadline (ms) after which the reconciler resolves them.
func pendKey(tenant string) string { return prefix(tenant) + "pend" }

// activeKey counts the non-final callbacks of each number in each service
// (field activeField), for the per-number limit: one small hash per tenant
// rather than a key per number.
func activeKey(tenant string) string { return prefix(tenant) + "act" }

func activeField(service, phone string) string { return strconv.Quote(service) + phone }

// queueField counts, in the same hash, the callbacks of a service in its
// queue (callback.InQueue). Its leading letter keeps it apart from every
// activeField, which starts with a quote.
func queueField(service string) string { return "q" + strconv.Quote(service) }

// queueArg is the queue field of cb as scripts take it: ” when cb is not
// in its service's queue.
func queueArg(cb *callback.Callback) string {
	if !callback.InQueue(cb) {
		return ""
	}
	return queueField(cb.Service)
}

// dailyKey counts the creates for one number in one service on one day of
// the service's calendar (yyyymmdd); it expires when the day ends.
func dailyKey(tenant, service, phone, day string) string {
	return prefix(tenant) + "day:" + strconv.Quote(service) + ":" + day + ":" + phone
}

// slotKey counts the places taken in one capacity slot of a service
// (start in unix ms). It expires a day after the slot ends.
func slotKey(tenant, service string, startMS int64) string {
	return prefix(tenant) + "slot:" + strconv.Quote(service) + ":" + strconv.FormatInt(startMS, 10)
}

// slotKeyTTL is how long past its start a slot counter is kept.
const slotKeyTTL = 48 * time.Hour

// rateKey counts the creates of a service in one fixed window of its rate
// limit n (1 or 2).
func rateKey(tenant, service string, n int, window time.Duration, index int64) string {
	return prefix(tenant) + "rate" + strconv.Itoa(n) + ":" + strconv.Quote(service) + ":" +
		strconv.FormatInt(int64(window/time.Second), 10) + ":" + strconv.FormatInt(index, 10)
}

// pausedKey is the set of a tenant's paused services (a copy of Postgres'
// paused_services, which a restore puts back).
func pausedKey(tenant string) string { return prefix(tenant) + "paused" }

// heldKey holds the due callbacks of paused services: id -> the due time
// (ms) they go back to when their service resumes; heldServiceKey names
// each one's service (id -> service).
func heldKey(tenant string) string        { return prefix(tenant) + "held" }
func heldServiceKey(tenant string) string { return prefix(tenant) + "heldsvc" }

// Global keys (no hash tag: each is used alone).
const (
	// indexKey: tenant -> earliest time (ms) anything of the tenant is due.
	// It may be early, never late.
	indexKey = "ges:idx"
	// wakeChannel tells the monitors of other nodes that something became
	// due earlier.
	wakeChannel = "ges:wake"
	// SettingsChannel announces a new published table (message: tenant).
	SettingsChannel = "ges:settings"
	// hydratedKey holds the run ids of the Redis servers that a restore
	// filled. A server that restarted (from an old snapshot or AOF, or a
	// replica promoted) has another run id, and a flushed one lost the key:
	// either way the restore runs again. The key alone is never trusted, as
	// a snapshot brings it back.
	hydratedKey = "ges:hydrated"
	// hydrateLockKey lets one node at a time restore.
	hydrateLockKey = "ges:hydrate-lock"
	// reconcileLeaseKey lets one node per interval run the reconciler.
	reconcileLeaseKey = "ges:reconcile-lease"
	// pendIndexKey: tenant -> a time (ms) at or before the earliest
	// deadline of its pending admissions. Like indexKey it may be early,
	// never late; a tenant without pending admissions may be absent.
	pendIndexKey = "ges:pend-idx"
)

// sessionKey holds one UI session (no hash tag: each is used alone). It is
// named by the hex SHA-256 of the session id, never the id itself, so a dump
// of Redis holds no usable session.
func sessionKey(idDigest string) string { return "ges:ui:session:" + idDigest }
