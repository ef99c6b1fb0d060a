package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const readyTimeout = 30 * time.Second

// StackOptions shapes NewStack.
type StackOptions struct {
	Nodes     int               // GES processes; default 1
	Fixture   *Fixture          // default DefaultFixture()
	Env       map[string]string // extra environment for every GES node, overriding the defaults
	NoPublish bool              // do not publish the fixture's tables after start-up
	// RedisCluster runs GES' Redis as a three-master Redis Cluster
	// (REDIS_CLUSTER=true); Stack.Redis is then its first node.
	RedisCluster bool
	// ServiceURL gives every node the same INTERNAL_URL, a Balancer over
	// all nodes (Stack.Balancer), so that ORS reports reach any live node.
	ServiceURL bool
	// Redis and Voice turn on persistence of GES' Redis (not in cluster
	// mode) and of the Voice Redis.
	Redis, Voice RedisOptions
}

// Stack is a whole platform for one test: GES Redis, Voice Redis, a fresh
// database in the shared cluster, gessim and the GES nodes. Everything stops
// when the test ends (nodes first).
type Stack struct {
	// RedisNodes are the masters when StackOptions.RedisCluster is set.
	RedisNodes []*Redis
	Redis      *Redis // GES hot store
	Voice      *Redis // Voice Redis, home of NewCallbackStream
	PG         *Postgres
	DBName     string
	Sim        *Sim
	Nodes      []*Node
	Fixture    *Fixture
	Balancer   *Balancer // with StackOptions.ServiceURL

	gesBin, simBin string
	env            map[string]string // default node environment, without the per-node ports
	extra          map[string]string // StackOptions.Env, applied last
}

// Sim is the running gessim.
type Sim struct {
	AuthURL, EnvURL, ORSURL, AdminURL string
	// The platform's other services, always started: two URS instances
	// (index 0 and 1, for region tests), GWS Statistics and Configuration,
	// FCM and reCAPTCHA.
	URSURLs                               []string
	StatsURL, ConfURL, FCMURL, CaptchaURL string
	FixturePath                           string
	Proc                                  *Proc
}

// Node is one running GES process.
type Node struct {
	Name                       string // ges-0, ges-1, ...
	InternalURL, ExternalURL   string // http://127.0.0.1:PORT
	InternalPort, ExternalPort int
	// Env is the node's complete environment. RestartNode starts the node
	// again with Env, so a test may change it in between.
	Env  map[string]string
	Proc *Proc
}

// NewStack starts Redis, Voice Redis, a database, gessim and the GES nodes,
// waits until every node is ready, and publishes the fixture's tables
// through node 0 (unless NoPublish).
func NewStack(t testing.TB, o StackOptions) *Stack {
	t.Helper()
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	fx := o.Fixture
	if fx == nil {
		fx = DefaultFixture()
	}
	s := &Stack{Fixture: fx}
	s.gesBin, s.simBin = Binaries(t)
	if o.RedisCluster {
		s.RedisNodes = StartRedisCluster(t)
		s.Redis = s.RedisNodes[0]
	} else {
		s.Redis = StartRedisWith(t, o.Redis)
	}
	s.Voice = StartRedisWith(t, o.Voice)
	s.PG = SharedPostgres(t)
	s.DBName = s.PG.NewDatabase(t)
	s.Sim = s.startSim(t)

	id, secret := ClientID, ClientSecret
	if len(fx.Clients) > 0 {
		id, secret = fx.Clients[0].ID, fx.Clients[0].Secret
	}
	s.env = map[string]string{
		"LOG_LEVEL":                      "DEBUG",
		"REDIS_HOST":                     "127.0.0.1",
		"REDIS_PORT":                     strconv.Itoa(s.Redis.Port),
		"DB_HOST":                        s.PG.Host,
		"DB_PORT":                        strconv.Itoa(s.PG.Port),
		"DB_NAME":                        s.DBName,
		"DB_USER":                        s.PG.User,
		"DB_PASSWORD":                    "",
		"VMCS_REDIS_HOST":                "127.0.0.1",
		"VMCS_REDIS_PORT":                strconv.Itoa(s.Voice.Port),
		"GWS_AUTH_URL":                   s.Sim.AuthURL,
		"GWS_ENV_URL":                    s.Sim.EnvURL,
		"GWS_CONF_URL":                   s.Sim.ConfURL,
		"GWS_STATS_URL":                  s.Sim.StatsURL,
		"CAPTCHA_VERIFY_URL":             s.Sim.CaptchaURL + "/recaptcha/api/siteverify",
		"FCM_URL":                        s.Sim.FCMURL + "/v1",
		"ORS_URL":                        s.Sim.ORSURL,
		"URS_URL":                        strings.Join(s.Sim.URSURLs, ","),
		"DISCOVERY_INTERVAL_SECONDS":     "1",
		"AUTHENTICATION_CLIENT_ID":       id,
		"AUTHENTICATION_CLIENT_SECRET":   secret,
		"MONITOR_LEASE_SECONDS":          "5",
		"MONITOR_REPORT_TIMEOUT_SECONDS": "30",
		"HEALTH_INTERVAL_SECONDS":        "1",
		"MONITOR_RESTORE_CHECK_SECONDS":  "1",
		"DESIGNER_API_TOKEN":             DesignerToken,
		"ADMIN_API_TOKEN":                AdminToken,
	}
	if o.RedisCluster {
		s.env["REDIS_CLUSTER"] = "true"
	}
	s.extra = o.Env
	if o.ServiceURL {
		s.Balancer = StartBalancer(t)
	}

	// Start every node before waiting for any: they start up (and run
	// migrations under their advisory lock) concurrently, as in production.
	for i := range o.Nodes {
		s.Nodes = append(s.Nodes, s.spawnNode(t, i))
	}
	for i, n := range s.Nodes {
		if err := waitHTTP(n.readyURL(), n.Proc, readyTimeout); err != nil {
			if n.Proc.addrInUse() {
				n.Proc.Stop()
				s.Nodes[i] = s.launchNode(t, i)
				continue
			}
			n.Proc.Stop()
			t.Fatalf("testenv: %v\n%s", err, n.Proc.logTail())
		}
	}
	if !o.NoPublish {
		s.Publish(t)
	}
	return s
}

// StartNode starts one more GES node with the stack's environment and waits
// until it is ready.
func (s *Stack) StartNode(t testing.TB) *Node {
	t.Helper()
	n := s.launchNode(t, len(s.Nodes))
	s.Nodes = append(s.Nodes, n)
	return n
}

// RestartNode stops node i (gracefully; a node already killed is fine) and
// starts it again on the same ports with Node.Env, waiting until it is ready.
func (s *Stack) RestartNode(t testing.TB, i int) {
	t.Helper()
	n := s.Nodes[i]
	n.Proc.Stop()
	n.Proc = s.startNodeProc(t, n)
	if err := waitHTTP(n.readyURL(), n.Proc, readyTimeout); err != nil {
		n.Proc.Stop()
		t.Fatalf("testenv: %v\n%s", err, n.Proc.logTail())
	}
}

// Publish sends the CALLBACK_SETTINGS tables of s.Fixture to node 0, the way
// Designer publishes them (gessim publish). Tests may edit s.Fixture first;
// the running gessim keeps the tenants and keys it started with.
func (s *Stack) Publish(t testing.TB) {
	t.Helper()
	s.PublishTo(t, s.Nodes[0])
}

// PublishTo is Publish through a given node.
func (s *Stack) PublishTo(t testing.TB, n *Node) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "publish-fixture.json")
	if err := s.Fixture.WriteFile(path); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.simBin, "publish", "--fixture", path, "--ges", n.InternalURL)
	cmd.Env = minimalEnv("LOG_LEVEL=DEBUG", "DESIGNER_API_TOKEN="+DesignerToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: gessim publish --ges %s: %v\n%s", n.InternalURL, err, out)
	}
	s.awaitTables(t, n)
}

// awaitTables waits until every node has the tables node n has, so a test
// can use any node right after a publish.
func (s *Stack) awaitTables(t testing.TB, from *Node) {
	t.Helper()
	version := func(n *Node, ccid string) string {
		r, err := n.InternalDo("GET", "/ges/v1/datatables/"+CallbackSettings, ccid, nil)
		if err != nil || r.Status != 200 {
			return ""
		}
		var body struct {
			Version json.Number `json:"version"`
		}
		_ = json.Unmarshal(r.Body, &body)
		return body.Version.String()
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, cc := range s.Fixture.ContactCenters {
		want := version(from, cc.ID)
		for _, n := range s.Nodes {
			for n != from && version(n, cc.ID) != want {
				if time.Now().After(deadline) {
					t.Fatalf("testenv: %s did not get the table of %s published through %s", n.Name, cc.Name, from.Name)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}

func (s *Stack) startSim(t testing.TB) *Sim {
	t.Helper()
	dir := t.TempDir()
	sim := &Sim{FixturePath: filepath.Join(dir, "fixture.json")}
	if err := s.Fixture.WriteFile(sim.FixturePath); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for attempt := 1; ; attempt++ {
		addr := func() string { return "127.0.0.1:" + strconv.Itoa(FreePort(t)) }
		auth, env, ors, admin := addr(), addr(), addr(), addr()
		urs0, urs1, stats, conf, fcm, captcha := addr(), addr(), addr(), addr(), addr(), addr()
		sim.AuthURL, sim.EnvURL, sim.ORSURL, sim.AdminURL = "http://"+auth, "http://"+env, "http://"+ors, "http://"+admin
		sim.URSURLs = []string{"http://" + urs0, "http://" + urs1}
		sim.StatsURL, sim.ConfURL, sim.FCMURL, sim.CaptchaURL = "http://"+stats, "http://"+conf, "http://"+fcm, "http://"+captcha
		cmd := exec.Command(s.simBin, "serve",
			"--fixture", sim.FixturePath,
			"--voice-redis", s.Voice.Addr,
			"--auth-addr", auth,
			"--env-addr", env,
			"--ors-addr", ors,
			"--admin-addr", admin,
			"--urs-addr", urs0, "--urs-addr", urs1,
			"--stats-addr", stats, "--conf-addr", conf,
			"--fcm-addr", fcm, "--captcha-addr", captcha,
		)
		cmd.Dir = dir
		cmd.Env = minimalEnv("LOG_LEVEL=DEBUG")
		sim.Proc = StartProc(t, "gessim", cmd)
		err := waitHTTP(sim.AdminURL+"/sim/health", sim.Proc, readyTimeout)
		if err == nil {
			return sim
		}
		sim.Proc.Stop()
		if attempt < 3 && sim.Proc.addrInUse() {
			continue
		}
		t.Fatalf("testenv: %v\n%s", err, sim.Proc.logTail())
	}
}

// launchNode starts node i on fresh ports and waits until it is ready,
// retrying with other ports if one was taken in the meantime.
func (s *Stack) launchNode(t testing.TB, i int) *Node {
	t.Helper()
	for attempt := 1; ; attempt++ {
		n := s.spawnNode(t, i)
		err := waitHTTP(n.readyURL(), n.Proc, readyTimeout)
		if err == nil {
			return n
		}
		n.Proc.Stop()
		if attempt < 3 && n.Proc.addrInUse() {
			continue
		}
		t.Fatalf("testenv: %v\n%s", err, n.Proc.logTail())
	}
}

// spawnNode starts node i on fresh ports without waiting for it.
func (s *Stack) spawnNode(t testing.TB, i int) *Node {
	t.Helper()
	n := &Node{Name: "ges-" + strconv.Itoa(i), InternalPort: FreePort(t), ExternalPort: FreePort(t)}
	n.InternalURL = "http://127.0.0.1:" + strconv.Itoa(n.InternalPort)
	n.ExternalURL = "http://127.0.0.1:" + strconv.Itoa(n.ExternalPort)
	serviceURL := n.InternalURL
	if s.Balancer != nil {
		serviceURL = s.Balancer.URL
		s.Balancer.Add(n.InternalURL)
	}
	n.Env = mergeEnv(s.env, map[string]string{
		"INTERNAL_PORT": strconv.Itoa(n.InternalPort),
		"EXTERNAL_PORT": strconv.Itoa(n.ExternalPort),
		"INTERNAL_URL":  serviceURL,
	})
	n.Env = mergeEnv(n.Env, s.extra)
	n.Proc = s.startNodeProc(t, n)
	return n
}

func (s *Stack) startNodeProc(t testing.TB, n *Node) *Proc {
	t.Helper()
	cmd := exec.Command(s.gesBin)
	cmd.Dir = t.TempDir()
	var env []string
	for _, k := range slices.Sorted(maps.Keys(n.Env)) {
		env = append(env, k+"="+n.Env[k])
	}
	cmd.Env = minimalEnv(env...)
	return StartProc(t, n.Name, cmd)
}

func (n *Node) readyURL() string { return n.InternalURL + "/ges/v1/health/ready" }

// String identifies the node in messages.
func (n *Node) String() string { return fmt.Sprintf("%s(%s)", n.Name, n.InternalURL) }

func mergeEnv(base, over map[string]string) map[string]string {
	m := maps.Clone(base)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, over)
	return m
}
