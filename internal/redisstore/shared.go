package redisstore

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/gesgo/ges/internal/luascript"
)

// sharedPipes merges the pipelines of concurrent callers (the admissions
// and activations of creates arriving together) into shared round trips:
// each round trip costs the node and Redis a write and a read whatever it
// carries. A caller finding fewer than maxSenders round trips in flight
// sends at once, with whatever else is waiting; otherwise it waits for the
// next one, so nothing waits for a timer and a lone caller pays nothing.
type sharedPipes struct {
	rdb     redis.UniversalClient
	mu      sync.Mutex
	waiting []*pipeCall
	senders int
}

// maxSenders bounds the shared round trips in flight; maxShared the calls
// one of them carries.
const (
	maxSenders = 4
	maxShared  = 128
)

type pipeCall struct {
	ctx     context.Context
	scripts []*redis.Script
	queue   func(redis.Pipeliner)
	cmds    []redis.Cmder
	err     error
	done    chan struct{}
}

// exec is luascript.Exec in a shared round trip: it returns the commands
// queue added and the first error among them. Each call's scripts are
// atomic on their own, so sharing a pipeline changes no outcome; a call
// whose scripts Redis did not know is sent again alone, never its
// neighbours, whose scripts ran.
func (p *sharedPipes) exec(ctx context.Context, scripts []*redis.Script, queue func(redis.Pipeliner)) ([]redis.Cmder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &pipeCall{ctx: ctx, scripts: scripts, queue: queue, done: make(chan struct{})}
	p.mu.Lock()
	p.waiting = append(p.waiting, c)
	if p.senders >= maxSenders {
		p.mu.Unlock()
		// Sent by a round trip in flight when it returns: bounded by the
		// client's read and write timeouts like any command.
		<-c.done
		return c.cmds, c.err
	}
	p.senders++
	p.mu.Unlock()
	p.send(c)
	<-c.done // another sender may have taken it
	return c.cmds, c.err
}

// send sends waiting calls until own is answered, then leaves what is
// still waiting to another sender so that own's caller goes on.
func (p *sharedPipes) send(own *pipeCall) {
	for {
		p.mu.Lock()
		n := min(len(p.waiting), maxShared)
		batch := append([]*pipeCall(nil), p.waiting[:n]...)
		p.waiting = append(p.waiting[:0], p.waiting[n:]...)
		if n == 0 {
			p.senders--
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.round(batch)
		select {
		case <-own.done:
			p.mu.Lock()
			if len(p.waiting) == 0 {
				p.senders--
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
			go p.send(&pipeCall{done: make(chan struct{})})
			return
		default:
		}
	}
}

// round sends the calls in one pipeline. The pipeline runs whether or not
// the callers are still there: they may share it with others.
func (p *sharedPipes) round(batch []*pipeCall) {
	if len(batch) == 1 { // alone: as if not shared
		c := batch[0]
		c.cmds, c.err = luascript.Exec(c.ctx, p.rdb, c.scripts, c.queue)
		close(c.done)
		return
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	pipe := p.rdb.Pipeline()
	ends := make([]int, len(batch))
	for i, c := range batch {
		c.queue(pipe)
		ends[i] = pipe.Len()
	}
	cmds, _ := pipe.Exec(ctx)
	start := 0
	for i, c := range batch {
		own := cmds[start:ends[i]:ends[i]]
		start = ends[i]
		if unknownScript(own) {
			c.cmds, c.err = luascript.Exec(context.WithoutCancel(c.ctx), p.rdb, c.scripts, c.queue)
		} else {
			c.cmds, c.err = own, firstErr(own)
		}
		close(c.done)
	}
}

func unknownScript(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// firstErr is what a pipeline of cmds alone would have returned, a nil
// answer being an answer (as luascript.Exec takes it).
func firstErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}
