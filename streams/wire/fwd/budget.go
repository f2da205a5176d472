package fwd

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Budget bounds the bytes received and not yet taken by the local ends of a set of
// connections: one Mux's (Config.Budget), or those of every Mux sharing it
// (Config.Shared: an agent's sessions together). Each connection holds at most its
// window, but a peer opening many, and local ends that read none, would otherwise hold
// as many windows; past the budget, the connection holding the most is reset, saying
// why, and the others go on.
type Budget struct {
	limit  int64
	whose  string // "the session's", in the reset's reason
	queued atomic.Int64

	mu    sync.Mutex
	conns map[*Conn]struct{}
}

// NewBudget returns a budget of limit bytes; whose names the connections it counts in
// the reason of a reset ("this agent's").
func NewBudget(limit int, whose string) *Budget {
	return &Budget{limit: int64(limit), whose: whose, conns: make(map[*Conn]struct{})}
}

// Queued returns the bytes its connections hold.
func (b *Budget) Queued() int64 { return b.queued.Load() }

func (b *Budget) join(c *Conn) {
	b.mu.Lock()
	b.conns[c] = struct{}{}
	b.mu.Unlock()
}

func (b *Budget) leave(c *Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

// shed resets the connection holding the most received data, while all of them
// together hold more than the limit.
func (b *Budget) shed() {
	for b.queued.Load() > b.limit {
		var (
			worst *Conn
			most  int
		)
		b.mu.Lock()
		for c := range b.conns {
			c.mu.Lock()
			if c.qBytes > most {
				worst, most = c, c.qBytes
			}
			c.mu.Unlock()
		}
		b.mu.Unlock()
		if worst == nil {
			return
		}
		worst.fail(fmt.Errorf("%w: %s connections held more than %s their local ends had not read, "+
			"this one the most (%s)", ErrOverBudget, b.whose, kib(int(b.limit)), kib(most)), true)
	}
}

// kib is n bytes in KiB, or MiB when whole.
func kib(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// charge counts n more (or, negative, fewer) bytes held by c against its budgets, and
// sheds where that passes one.
func (c *Conn) charge(n int) {
	if n == 0 {
		return
	}
	var over bool
	for _, b := range c.budgets {
		if b.queued.Add(int64(n)) > b.limit {
			over = true
		}
	}
	if over && n > 0 {
		for _, b := range c.budgets {
			b.shed()
		}
	}
}
