package gws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gesgo/ges/internal/sim/fixture"
	"github.com/gesgo/ges/internal/sim/simhttp"
)

// CCIDHeader names the contact center a Configuration request is about.
// Script objects live per contact center; without the header a request works
// on the shared, contact-center-less set.
const CCIDHeader = "X-Ccid"

// Script is a Configuration script object; GES creates one per callback VQ
// so that access groups can be granted read on individual VQs.
type Script struct {
	DBID      int       `json:"dbid"`
	Name      string    `json:"name"`
	Type      string    `json:"type,omitempty"`
	Folder    string    `json:"folder,omitempty"`
	CCID      string    `json:"contactCenterId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Config is the simulated GWS Configuration service.
type Config struct {
	fx     *fixture.Fixture
	tokens *Tokens
	log    *slog.Logger
	now    func() time.Time
	fail   simhttp.Failures

	mu        sync.Mutex
	failReads bool
	scripts   []Script
	nextDBID  int
	reads     int
	writes    int
}

// NewConfig serves fx's users and access groups and an initially empty set
// of script objects.
func NewConfig(fx *fixture.Fixture, tokens *Tokens, log *slog.Logger) *Config {
	if log == nil {
		log = slog.Default()
	}
	return &Config{fx: fx, tokens: tokens, log: log, now: time.Now, nextDBID: 3001}
}

type envelope struct {
	Status status `json:"status"`
	Data   any    `json:"data,omitempty"`
}

func okBody(data any) envelope { return envelope{Status: status{Code: 0, Message: "OK"}, Data: data} }

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, envelope{Status: status{Code: code, Message: msg}})
}

// Handler serves the /configuration/v3 endpoints.
func (c *Config) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(requireBearer(c.tokens))
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) { fail(w, http.StatusNotFound, "not found") })
	r.Route("/configuration/v3", func(r chi.Router) {
		r.Group(func(r chi.Router) {
			r.Use(c.tenant)
			r.Get("/objects/scripts", c.read(c.listScripts))
			r.Post("/objects/scripts", c.write(c.createScript))
			r.Get("/objects/scripts/{dbid}", c.read(c.withScript(func(w http.ResponseWriter, _ *http.Request, s Script) {
				writeJSON(w, http.StatusOK, okBody(s))
			})))
			r.Delete("/objects/scripts/{dbid}", c.write(c.withScript(c.deleteScript)))
			r.Get("/objects/scripts/{dbid}/permissions", c.read(c.withScript(c.scriptPermissions)))
			r.Get("/objects/persons", c.read(c.listPersons))
			r.Get("/access-groups/{group}/permissions/scripts/{script}", c.read(c.groupPermission))
		})
		r.Get("/objects/access-groups", c.read(c.listAccessGroups))
		r.Get("/users/{username}/access-groups", c.read(c.userAccessGroups))
	})
	return r
}

type tenantKey struct{}

// tenant resolves the contact center header; an unknown one is an error
// rather than an empty answer, so a misconfigured GES fails loudly.
func (c *Config) tenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ccid := req.Header.Get(CCIDHeader)
		if ccid != "" {
			if _, known := c.fx.ContactCenterByID(ccid); !known {
				fail(w, http.StatusNotFound, "contact center "+ccid+" not found")
				return
			}
		}
		next.ServeHTTP(w, req.WithContext(contextWith(req, tenantKey{}, ccid)))
	})
}

func tenantOf(req *http.Request) string {
	s, _ := req.Context().Value(tenantKey{}).(string)
	return s
}

// read and write count calls and apply armed failures: writes always,
// reads only when the failure was armed with reads=true.
func (c *Config) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		c.mu.Lock()
		c.reads++
		failReads := c.failReads
		c.mu.Unlock()
		if failReads && c.injectFailure(w) {
			return
		}
		h(w, req)
	}
}

func (c *Config) write(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		c.mu.Lock()
		c.writes++
		c.mu.Unlock()
		if c.injectFailure(w) {
			return
		}
		h(w, req)
	}
}

func (c *Config) injectFailure(w http.ResponseWriter) bool {
	code, failing := c.fail.Take()
	if !failing {
		return false
	}
	if code == 0 {
		code = http.StatusInternalServerError
	}
	c.log.Info("config: failing on purpose", "status", code)
	fail(w, code, http.StatusText(code)+" (injected by the simulator)")
	return true
}

func (c *Config) listScripts(w http.ResponseWriter, req *http.Request) {
	ccid, name := tenantOf(req), req.URL.Query().Get("name")
	out := []Script{}
	c.mu.Lock()
	for _, s := range c.scripts {
		if s.CCID == ccid && (name == "" || s.Name == name) {
			out = append(out, s)
		}
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, okBody(map[string]any{"objects": out}))
}

type scriptBody struct {
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"`
	Folder string `json:"folder,omitempty"`
}

func (c *Config) createScript(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	// GWS wraps objects in "data"; a bare object is accepted as well.
	var wrapped struct {
		Data *scriptBody `json:"data"`
	}
	var body scriptBody
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		fail(w, http.StatusBadRequest, "body is not JSON: "+err.Error())
		return
	}
	if wrapped.Data != nil {
		body = *wrapped.Data
	} else if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, "body is not JSON: "+err.Error())
		return
	}
	if body.Name == "" {
		fail(w, http.StatusBadRequest, "a script needs a name")
		return
	}
	ccid := tenantOf(req)
	c.mu.Lock()
	for _, s := range c.scripts {
		if s.CCID == ccid && s.Name == body.Name {
			c.mu.Unlock()
			writeJSON(w, http.StatusConflict, envelope{Status: status{Code: http.StatusConflict,
				Message: fmt.Sprintf("script %q already exists", body.Name)}, Data: s})
			return
		}
	}
	s := Script{DBID: c.nextDBID, Name: body.Name, Type: body.Type, Folder: body.Folder, CCID: ccid, CreatedAt: c.now().UTC()}
	c.nextDBID++
	c.scripts = append(c.scripts, s)
	c.mu.Unlock()
	c.log.Info("config: script created", "name", s.Name, "dbid", s.DBID, "ccid", ccid)
	w.Header().Set("Location", "/configuration/v3/objects/scripts/"+strconv.Itoa(s.DBID))
	writeJSON(w, http.StatusCreated, okBody(s))
}

func (c *Config) withScript(h func(http.ResponseWriter, *http.Request, Script)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		dbid, err := strconv.Atoi(chi.URLParam(req, "dbid"))
		if err != nil {
			fail(w, http.StatusNotFound, "script not found")
			return
		}
		s, found := c.script(tenantOf(req), func(s Script) bool { return s.DBID == dbid })
		if !found {
			fail(w, http.StatusNotFound, "script not found")
			return
		}
		h(w, req, s)
	}
}

func (c *Config) script(ccid string, match func(Script) bool) (Script, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.scripts {
		if s.CCID == ccid && match(s) {
			return s, true
		}
	}
	return Script{}, false
}

func (c *Config) deleteScript(w http.ResponseWriter, _ *http.Request, s Script) {
	c.mu.Lock()
	for i := range c.scripts {
		if c.scripts[i].DBID == s.DBID {
			c.scripts = append(c.scripts[:i], c.scripts[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	c.log.Info("config: script deleted", "name", s.Name, "dbid", s.DBID, "ccid", s.CCID)
	writeJSON(w, http.StatusOK, okBody(nil))
}

// Permission is one access group's rights on an object.
type Permission struct {
	AccessGroup string   `json:"accessGroup"`
	DBID        int      `json:"dbid"`
	Rights      []string `json:"rights"`
}

func (c *Config) scriptPermissions(w http.ResponseWriter, _ *http.Request, s Script) {
	perms := []Permission{}
	for i, g := range c.fx.AccessGroups {
		if g.CanRead(s.Name) {
			perms = append(perms, Permission{AccessGroup: g.Name, DBID: accessGroupDBID(i), Rights: []string{"read"}})
		}
	}
	writeJSON(w, http.StatusOK, okBody(map[string]any{"permissions": perms}))
}

func (c *Config) groupPermission(w http.ResponseWriter, req *http.Request) {
	gname, _ := url.PathUnescape(chi.URLParam(req, "group"))
	sname, _ := url.PathUnescape(chi.URLParam(req, "script"))
	idx := -1
	for i, g := range c.fx.AccessGroups {
		if g.Name == gname {
			idx = i
		}
	}
	if idx < 0 {
		fail(w, http.StatusNotFound, "access group "+gname+" not found")
		return
	}
	s, found := c.script(tenantOf(req), func(s Script) bool { return s.Name == sname })
	if !found {
		fail(w, http.StatusNotFound, "script "+sname+" not found")
		return
	}
	g := c.fx.AccessGroups[idx]
	rights := []string{}
	if g.CanRead(s.Name) {
		rights = append(rights, "read")
	}
	writeJSON(w, http.StatusOK, okBody(map[string]any{
		"accessGroup": g.Name, "accessGroupDbid": accessGroupDBID(idx),
		"script": s.Name, "scriptDbid": s.DBID,
		"rights": rights, "read": len(rights) > 0,
	}))
}

// Person is a user as the Configuration API shows it.
type Person struct {
	DBID            int      `json:"dbid"`
	UserName        string   `json:"userName"`
	Name            string   `json:"name"`
	AccessGroups    []string `json:"accessGroups"`
	ContactCenterID string   `json:"contactCenterId,omitempty"`
}

func (c *Config) listPersons(w http.ResponseWriter, req *http.Request) {
	ccid, name := tenantOf(req), req.URL.Query().Get("user_name")
	out := []Person{}
	for i, u := range c.fx.Users {
		if (name != "" && u.Username != name) || (ccid != "" && u.CCID != "" && u.CCID != ccid) {
			continue
		}
		out = append(out, Person{DBID: userDBID(i), UserName: u.Username, Name: u.Name,
			AccessGroups: append([]string{}, u.AccessGroups...), ContactCenterID: u.CCID})
	}
	writeJSON(w, http.StatusOK, okBody(map[string]any{"objects": out}))
}

// AccessGroupView is an access group as the Configuration API shows it.
type AccessGroupView struct {
	DBID    int      `json:"dbid"`
	Name    string   `json:"name"`
	Roles   []string `json:"roles"`
	Members []string `json:"members,omitempty"`
}

func (c *Config) groupView(i int, members bool) AccessGroupView {
	g := c.fx.AccessGroups[i]
	v := AccessGroupView{DBID: accessGroupDBID(i), Name: g.Name, Roles: append([]string{}, g.Roles...)}
	if members {
		for _, u := range c.fx.Users {
			for _, ug := range u.AccessGroups {
				if ug == g.Name {
					v.Members = append(v.Members, u.Username)
				}
			}
		}
		sort.Strings(v.Members)
	}
	return v
}

func (c *Config) listAccessGroups(w http.ResponseWriter, req *http.Request) {
	name := req.URL.Query().Get("name")
	out := []AccessGroupView{}
	for i, g := range c.fx.AccessGroups {
		if name == "" || g.Name == name {
			out = append(out, c.groupView(i, true))
		}
	}
	writeJSON(w, http.StatusOK, okBody(map[string]any{"objects": out}))
}

func (c *Config) userAccessGroups(w http.ResponseWriter, req *http.Request) {
	uname, _ := url.PathUnescape(chi.URLParam(req, "username"))
	u, found := c.fx.UserByName(uname)
	if !found {
		fail(w, http.StatusNotFound, "user "+uname+" not found")
		return
	}
	out := []AccessGroupView{}
	for _, gname := range u.AccessGroups {
		for i, g := range c.fx.AccessGroups {
			if g.Name == gname {
				out = append(out, c.groupView(i, false))
			}
		}
	}
	writeJSON(w, http.StatusOK, okBody(map[string]any{"accessGroups": out}))
}

// Scripts returns every script object, all contact centers together.
func (c *Config) Scripts() []Script {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Script{}, c.scripts...)
}

// ConfigCalls is the admin view of the requests received.
type ConfigCalls struct {
	Reads     int                  `json:"reads"`
	Writes    int                  `json:"writes"`
	Fail      simhttp.FailureState `json:"fail"`
	FailReads bool                 `json:"failReads"`
}

// MountAdmin adds the /sim/config/* endpoints to r.
func (c *Config) MountAdmin(r chi.Router) {
	r.Get("/sim/config/scripts", func(w http.ResponseWriter, _ *http.Request) {
		simhttp.WriteJSON(w, http.StatusOK, c.Scripts())
	})
	r.Delete("/sim/config/scripts", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		c.scripts = nil
		c.mu.Unlock()
		simhttp.WriteJSON(w, http.StatusOK, c.Scripts())
	})
	r.Get("/sim/config/calls", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		simhttp.WriteJSON(w, http.StatusOK, ConfigCalls{Reads: c.reads, Writes: c.writes, Fail: c.fail.State(), FailReads: c.failReads})
	})
	failer := c.fail.HandleSet(http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout)
	r.Post("/sim/config/fail", func(w http.ResponseWriter, req *http.Request) {
		reads, _ := strconv.ParseBool(req.URL.Query().Get("reads"))
		c.mu.Lock()
		c.failReads = reads
		c.mu.Unlock()
		failer(w, req)
	})
	r.Delete("/sim/config/fail", func(w http.ResponseWriter, req *http.Request) {
		c.mu.Lock()
		c.failReads = false
		c.mu.Unlock()
		failer(w, req)
	})
}
