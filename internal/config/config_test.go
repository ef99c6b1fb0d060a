package config

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// envFrom turns a map into a getenv function.
func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// minimalEnv holds exactly the required settings.
func minimalEnv() map[string]string {
	return map[string]string{
		"REDIS_HOST":      "redis.ges",
		"DB_HOST":         "pg.ges",
		"DB_NAME":         "ges",
		"DB_USER":         "ges_user",
		"GWS_AUTH_URL":    "http://gauth.gauth",
		"GWS_ENV_URL":     "http://gws-env.gws",
		"VMCS_REDIS_HOST": "redis-ors.voice",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func mustLoad(t *testing.T, env map[string]string) *Config {
	t.Helper()
	c, err := Load(envFrom(env))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func loadErr(t *testing.T, env map[string]string) string {
	t.Helper()
	_, err := Load(envFrom(env))
	if err == nil {
		t.Fatal("Load succeeded, want error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, "config: ") {
		t.Errorf("error %q lacks the config: prefix", msg)
	}
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		t.Errorf("error %T is not a *config.Error with problems", err)
	}
	return msg
}

// writeFolder creates a plain config folder holding files.
func writeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeK8sFolder lays files out the way the kubelet mounts a secret volume:
// the data lives in a hidden timestamped directory, `..data` points at it,
// and each visible key is a symlink through `..data`.
func writeK8sFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	ts := "..2024_05_01_10_00_00.123456789"
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, ts, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, minimalEnv())

	checks := []struct {
		name      string
		got, want any
	}{
		{"LogLevel", c.LogLevel, "DEBUG"},
		{"LogMaxLen", c.LogMaxLen, 2048},
		{"InternalPort", c.InternalPort, 3050},
		{"ExternalPort", c.ExternalPort, 2050},
		{"InternalURL", c.InternalURL, "http://ges.ges:3050"},
		{"RegionAffinity", c.RegionAffinity, ""},
		{"DevOpsAccessGroups", c.DevOpsAccessGroups, []string{"Platform Read Only", "Platform Provisioning", "Platform Internal Administrator"}},
		{"UIDevOpsUsername", c.UIDevOpsUsername, ""},
		{"UIDevOpsPassword", c.UIDevOpsPassword, ""},
		{"DecryptPassword", c.DecryptPassword, ""},
		{"Redis", c.Redis, RedisConfig{Host: "redis.ges", Port: 6379, InlineUserData: 1024}},
		{"Redis.Addr", c.Redis.Addr(), "redis.ges:6379"},
		{"DB", c.DB, DBConfig{Host: "pg.ges", Port: 5432, Name: "ges", User: "ges_user"}},
		{"GWS", c.GWS, GWSConfig{AuthURL: "http://gauth.gauth", EnvURL: "http://gws-env.gws", PublicAuthURL: "http://gauth.gauth"}},
		{"Voice", c.Voice, VoiceConfig{Host: "redis-ors.voice", Port: 10000, StreamName: "NewCallbackStream", RejectUnauthorized: true}},
		{"Voice.Addr", c.Voice.Addr(), "redis-ors.voice:10000"},
		{"ConsulAddr", c.ConsulAddr, ""},
		{"Region", c.Region, ""},
		{"Monitor", c.Monitor, MonitorConfig{LeaseSeconds: 30, ReportTimeoutSeconds: 60, MaxAttempts: 3, BatchSize: 250, LookaheadMillis: 2000, HealthIntervalSeconds: 10, ReconcileSeconds: 30,
			ReconcileFullSeconds: 3600, RestoreCheckSeconds: 60}},
		{"ConfigFolders", len(c.ConfigFolders), 0},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestExplicitValues(t *testing.T) {
	env := with(minimalEnv(),
		"LOG_LEVEL", "warning",
		"LOG_MAX_LEN", "512",
		"INTERNAL_PORT", "4000",
		"EXTERNAL_PORT", "4001",
		"REGION_AFFINITY", "westus2",
		"DEVOPS_ACCESS_GROUPS", " Ops , Admins ,, ",
		"UI_DEVOPS_USERNAME", "admin",
		"UI_DEVOPS_PASSWORD", "letmein",
		"UI_SESSION_TIMEOUT", "45",
		"REDIS_PORT", "6380",
		"REDIS_SECURE", "YES",
		"REDIS_CLUSTER", "1",
		"REDIS_CACHEKEY", "rpw",
		"DB_PORT", "6432",
		"DB_SECURE", "True",
		"DB_PASSWORD", "dbpw",
		"GWS_CONF_URL", "gws-conf.gws:8080/",
		"GWS_PUBLIC_AUTH_URL", "https://auth.example.com/",
		"AUTHENTICATION_CLIENT_ID", "ges_client",
		"AUTHENTICATION_CLIENT_SECRET", "s3cret",
		"VMCS_REDIS_PORT", "7000",
		"VMCS_REDIS_CLUSTER_MODE", "true",
		"VMCS_REDIS_STREAM_NAME", "OtherStream",
		"CONSUL_HTTP_ADDR", "http://consul:8500",
		"REGION", "eastus",
		"MONITOR_LEASE_SECONDS", "45",
		"MONITOR_REPORT_TIMEOUT_SECONDS", "90",
		"MONITOR_MAX_ATTEMPTS", "5",
		"MONITOR_BATCH_SIZE", "250",
		"MONITOR_LOOKAHEAD_MS", "500",
		"USERDATA_INLINE_BYTES", "4096",
		"HEALTH_INTERVAL_SECONDS", "20",
		"MONITOR_RECONCILE_SECONDS", "15",
		"MONITOR_RECONCILE_FULL_SECONDS", "600",
		"MONITOR_RESTORE_CHECK_SECONDS", "120",
		"UI_SESSION_LIFETIME", "8h",
		"UI_PUBLIC_URL", "https://ges.example.com/",
		"HTTP_READ_TIMEOUT", "5",
		"HTTP_WRITE_TIMEOUT", "2m",
		"HTTP_IDLE_TIMEOUT", "90s",
		"API_CREATE_RATE_TENANT", "10",
		"API_CREATE_RATE_KEY", "0.5",
		"API_CREATE_BURST_KEY", "3",
		"API_KEY_FAILURES_PER_MINUTE", "0",
		"TRUSTED_PROXIES", "10.1.0.0/16, 192.0.2.7",
		"CORS_ALLOWED_ORIGINS", "https://WWW.Example.com, http://localhost:8080/",
		"CORS_MAX_AGE", "60",
	)
	c := mustLoad(t, env)
	want := &Config{
		UISessionLifetime: 8 * time.Hour,
		UIPublicURL:       "https://ges.example.com",
		HTTP:              HTTPConfig{ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute, IdleTimeout: 90 * time.Second},
		Limits: LimitsConfig{TenantRate: 10, TenantBurst: 20, KeyRate: 0.5, KeyBurst: 3,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.0.2.7/32")},
			CORSOrigins:    []string{"https://www.example.com", "http://localhost:8080"}, CORSMaxAge: time.Minute},
		LogLevel:           "WARN",
		LogMaxLen:          512,
		InternalPort:       4000,
		ExternalPort:       4001,
		InternalURL:        "http://ges.ges:4000",
		RegionAffinity:     "westus2",
		DevOpsAccessGroups: []string{"Ops", "Admins"},
		UIDevOpsUsername:   "admin",
		UIDevOpsPassword:   "letmein",
		UISessionTimeout:   45 * 60 * 1e9,
		Redis:              RedisConfig{Host: "redis.ges", Port: 6380, Password: "rpw", TLS: true, Cluster: true, InlineUserData: 4096},
		DB:                 DBConfig{Host: "pg.ges", Port: 6432, Name: "ges", User: "ges_user", Password: "dbpw", TLS: true},
		GWS: GWSConfig{
			AuthURL: "http://gauth.gauth", EnvURL: "http://gws-env.gws", ConfURL: "http://gws-conf.gws:8080",
			PublicAuthURL: "https://auth.example.com", ClientID: "ges_client", ClientSecret: "s3cret",
		},
		Voice:      VoiceConfig{Host: "redis-ors.voice", Port: 7000, Cluster: true, StreamName: "OtherStream", RejectUnauthorized: true},
		ConsulAddr: "http://consul:8500",
		Region:     "eastus",
		Platform:   PlatformConfig{ORSService: "ors", URSService: "urs", DiscoveryIntervalSeconds: 15, FCMURL: "https://fcm.googleapis.com/v1", PushCheckSeconds: 30},
		Monitor: MonitorConfig{LeaseSeconds: 45, ReportTimeoutSeconds: 90, MaxAttempts: 5, BatchSize: 250, LookaheadMillis: 500, HealthIntervalSeconds: 20, ReconcileSeconds: 15,
			ReconcileFullSeconds: 600, RestoreCheckSeconds: 120},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", c, want)
	}
}

func TestClientSecretPasswordAlias(t *testing.T) {
	c := mustLoad(t, with(minimalEnv(), "AUTHENTICATION_CLIENT_PASSWORD", "pw"))
	if c.GWS.ClientSecret != "pw" {
		t.Errorf("ClientSecret = %q, want pw", c.GWS.ClientSecret)
	}
	dir := writeFolder(t, map[string]string{"AUTHENTICATION-CLIENT-PASSWORD": "frompw"})
	c = mustLoad(t, with(minimalEnv(), "CONFIG_FOLDERS", dir))
	if c.GWS.ClientSecret != "frompw" {
		t.Errorf("ClientSecret = %q, want frompw", c.GWS.ClientSecret)
	}
}

func TestRequiredMissing(t *testing.T) {
	names := map[string]string{ // env var -> name expected in the message
		"REDIS_HOST":      "REDIS_HOST",
		"DB_HOST":         "DB_HOST",
		"DB_NAME":         "DB_NAME",
		"DB_USER":         "DB-USER",
		"GWS_AUTH_URL":    "GWS_AUTH_URL",
		"GWS_ENV_URL":     "GWS_ENV_URL",
		"VMCS_REDIS_HOST": "VMCS_REDIS_HOST",
	}
	t.Run("all", func(t *testing.T) {
		msg := loadErr(t, map[string]string{})
		for _, n := range names {
			if !strings.Contains(msg, n+" ") {
				t.Errorf("error %q does not name %s", msg, n)
			}
		}
		if !strings.Contains(msg, "DB_USER") {
			t.Errorf("error %q does not mention the env spelling DB_USER", msg)
		}
	})
	for env, name := range names {
		t.Run(env, func(t *testing.T) {
			e := minimalEnv()
			delete(e, env)
			msg := loadErr(t, e)
			if !strings.Contains(msg, name+" ") || !strings.Contains(msg, "required") {
				t.Errorf("error %q does not say %s is required", msg, name)
			}
			if got := len(strings.Split(msg, "; ")); got != 1 {
				t.Errorf("error %q names %d problems, want 1", msg, got)
			}
		})
	}
	t.Run("empty counts as missing", func(t *testing.T) {
		msg := loadErr(t, with(minimalEnv(), "REDIS_HOST", "  "))
		if !strings.Contains(msg, "REDIS_HOST is required") {
			t.Errorf("error %q", msg)
		}
	})
}

func TestInvalidValues(t *testing.T) {
	tests := []struct {
		key, value string
		want       string
	}{
		{"DB_PORT", "x", `DB_PORT must be an integer (got "x")`},
		{"REDIS_PORT", "0", "REDIS_PORT must be between 1 and 65535 (got 0)"},
		{"INTERNAL_PORT", "65536", "INTERNAL_PORT must be between 1 and 65535"},
		{"EXTERNAL_PORT", "-1", "EXTERNAL_PORT must be between 1 and 65535"},
		{"VMCS_REDIS_PORT", "80.5", "VMCS_REDIS_PORT must be an integer"},
		{"REDIS_SECURE", "maybe", `REDIS_SECURE must be a boolean`},
		{"DB_SECURE", "on", `DB_SECURE must be a boolean`},
		{"REDIS_CLUSTER", "2", `REDIS_CLUSTER must be a boolean`},
		{"VMCS_REDIS_CLUSTER_MODE", "enabled", `VMCS_REDIS_CLUSTER_MODE must be a boolean`},
		{"LOG_LEVEL", "TRACE", `LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR (got "TRACE")`},
		{"LOG_MAX_LEN", "0", "LOG_MAX_LEN must be a positive integer"},
		{"MONITOR_LEASE_SECONDS", "0", "MONITOR_LEASE_SECONDS must be a positive integer (got 0)"},
		{"MONITOR_REPORT_TIMEOUT_SECONDS", "-5", "MONITOR_REPORT_TIMEOUT_SECONDS must be a positive integer"},
		{"MONITOR_MAX_ATTEMPTS", "three", "MONITOR_MAX_ATTEMPTS must be an integer"},
		{"MONITOR_BATCH_SIZE", "0", "MONITOR_BATCH_SIZE must be a positive integer"},
		{"USERDATA_INLINE_BYTES", "-1", "USERDATA_INLINE_BYTES must be zero or a positive integer"},
		{"HEALTH_INTERVAL_SECONDS", "0", "HEALTH_INTERVAL_SECONDS must be a positive integer"},
		{"MONITOR_RECONCILE_SECONDS", "0", "MONITOR_RECONCILE_SECONDS must be a positive integer"},
		{"MONITOR_RECONCILE_FULL_SECONDS", "-1", "MONITOR_RECONCILE_FULL_SECONDS must be a positive integer"},
		{"MONITOR_RESTORE_CHECK_SECONDS", "soon", "MONITOR_RESTORE_CHECK_SECONDS must be an integer"},
		{"ORS_REDIS_LOCATION", "host:port", "ORS_REDIS_LOCATION port must be an integer"},
		{"ORS_REDIS_LOCATION", "a:b:c", "ORS_REDIS_LOCATION must be host:port"},
		{"INTERNAL_URL", "http://", "INTERNAL_URL is not a valid URL"},
		{"GWS_ENV_URL", "http://[::1", "GWS_ENV_URL is not a valid URL"},
		{"VOICE_REDIS_ORS_STREAM", "{not json", "voice-redis-ors-stream is not a valid JSON object"},
		{"VOICE_REDIS_ORS_STREAM", `["a"]`, "voice-redis-ors-stream is not a valid JSON object"},
		{"VOICE_REDIS_ORS_STREAM", `{"port":"abc"}`, `voice-redis-ors-stream port must be an integer (got "abc")`},
		{"VOICE_REDIS_ORS_STREAM", `{"port":99999}`, `voice-redis-ors-stream port must be between 1 and 65535`},
		{"VOICE_REDIS_ORS_STREAM", `{"rejectUnauthorized":"sometimes"}`, `voice-redis-ors-stream rejectUnauthorized must be a boolean`},
		{"VOICE_REDIS_ORS_STREAM", `{"password":{"x":1}}`, `voice-redis-ors-stream "password" must be a string, number or boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			msg := loadErr(t, with(minimalEnv(), tt.key, tt.value))
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
		})
	}

	t.Run("all problems in one line", func(t *testing.T) {
		env := with(minimalEnv(), "DB_PORT", "x", "REDIS_SECURE", "maybe", "LOG_LEVEL", "loud", "MONITOR_BATCH_SIZE", "0")
		delete(env, "REDIS_HOST")
		msg := loadErr(t, env)
		for _, want := range []string{"REDIS_HOST is required", `DB_PORT must be an integer (got "x")`, "REDIS_SECURE", "LOG_LEVEL", "MONITOR_BATCH_SIZE"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not contain %q", msg, want)
			}
		}
		if n := strings.Count(msg, "; "); n != 4 {
			t.Errorf("error %q has %d separators, want 4", msg, n)
		}
	})
}

func TestBooleansAndLogLevels(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"true", true}, {"TRUE", true}, {"1", true}, {"yes", true}, {"Yes", true},
		{"false", false}, {"False", false}, {"0", false}, {"no", false}, {"NO", false},
	} {
		c := mustLoad(t, with(minimalEnv(), "REDIS_SECURE", tt.in))
		if c.Redis.TLS != tt.want {
			t.Errorf("REDIS_SECURE=%q: TLS = %v, want %v", tt.in, c.Redis.TLS, tt.want)
		}
	}
	for in, want := range map[string]string{
		"debug": "DEBUG", "Info": "INFO", "WARN": "WARN", "warning": "WARN", "WARNING": "WARN", "error": "ERROR",
	} {
		c := mustLoad(t, with(minimalEnv(), "LOG_LEVEL", in))
		if c.LogLevel != want {
			t.Errorf("LOG_LEVEL=%q: got %q, want %q", in, c.LogLevel, want)
		}
	}
}

func TestFolderWinsOverEnv(t *testing.T) {
	dir := writeFolder(t, map[string]string{
		"REDIS_HOST":     "redis-from-folder\n",
		"DB_PORT":        "  6000 \n",
		"REDIS-CACHEKEY": "folder-redis-pw\n",
		"DB-PASSWORD":    "folder-db-pw",
		"LOG_LEVEL":      "error",
	})
	env := with(minimalEnv(),
		"CONFIG_FOLDERS", dir,
		"REDIS_HOST", "redis-from-env",
		"DB_PORT", "5000",
		"REDIS_CACHEKEY", "env-redis-pw",
		"DB_PASSWORD", "env-db-pw",
		"LOG_LEVEL", "info",
	)
	c := mustLoad(t, env)
	if c.Redis.Host != "redis-from-folder" || c.DB.Port != 6000 || c.Redis.Password != "folder-redis-pw" ||
		c.DB.Password != "folder-db-pw" || c.LogLevel != "ERROR" {
		t.Errorf("folder values did not win: redis=%q port=%d redispw=%q dbpw=%q level=%q",
			c.Redis.Host, c.DB.Port, c.Redis.Password, c.DB.Password, c.LogLevel)
	}
	if !reflect.DeepEqual(c.ConfigFolders, []string{dir}) {
		t.Errorf("ConfigFolders = %v", c.ConfigFolders)
	}
	// Settings absent from the folder still come from the environment.
	if c.DB.Host != "pg.ges" {
		t.Errorf("DB.Host = %q, want env value", c.DB.Host)
	}
}

func TestFolderSpellings(t *testing.T) {
	tests := []struct {
		file string
		get  func(*Config) string
	}{
		{"REDIS-CACHEKEY", func(c *Config) string { return c.Redis.Password }},
		{"REDIS_CACHEKEY", func(c *Config) string { return c.Redis.Password }},
		{"DB-USER", func(c *Config) string { return c.DB.User }},
		{"DB_USER", func(c *Config) string { return c.DB.User }},
		{"DB-PASSWORD", func(c *Config) string { return c.DB.Password }},
		{"DB_PASSWORD", func(c *Config) string { return c.DB.Password }},
		{"AUTHENTICATION-CLIENT-ID", func(c *Config) string { return c.GWS.ClientID }},
		{"AUTHENTICATION_CLIENT_ID", func(c *Config) string { return c.GWS.ClientID }},
		{"AUTHENTICATION-CLIENT-SECRET", func(c *Config) string { return c.GWS.ClientSecret }},
		{"AUTHENTICATION_CLIENT_SECRET", func(c *Config) string { return c.GWS.ClientSecret }},
		{"DB_HOST", func(c *Config) string { return c.DB.Host }},
		{"DB-HOST", func(c *Config) string { return c.DB.Host }},
		{"VMCS-REDIS-HOST", func(c *Config) string { return c.Voice.Host }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := writeFolder(t, map[string]string{tt.file: "value-" + tt.file + "\n"})
			c := mustLoad(t, with(minimalEnv(), "CONFIG_FOLDERS", dir))
			if got := tt.get(c); got != "value-"+tt.file {
				t.Errorf("got %q, want %q", got, "value-"+tt.file)
			}
		})
	}
	t.Run("required satisfied from folder only", func(t *testing.T) {
		env := minimalEnv()
		delete(env, "DB_USER")
		dir := writeFolder(t, map[string]string{"DB-USER": "u"})
		c := mustLoad(t, with(env, "CONFIG_FOLDERS", dir))
		if c.DB.User != "u" {
			t.Errorf("DB.User = %q", c.DB.User)
		}
	})
}

func TestMultipleFolders(t *testing.T) {
	infra := writeFolder(t, map[string]string{"DB-USER": "infra-user", "DB-PASSWORD": "infra-pw"})
	gws := writeK8sFolder(t, map[string]string{"AUTHENTICATION-CLIENT-ID": "cid", "DB-USER": "later-user"})
	c := mustLoad(t, with(minimalEnv(), "CONFIG_FOLDERS", " "+infra+" , "+gws+",", "DB_USER", "env-user"))
	if c.DB.User != "infra-user" {
		t.Errorf("DB.User = %q, want the first folder's value", c.DB.User)
	}
	if c.DB.Password != "infra-pw" || c.GWS.ClientID != "cid" {
		t.Errorf("values from both folders not merged: pw=%q id=%q", c.DB.Password, c.GWS.ClientID)
	}
	if !reflect.DeepEqual(c.ConfigFolders, []string{infra, gws}) {
		t.Errorf("ConfigFolders = %q", c.ConfigFolders)
	}
}

func TestK8sSymlinkFolder(t *testing.T) {
	dir := writeK8sFolder(t, map[string]string{
		"DB-USER":                "k8s-user\n",
		"DB-PASSWORD":            "k8s-pw\n",
		"REDIS_CACHEKEY":         "k8s-redis\n",
		"voice-redis-ors-stream": `{"password":"vpw","port":"6380","rejectUnauthorized":"true","servername":"redis-ors-stream"}`,
	})
	// Stray hidden entries must be ignored, even ones that look like keys.
	if err := os.WriteFile(filepath.Join(dir, ".DB_HOST"), []byte("hidden"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, with(minimalEnv(), "CONFIG_FOLDERS", dir))
	if c.DB.User != "k8s-user" || c.DB.Password != "k8s-pw" || c.Redis.Password != "k8s-redis" {
		t.Errorf("symlinked values not read: user=%q pw=%q redis=%q", c.DB.User, c.DB.Password, c.Redis.Password)
	}
	if c.DB.Host != "pg.ges" {
		t.Errorf("hidden file was read: DB.Host = %q", c.DB.Host)
	}
	want := VoiceConfig{Host: "redis-ors.voice", Port: 6380, Password: "vpw", TLS: true,
		StreamName: "NewCallbackStream", ServerName: "redis-ors-stream", RejectUnauthorized: true}
	if c.Voice != want {
		t.Errorf("Voice = %+v, want %+v", c.Voice, want)
	}
}

func TestMissingFolder(t *testing.T) {
	good := writeFolder(t, nil)
	missing := filepath.Join(t.TempDir(), "no-such-secrets")
	msg := loadErr(t, with(minimalEnv(), "CONFIG_FOLDERS", good+","+missing))
	if !strings.Contains(msg, "CONFIG_FOLDERS") || !strings.Contains(msg, missing) {
		t.Errorf("error %q does not name the missing folder %s", msg, missing)
	}
	if strings.Contains(msg, good) {
		t.Errorf("error %q names the readable folder", msg)
	}
}

func TestVoiceSecret(t *testing.T) {
	tests := []struct {
		name   string
		env    []string
		secret string
		want   VoiceConfig
	}{
		{
			name:   "port as string",
			secret: `{"password":"pw1","port":"6380","rejectUnauthorized":"false","servername":"ors.redis.example"}`,
			want:   VoiceConfig{Host: "redis-ors.voice", Port: 6380, Password: "pw1", TLS: true, ServerName: "ors.redis.example", RejectUnauthorized: false},
		},
		{
			name:   "port as number and native booleans",
			secret: `{"password":"pw2","port":6381,"rejectUnauthorized":true}`,
			want:   VoiceConfig{Host: "redis-ors.voice", Port: 6381, Password: "pw2", RejectUnauthorized: true},
		},
		{
			name:   "empty values from the documented template are ignored",
			env:    []string{"VMCS_REDIS_PORT", "7001"},
			secret: `{"password":"","port":"","rejectUnauthorized":"true","servername":""}`,
			want:   VoiceConfig{Host: "redis-ors.voice", Port: 7001, RejectUnauthorized: true},
		},
		{
			name:   "secret overrides ORS_REDIS_LOCATION",
			env:    []string{"ORS_REDIS_LOCATION", "loc-host:7002"},
			secret: `{"port":7003,"host":"secret-host"}`,
			want:   VoiceConfig{Host: "secret-host", Port: 7003, RejectUnauthorized: true},
		},
		{
			name:   "VMCS_REDIS_SECURE without servername",
			env:    []string{"VMCS_REDIS_SECURE", "true"},
			secret: `{"password":"pw3"}`,
			want:   VoiceConfig{Host: "redis-ors.voice", Port: 10000, Password: "pw3", TLS: true, RejectUnauthorized: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.StreamName = "NewCallbackStream"
			// Via a folder, the documented route.
			dir := writeFolder(t, map[string]string{"voice-redis-ors-stream": tt.secret + "\n"})
			c := mustLoad(t, with(with(minimalEnv(), tt.env...), "CONFIG_FOLDERS", dir))
			if c.Voice != tt.want {
				t.Errorf("folder: Voice = %+v, want %+v", c.Voice, tt.want)
			}
			// Via the environment.
			c = mustLoad(t, with(with(minimalEnv(), tt.env...), "VOICE_REDIS_ORS_STREAM", tt.secret))
			if c.Voice != tt.want {
				t.Errorf("env: Voice = %+v, want %+v", c.Voice, tt.want)
			}
		})
	}
}

func TestVoiceSecretErrorHidesPassword(t *testing.T) {
	dir := writeFolder(t, map[string]string{"voice-redis-ors-stream": `{"password":"TopSecretVoice","port":"x"`})
	msg := loadErr(t, with(minimalEnv(), "CONFIG_FOLDERS", dir))
	if strings.Contains(msg, "TopSecretVoice") {
		t.Errorf("error leaks the password: %q", msg)
	}
	if !strings.Contains(msg, "voice-redis-ors-stream") {
		t.Errorf("error %q does not name voice-redis-ors-stream", msg)
	}
}

func TestORSRedisLocation(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantHost string
		wantPort int
	}{
		{"overrides host and port", map[string]string{"ORS_REDIS_LOCATION": "ors-redis:6390", "VMCS_REDIS_PORT": "1234"}, "ors-redis", 6390},
		{"bare host keeps port", map[string]string{"ORS_REDIS_LOCATION": "ors-redis", "VMCS_REDIS_PORT": "1234"}, "ors-redis", 1234},
		{"helm render with empty host keeps VMCS_REDIS_HOST", map[string]string{"ORS_REDIS_LOCATION": ":10001"}, "redis-ors.voice", 10001},
		{"ipv6", map[string]string{"ORS_REDIS_LOCATION": "[fd00::1]:6390"}, "fd00::1", 6390},
		{"replaces a missing VMCS_REDIS_HOST", map[string]string{"ORS_REDIS_LOCATION": "only-loc:6391", "VMCS_REDIS_HOST": ""}, "only-loc", 6391},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := minimalEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			c := mustLoad(t, env)
			if c.Voice.Host != tt.wantHost || c.Voice.Port != tt.wantPort {
				t.Errorf("Voice = %s:%d, want %s:%d", c.Voice.Host, c.Voice.Port, tt.wantHost, tt.wantPort)
			}
		})
	}
	t.Run("ipv6 Addr", func(t *testing.T) {
		c := mustLoad(t, with(minimalEnv(), "ORS_REDIS_LOCATION", "[fd00::1]:6390"))
		if got := c.Voice.Addr(); got != "[fd00::1]:6390" {
			t.Errorf("Addr = %q", got)
		}
	})
	t.Run("empty host and no VMCS_REDIS_HOST", func(t *testing.T) {
		env := with(minimalEnv(), "ORS_REDIS_LOCATION", ":10000")
		delete(env, "VMCS_REDIS_HOST")
		if msg := loadErr(t, env); !strings.Contains(msg, "VMCS_REDIS_HOST is required") {
			t.Errorf("error %q", msg)
		}
	})
}

func TestInternalURL(t *testing.T) {
	tests := []struct {
		in, port, want string
	}{
		{"", "", "http://ges.ges:3050"},
		{"ges.ges", "4000", "http://ges.ges:4000"},
		{"ges.ges/", "", "http://ges.ges:3050"},
		{"ges.ges:8080", "", "http://ges.ges:8080"},
		{"ges.ges:8080/", "", "http://ges.ges:8080"},
		{"10.0.0.5", "", "http://10.0.0.5:3050"},
		{"[fd00::5]", "", "http://[fd00::5]:3050"},
		{"ges.ges/base/", "", "http://ges.ges:3050/base"},
		{"http://ges.ges:3050", "", "http://ges.ges:3050"},
		{"https://ges.example.com/", "", "https://ges.example.com"},
		{"http://ges.ges", "", "http://ges.ges"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			env := with(minimalEnv(), "INTERNAL_URL", tt.in, "INTERNAL_PORT", tt.port)
			if got := mustLoad(t, env).InternalURL; got != tt.want {
				t.Errorf("InternalURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestGWSURLs(t *testing.T) {
	c := mustLoad(t, with(minimalEnv(), "GWS_AUTH_URL", "gauth-auth.gauth/", "GWS_ENV_URL", "https://gws.example.com/env/"))
	if c.GWS.AuthURL != "http://gauth-auth.gauth" || c.GWS.EnvURL != "https://gws.example.com/env" {
		t.Errorf("GWS = %+v", c.GWS)
	}
	if c.GWS.PublicAuthURL != c.GWS.AuthURL {
		t.Errorf("PublicAuthURL = %q, want AuthURL %q", c.GWS.PublicAuthURL, c.GWS.AuthURL)
	}
}

func TestConnString(t *testing.T) {
	tests := []struct {
		name string
		db   DBConfig
		want string
	}{
		{"plain", DBConfig{Host: "pg", Port: 5432, Name: "ges", User: "u", Password: "p"}, "postgres://u:p@pg:5432/ges?sslmode=disable"},
		{"tls", DBConfig{Host: "pg", Port: 5433, Name: "ges", User: "u", Password: "p", TLS: true}, "postgres://u:p@pg:5433/ges?sslmode=require"},
		{"no password", DBConfig{Host: "pg", Port: 5432, Name: "ges", User: "u"}, "postgres://u@pg:5432/ges?sslmode=disable"},
		{"escaped", DBConfig{Host: "pg", Port: 5432, Name: "my db", User: "us@r", Password: "p@ss:w/rd%?#&"}, ""},
		{"ipv6", DBConfig{Host: "fd00::7", Port: 5432, Name: "ges", User: "u", Password: "p"}, "postgres://u:p@[fd00::7]:5432/ges?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.db.ConnString()
			if tt.want != "" && s != tt.want {
				t.Errorf("ConnString = %q, want %q", s, tt.want)
			}
			// The driver must read back exactly what was configured.
			pc, err := pgconn.ParseConfig(s)
			if err != nil {
				t.Fatalf("pgconn.ParseConfig: %v", err)
			}
			if pc.Host != tt.db.Host || int(pc.Port) != tt.db.Port || pc.Database != tt.db.Name ||
				pc.User != tt.db.User || pc.Password != tt.db.Password {
				t.Errorf("round trip: host=%q port=%d db=%q user=%q pw=%q", pc.Host, pc.Port, pc.Database, pc.User, pc.Password)
			}
			if (pc.TLSConfig != nil) != tt.db.TLS {
				t.Errorf("TLS config present = %v, want %v", pc.TLSConfig != nil, tt.db.TLS)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	secrets := map[string]string{
		"UI_DEVOPS_PASSWORD":           "zz-hidden-ui",
		"REDIS_CACHEKEY":               "zz-hidden-redis",
		"DB_PASSWORD":                  "zz-hidden-db",
		"AUTHENTICATION_CLIENT_SECRET": "zz-hidden-client",
	}
	env := with(minimalEnv(),
		"UI_DEVOPS_PASSWORD", secrets["UI_DEVOPS_PASSWORD"],
		"REDIS_CACHEKEY", secrets["REDIS_CACHEKEY"],
		"DB_PASSWORD", secrets["DB_PASSWORD"],
		"AUTHENTICATION_CLIENT_SECRET", secrets["AUTHENTICATION_CLIENT_SECRET"],
		"VOICE_REDIS_ORS_STREAM", `{"password":"zz-hidden-voice"}`,
		"CONSUL_HTTP_ADDR", "http://token:zz-hidden-consul@consul:8500",
		"AUTHENTICATION_CLIENT_ID", "visible-client",
	)
	c := mustLoad(t, env)
	// Set directly: through Load it would also require an encrypted client secret.
	c.DecryptPassword = "zz-hidden-decrypt"
	r := c.Redacted()

	dump, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(dump), fmt.Sprint(r), fmt.Sprintf("%+v", r)} {
		if strings.Contains(s, "zz-hidden") {
			t.Errorf("redacted output leaks a secret: %s", s)
		}
	}
	for key, want := range map[string]any{
		"UI_DEVOPS_PASSWORD":              "***",
		"DECRYPT_PASSWORD":                "***",
		"REDIS_CACHEKEY":                  "***",
		"DB_PASSWORD":                     "***",
		"AUTHENTICATION_CLIENT_SECRET":    "***",
		"voice-redis-ors-stream.password": "***",
		"AUTHENTICATION_CLIENT_ID":        "visible-client",
		"REDIS_HOST":                      "redis.ges",
		"DB_PORT":                         5432,
		"INTERNAL_URL":                    "http://ges.ges:3050",
		"CONSUL_HTTP_ADDR":                "http://token:xxxxx@consul:8500",
	} {
		if got := r[key]; !reflect.DeepEqual(got, want) {
			t.Errorf("Redacted()[%q] = %#v, want %#v", key, got, want)
		}
	}
	// Every struct field should be represented.
	if len(r) < 40 {
		t.Errorf("Redacted has only %d keys", len(r))
	}
	// Mutating the returned slices must not touch the configuration.
	r["DEVOPS_ACCESS_GROUPS"].([]string)[0] = "changed"
	if c.DevOpsAccessGroups[0] == "changed" {
		t.Error("Redacted shares slices with Config")
	}
}

// opensslEncrypt runs the real openssl command the product documentation
// tells operators to use.
func opensslEncrypt(t *testing.T, plaintext, password string, base64Out bool) []byte {
	t.Helper()
	args := []string{"enc", "-aes-128-ecb", "-md", "md5", "-nosalt", "-pass", "pass:" + password}
	if base64Out {
		args = append(args, "-a")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = strings.NewReader(plaintext)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %v: %v: %s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
}

func TestDecryptSecretOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	plaintexts := map[string]string{
		"empty":     "",
		"1 byte":    "x",
		"15 bytes":  "abcdefghijklmno",
		"16 bytes":  "abcdefghijklmnop",
		"17 bytes":  "abcdefghijklmnopq",
		"100 bytes": strings.Repeat("0123456789", 9) + "!@#$%^&*()",
		"unicode":   "clé-secrète-密码-🔑",
		"spaces":    "  padded secret  ",
	}
	if n := len(plaintexts["100 bytes"]); n != 100 {
		t.Fatalf("100-byte plaintext has %d bytes", n)
	}
	passwords := []string{"PW", "a much longer decrypt password than sixteen bytes", "pässwörd"}
	_, xxdErr := exec.LookPath("xxd")

	for name, pt := range plaintexts {
		for _, pw := range passwords {
			t.Run(name+"/"+pw, func(t *testing.T) {
				raw := opensslEncrypt(t, pt, pw, false)
				b64 := opensslEncrypt(t, pt, pw, true)
				forms := map[string]string{
					"raw":            string(raw),
					"base64":         string(b64),
					"base64 oneline": strings.ReplaceAll(string(b64), "\n", ""),
					"hex":            hex.EncodeToString(raw),
					"HEX":            strings.ToUpper(hex.EncodeToString(raw)),
				}
				if xxdErr == nil {
					cmd := exec.Command("xxd", "-p")
					cmd.Stdin = bytes.NewReader(raw)
					out, err := cmd.Output()
					if err != nil {
						t.Fatalf("xxd: %v", err)
					}
					forms["xxd -p"] = string(out) // wrapped at 60 columns
				}
				for form, ct := range forms {
					got, err := DecryptSecret(ct, pw)
					if err != nil {
						t.Errorf("%s: DecryptSecret: %v", form, err)
						continue
					}
					if got != pt {
						t.Errorf("%s: DecryptSecret = %q, want %q", form, got, pt)
					}
				}
			})
		}
	}
}

func TestDecryptSecretWrongPassword(t *testing.T) {
	requireOpenSSL(t)
	for _, pt := range []string{"x", "client-secret-value", strings.Repeat("z", 100)} {
		ct := hex.EncodeToString(opensslEncrypt(t, pt, "right-password", false))
		got, err := DecryptSecret(ct, "wrong-password")
		if err == nil {
			t.Errorf("DecryptSecret with wrong password returned %q, want error", got)
			continue
		}
		if strings.Contains(err.Error(), ct) {
			t.Errorf("error leaks input: %v", err)
		}
	}
}

func TestDecryptSecretMalformed(t *testing.T) {
	for name, ct := range map[string]string{
		"empty":            "",
		"whitespace":       " \n",
		"short hex":        "00112233",
		"odd base64 block": "AAAA",
		"raw 5 bytes":      "\x01\x02\x03\x04\x05",
	} {
		if _, err := DecryptSecret(ct, "pw"); err == nil {
			t.Errorf("%s: DecryptSecret succeeded, want error", name)
		}
	}
}

// Node's crypto.createCipher('aes-128-ecb', 'PW') applied to "hello",
// output as hex; the key derivation must match OpenSSL's.
func TestBytesToKeyMatchesOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	out, err := exec.Command("openssl", "enc", "-aes-128-ecb", "-md", "md5", "-nosalt", "-pass", "pass:PW", "-P").Output()
	if err != nil {
		t.Fatalf("openssl -P: %v", err)
	}
	var key string
	for _, line := range strings.Split(string(out), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "key="); ok {
			key = k
		}
	}
	if got := strings.ToUpper(hex.EncodeToString(bytesToKey([]byte("PW"), 16))); got != key {
		t.Errorf("bytesToKey = %s, openssl key = %s", got, key)
	}
}

func TestLoadDecryptsClientSecret(t *testing.T) {
	requireOpenSSL(t)
	const password, secret = "decrypt-me", "the-real-gws-client-secret"
	raw := opensslEncrypt(t, secret, password, false)
	b64 := opensslEncrypt(t, secret, password, true)

	for form, ct := range map[string]string{"hex": hex.EncodeToString(raw) + "\n", "base64": string(b64)} {
		t.Run(form, func(t *testing.T) {
			dir := writeK8sFolder(t, map[string]string{"AUTHENTICATION-CLIENT-SECRET": ct, "AUTHENTICATION-CLIENT-ID": "ges_client"})
			c := mustLoad(t, with(minimalEnv(), "CONFIG_FOLDERS", dir, "DECRYPT_PASSWORD", password))
			if c.GWS.ClientSecret != secret {
				t.Errorf("ClientSecret = %q, want %q", c.GWS.ClientSecret, secret)
			}
			if c.GWS.ClientID != "ges_client" {
				t.Errorf("ClientID = %q", c.GWS.ClientID)
			}
		})
	}

	t.Run("without DECRYPT_PASSWORD the value is used as is", func(t *testing.T) {
		dir := writeFolder(t, map[string]string{"AUTHENTICATION-CLIENT-SECRET": "plain"})
		c := mustLoad(t, with(minimalEnv(), "CONFIG_FOLDERS", dir))
		if c.GWS.ClientSecret != "plain" {
			t.Errorf("ClientSecret = %q", c.GWS.ClientSecret)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		ct := hex.EncodeToString(raw)
		dir := writeFolder(t, map[string]string{"AUTHENTICATION-CLIENT-SECRET": ct})
		msg := loadErr(t, with(minimalEnv(), "CONFIG_FOLDERS", dir, "DECRYPT_PASSWORD", "not-the-password"))
		if !strings.Contains(msg, "AUTHENTICATION-CLIENT-SECRET") {
			t.Errorf("error %q does not name AUTHENTICATION-CLIENT-SECRET", msg)
		}
		for _, leak := range []string{ct, "not-the-password", secret} {
			if strings.Contains(msg, leak) {
				t.Errorf("error %q leaks %q", msg, leak)
			}
		}
	})

	t.Run("not ciphertext", func(t *testing.T) {
		msg := loadErr(t, with(minimalEnv(), "AUTHENTICATION_CLIENT_SECRET", "plain-text!", "DECRYPT_PASSWORD", password))
		if !strings.Contains(msg, "AUTHENTICATION-CLIENT-SECRET") || strings.Contains(msg, "plain-text!") {
			t.Errorf("error %q", msg)
		}
	})
}

func TestLoadNilGetenvUsesProcessEnv(t *testing.T) {
	for k, v := range minimalEnv() {
		t.Setenv(k, v)
	}
	t.Setenv("CONFIG_FOLDERS", "")
	t.Setenv("REDIS_PORT", "6390")
	c, err := Load(nil)
	if err != nil {
		t.Fatalf("Load(nil): %v", err)
	}
	if c.Redis.Port != 6390 {
		t.Errorf("Redis.Port = %d", c.Redis.Port)
	}
}

func TestServiceTokens(t *testing.T) {
	long := strings.Repeat("t", 32)
	dir := writeFolder(t, map[string]string{"ADMIN-API-TOKEN": long + "a"})
	c := mustLoad(t, with(minimalEnv(), "DESIGNER_API_TOKEN", long, "CONFIG_FOLDERS", dir))
	if c.DesignerAPIToken != long || c.AdminAPIToken != long+"a" {
		t.Fatalf("tokens = %q, %q", c.DesignerAPIToken, c.AdminAPIToken)
	}
	if r := c.Redacted(); r["DESIGNER-API-TOKEN"] != "***" || r["ADMIN-API-TOKEN"] != "***" {
		t.Fatalf("redacted: %v %v", r["DESIGNER-API-TOKEN"], r["ADMIN-API-TOKEN"])
	}
	msg := loadErr(t, with(minimalEnv(), "DESIGNER_API_TOKEN", "short-secret"))
	if !strings.Contains(msg, "DESIGNER-API-TOKEN") || strings.Contains(msg, "short-secret") {
		t.Fatalf("short token: %q", msg)
	}
}

// The hardening settings refuse what would silently mean something else,
// and their defaults are the documented ones.
func TestHardeningSettings(t *testing.T) {
	c := mustLoad(t, minimalEnv())
	if c.UIPublicURL != c.InternalURL || c.UISessionLifetime != 12*time.Hour || c.HTTP != (HTTPConfig{30 * time.Second, time.Minute, 2 * time.Minute}) ||
		c.Limits.TenantRate != 200 || c.Limits.TenantBurst != 400 || c.Limits.KeyRate != 100 || c.Limits.KeyBurst != 200 ||
		c.Limits.KeyFailuresPerMinute != 20 || len(c.Limits.TrustedProxies) != 6 || c.Limits.CORSOrigins != nil || c.Limits.CORSMaxAge != 10*time.Minute {
		t.Fatalf("defaults: %+v %+v %+v %s %s", c.HTTP, c.Limits, c.UIPublicURL, c.InternalURL, c.UISessionLifetime)
	}
	if c := mustLoad(t, with(minimalEnv(), "TRUSTED_PROXIES", "none", "API_CREATE_RATE_KEY", "0")); c.Limits.TrustedProxies != nil || c.Limits.KeyRate != 0 {
		t.Fatalf("none / off: %+v", c.Limits)
	}
	for _, kv := range [][2]string{
		{"UI_PUBLIC_URL", "ges.example.com"},
		{"UI_PUBLIC_URL", "ftp://ges.example.com"},
		{"HTTP_READ_TIMEOUT", "0"},
		{"HTTP_WRITE_TIMEOUT", "soon"},
		{"API_CREATE_RATE_TENANT", "-1"},
		{"API_CREATE_BURST_KEY", "0"},
		{"TRUSTED_PROXIES", "10.0.0.0/33"},
		{"CORS_ALLOWED_ORIGINS", "https://shop.example/path"},
		{"CORS_ALLOWED_ORIGINS", "shop.example"},
		{"UI_SESSION_LIFETIME", "-1h"},
	} {
		if _, err := Load(envFrom(with(minimalEnv(), kv[0], kv[1]))); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s=%q: %v", kv[0], kv[1], err)
		}
	}
}
