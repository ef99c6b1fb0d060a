package callin

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCallinNormalizeDefaultsAndCanonicalNumbers(t *testing.T) {
	g := &Group{Name: " help ", Numbers: []string{"+1 (800) 555-0100", "0044 20 7946 0000"}}
	if err := g.Normalize(); err != nil {
		t.Fatal(err)
	}
	if g.Name != "help" || g.Expiry != DefaultExpiry || g.CodeLength != DefaultCodeLength || g.Allocation != RoundRobin {
		t.Fatalf("defaults: %+v", g)
	}
	if g.Numbers[0] != "+18005550100" || g.Numbers[1] != "+442079460000" {
		t.Fatalf("numbers: %v", g.Numbers)
	}
	g = &Group{Name: "x", Numbers: []string{"+18005550100"}, Allocation: "RANDOM"}
	if err := g.Normalize(); err != nil || g.Allocation != Random {
		t.Fatalf("allocation: %v %q", err, g.Allocation)
	}
}

func TestCallinNormalizeRefusals(t *testing.T) {
	for _, c := range []struct {
		g    Group
		want string
	}{
		{Group{Name: "", Numbers: []string{"+18005550100"}}, "name is required"},
		{Group{Name: "a\x01", Numbers: []string{"+18005550100"}}, "control character"},
		{Group{Name: "a"}, "numbers is required"},
		{Group{Name: "a", Numbers: []string{"18005550100"}}, "numbers[0]"},
		{Group{Name: "a", Numbers: []string{"+18005550100", "+0123"}}, "numbers[1]"},
		{Group{Name: "a", Numbers: []string{"+1234567890123456"}}, "numbers[0]"},
		{Group{Name: "a", Numbers: []string{"+18005550100", "+1 800 555 0100"}}, "Duplicate number"},
		{Group{Name: "a", Numbers: []string{"+18005550100"}, Expiry: 1500 * time.Millisecond}, "expirySeconds"},
		{Group{Name: "a", Numbers: []string{"+18005550100"}, Expiry: 25 * time.Hour}, "expirySeconds"},
		{Group{Name: "a", Numbers: []string{"+18005550100"}, CodeLength: 10}, "codeLength"},
		{Group{Name: "a", Numbers: []string{"+18005550100"}, Allocation: "lifo"}, "allocation"},
	} {
		g := c.g
		err := g.Normalize()
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindInvalid || !strings.Contains(e.Msg, c.want) {
			t.Errorf("%+v: got %v, want a KindInvalid naming %q", c.g, err, c.want)
		}
	}
}

func TestCallinDialedNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+18005550100":     "+18005550100",
		"18005550100":      "+18005550100",
		"1-800-555-0100":   "+18005550100",
		"0018005550100":    "+18005550100",
		"tel:+18005550100": "+18005550100",
	} {
		if got := DialedNumber(in); got != want {
			t.Errorf("DialedNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCallinSamePhone(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"4155550188", "+1 415 555 0188", true},
		{"+14155550188", "14155550188", true},
		{"5550188", "+14155550188", true},
		{"550188", "+14155550188", false}, // too short to stand for a number
		{"4155550188", "4155550189", false},
		{"", "4155550188", false},
	} {
		if got := SamePhone(c.a, c.b); got != c.want {
			t.Errorf("SamePhone(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func group(alloc string, codes bool, numbers ...string) *Group {
	g := &Group{Name: "g", Numbers: numbers, Allocation: alloc, AccessCodes: codes}
	if err := g.Normalize(); err != nil {
		panic(err)
	}
	return g
}

func seq() func(int) int {
	r := rand.New(rand.NewPCG(1, 2))
	return r.IntN
}

func TestCallinPickRoundRobinLocksEachNumber(t *testing.T) {
	g := group(RoundRobin, false, "+15550001", "+15550002", "+15550003")
	var live []Reservation
	var got []string
	for range 3 {
		n, code, cur, err := Pick(g, live, seq())
		if err != nil {
			t.Fatal(err)
		}
		if code != "" {
			t.Fatalf("code without codes: %q", code)
		}
		got = append(got, n)
		g.Cursor = cur
		live = append(live, Reservation{Number: n})
	}
	if strings.Join(got, ",") != "+15550001,+15550002,+15550003" {
		t.Fatalf("order: %v", got)
	}
	_, _, _, err := Pick(g, live, seq())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindExhausted || !strings.Contains(e.Msg, "No access number is available") {
		t.Fatalf("exhausted pool: %v", err)
	}
	// The second number is released: it is the only one handed out.
	live = []Reservation{{Number: "+15550001"}, {Number: "+15550003"}}
	if n, _, cur, err := Pick(g, live, seq()); err != nil || n != "+15550002" || cur != 2 {
		t.Fatalf("after release: %q %d %v", n, cur, err)
	}
}

func TestCallinPickRoundRobinRotates(t *testing.T) {
	g := group(RoundRobin, false, "+15550001", "+15550002", "+15550003")
	var got []string
	for range 5 {
		n, _, cur, err := Pick(g, nil, seq())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		g.Cursor = cur
	}
	if strings.Join(got, ",") != "+15550001,+15550002,+15550003,+15550001,+15550002" {
		t.Fatalf("rotation: %v", got)
	}
	// A cursor beyond a pool that shrank wraps around.
	g.Cursor = 7
	if n, _, _, _ := Pick(g, nil, seq()); n != "+15550002" {
		t.Fatalf("wrapped cursor: %q", n)
	}
}

func TestCallinPickRandomOnlyFreeNumbers(t *testing.T) {
	g := group(Random, false, "+15550001", "+15550002", "+15550003", "+15550004")
	live := []Reservation{{Number: "+15550001"}, {Number: "+15550003"}}
	seen := map[string]int{}
	intn := seq()
	for range 200 {
		n, _, _, err := Pick(g, live, intn)
		if err != nil {
			t.Fatal(err)
		}
		seen[n]++
	}
	if len(seen) != 2 || seen["+15550002"] == 0 || seen["+15550004"] == 0 {
		t.Fatalf("random picks: %v", seen)
	}
}

func TestCallinPickCodesShareANumber(t *testing.T) {
	g := group(RoundRobin, true, "+15550001")
	var live []Reservation
	codes := map[string]bool{}
	intn := seq()
	for range 50 {
		n, code, cur, err := Pick(g, live, intn)
		if err != nil {
			t.Fatal(err)
		}
		if n != "+15550001" || len(code) != 6 || code[0] == '0' || codes[code] {
			t.Fatalf("pick %q %q (codes so far %d)", n, code, len(codes))
		}
		codes[code] = true
		g.Cursor = cur
		live = append(live, Reservation{Number: n, Code: code})
	}
	// A reservation made while the group used no codes holds the number.
	if _, _, _, err := Pick(g, []Reservation{{Number: "+15550001"}}, intn); err == nil {
		t.Fatal("a code-less reservation must hold its number alone")
	}
}

func TestCallinPickCodeSpaceExhaustion(t *testing.T) {
	g := group(RoundRobin, true, "+15550001", "+15550002")
	g.CodeLength = 1
	var live []Reservation
	per := map[string]map[string]bool{}
	intn := seq()
	for range 18 {
		n, code, cur, err := Pick(g, live, intn)
		if err != nil {
			t.Fatalf("after %d: %v", len(live), err)
		}
		if per[n] == nil {
			per[n] = map[string]bool{}
		}
		if per[n][code] || code < "1" || code > "9" || len(code) != 1 {
			t.Fatalf("bad or repeated code %q on %s", code, n)
		}
		per[n][code] = true
		g.Cursor = cur
		live = append(live, Reservation{Number: n, Code: code})
	}
	if _, _, _, err := Pick(g, live, intn); err == nil {
		t.Fatal("18 codes of 1 digit on 2 numbers fill the group")
	}
}

func TestCallinCriteria(t *testing.T) {
	c := Criteria{Number: " 1 800 555 0100 ", Code: "0482913"}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Number != "+18005550100" || c.Code != "482913" {
		t.Fatalf("normalized: %+v", c)
	}
	r := &Reservation{Number: "+18005550100", Code: "482913", FromPhone: "4155550188"}
	if !c.Accepts(r) {
		t.Fatal("code matches")
	}
	c.Phone = "+1 415 555 0188"
	if !c.Accepts(r) {
		t.Fatal("code and caller match")
	}
	c.Phone = "+1 415 555 0199"
	if c.Accepts(r) {
		t.Fatal("another caller must not match")
	}
	if (&Criteria{Code: "482914"}).Accepts(r) {
		t.Fatal("another code must not match")
	}
	if (&Criteria{Phone: "4155550188"}).Accepts(&Reservation{}) {
		t.Fatal("a caller criterion needs a reservation with a number")
	}
	for _, bad := range []Criteria{{}, {Number: "+18005550100", Code: "12a"}} {
		if err := bad.Normalize(); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
}

// memStore is the contract of Store in memory, with one lock standing for
// the group row lock.
type memStore struct {
	mu     sync.Mutex
	groups map[string]*Group
	res    map[string]*Reservation
}

func newMem() *memStore {
	return &memStore{groups: map[string]*Group{}, res: map[string]*Reservation{}}
}

func (m *memStore) PutGroup(_ context.Context, _ string, g *Group) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, o := range m.groups {
		for _, n := range o.Numbers {
			for _, x := range g.Numbers {
				if name != g.Name && n == x {
					return &NumberInUseError{Number: n, Group: name}
				}
			}
		}
	}
	c := *g
	if old := m.groups[g.Name]; old != nil {
		c.Cursor = old.Cursor
	}
	m.groups[g.Name] = &c
	return nil
}

func (m *memStore) Groups(context.Context, string) ([]*Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Group
	for _, g := range m.groups {
		c := *g
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memStore) Group(_ context.Context, _, name string) (*Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.groups[name]; g != nil {
		c := *g
		return &c, nil
	}
	return nil, nil
}

func (m *memStore) DeleteGroup(_ context.Context, _, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.groups[name]
	delete(m.groups, name)
	for id, r := range m.res {
		if r.Group == name {
			delete(m.res, id)
		}
	}
	return ok, nil
}

func (m *memStore) Reservations(_ context.Context, _, group string, now time.Time) ([]Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Reservation
	for _, r := range m.res {
		if r.Group == group && r.Live(now) {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (m *memStore) Reserve(_ context.Context, _, group string, now time.Time, pick func(*Group, []Reservation) (*Reservation, int, error)) (*Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return nil, nil
	}
	var live []Reservation
	for id, r := range m.res {
		if !r.Live(now) {
			delete(m.res, id)
			continue
		}
		live = append(live, *r)
	}
	r, cur, err := pick(g, live)
	if err != nil {
		return nil, err
	}
	g.Cursor = cur
	m.res[r.ID] = r
	return r, nil
}

func (m *memStore) Release(_ context.Context, _, number, code string, now time.Time, accept func(*Reservation) bool) (*Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cands []*Reservation
	for _, r := range m.res {
		if r.Number == number && r.Live(now) && (code == "" || r.Code == code) && accept(r) {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Created.Before(cands[j].Created) })
	delete(m.res, cands[0].ID)
	return cands[0], nil
}

func (m *memStore) Sweep(_ context.Context, now time.Time, _ int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, r := range m.res {
		if !r.Live(now) {
			delete(m.res, id)
			n++
		}
	}
	return n, nil
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestCallinServiceLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)}
	created := 0
	s := &Service{Store: newMem(), Clock: clk, Intn: seq(), Created: func(string) { created++ }}
	if err := s.PutGroup(ctx, "t", &Group{Name: "help", Numbers: []string{"+15550001", "+15550002"}, Expiry: 60 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroup(ctx, "t", &Group{Name: "sales", Numbers: []string{"+15550002"}}); err == nil || !strings.Contains(err.Error(), "already belongs to group help") {
		t.Fatalf("number of another group: %v", err)
	}
	a, err := s.Request(ctx, "t", Request{Group: "help", FromPhone: "4155550188", UserData: []byte(`{"k":"v"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Number != "+15550001" || !a.Expires.Equal(clk.t.Add(time.Minute)) {
		t.Fatalf("first: %+v", a)
	}
	b, _ := s.Request(ctx, "t", Request{Group: "help"})
	if _, err := s.Request(ctx, "t", Request{Group: "help"}); KindOf(err) != KindExhausted {
		t.Fatalf("third: %v", err)
	}
	if _, err := s.Request(ctx, "t", Request{Group: "nope"}); KindOf(err) != KindInvalid {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := s.Match(ctx, "t", Criteria{Number: "15550001", Phone: "4155550199"}); KindOf(err) != KindNotFound {
		t.Fatalf("wrong caller: %v", err)
	}
	m, err := s.Match(ctx, "t", Criteria{Number: "15550001", Phone: "+1 415 555 0188"})
	if err != nil || m.ID != a.ID || string(m.UserData) != `{"k":"v"}` {
		t.Fatalf("match: %+v %v", m, err)
	}
	if _, err := s.Match(ctx, "t", Criteria{Number: "15550001"}); KindOf(err) != KindNotFound {
		t.Fatalf("a released reservation matches no more: %v", err)
	}
	c, err := s.Request(ctx, "t", Request{Group: "help"})
	if err != nil || c.Number != "+15550001" {
		t.Fatalf("released number is lent again: %+v %v", c, err)
	}
	// Expiry: b's number is free a minute later, and b matches no more.
	clk.t = clk.t.Add(time.Minute)
	if _, err := s.Match(ctx, "t", Criteria{Number: b.Number}); KindOf(err) != KindNotFound {
		t.Fatalf("expired reservation matched: %v", err)
	}
	_, rs, _ := s.Group(ctx, "t", "help")
	if len(rs) != 0 {
		t.Fatalf("expired reservations listed: %+v", rs)
	}
	if d, err := s.Request(ctx, "t", Request{Group: "help"}); err != nil || d.Number != b.Number {
		t.Fatalf("after expiry: %+v %v", d, err)
	}
	if created != 4 {
		t.Fatalf("created told %d times", created)
	}
	if err := s.DeleteGroup(ctx, "t", "help"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(ctx, "t", "help"); KindOf(err) != KindNotFound {
		t.Fatalf("second delete: %v", err)
	}
}

func TestCallinServiceConcurrentRequestsGetDistinctNumbers(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(3, 4))
	s := &Service{Store: newMem(), Clock: clk, Intn: func(n int) int { mu.Lock(); defer mu.Unlock(); return r.IntN(n) }}
	nums := []string{"+15550001", "+15550002", "+15550003", "+15550004", "+15550005"}
	if err := s.PutGroup(ctx, "t", &Group{Name: "g", Numbers: nums, Allocation: Random}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			if res, err := s.Request(ctx, "t", Request{Group: "g"}); err == nil {
				got <- res.Number
			} else if KindOf(err) != KindExhausted {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for n := range got {
		if seen[n] {
			t.Fatalf("%s lent twice", n)
		}
		seen[n] = true
	}
	if len(seen) != len(nums) {
		t.Fatalf("%d numbers lent, want %d", len(seen), len(nums))
	}
}
