package postgres

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
)

// errClosed is returned by every call on a closed store.
var errClosed = errors.New("postgres store closed")

// pool is a small connection pool: at most size connections, opened on
// demand, reused while healthy and idle.
type pool struct {
	cfg  *pgx.ConnConfig
	idle chan *pgx.Conn
	open chan struct{} // one token per open connection

	mu     sync.Mutex
	closed bool
}

func newPool(cfg *pgx.ConnConfig, size int) *pool {
	return &pool{cfg: cfg, idle: make(chan *pgx.Conn, size), open: make(chan struct{}, size)}
}

func (p *pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// acquire returns an idle connection, or a new one while fewer than size
// are open, or waits for one to be released.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	for {
		if p.isClosed() {
			return nil, errClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case c := <-p.idle:
			if c.IsClosed() {
				<-p.open
				continue
			}
			return c, nil
		default:
		}
		select {
		case c := <-p.idle:
			if c.IsClosed() {
				<-p.open
				continue
			}
			return c, nil
		case p.open <- struct{}{}:
			c, err := pgx.ConnectConfig(ctx, p.cfg)
			if err != nil {
				<-p.open
				return nil, err
			}
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release returns a connection to the pool, or closes it if it is broken,
// still in a transaction, or the pool is closed.
func (p *pool) release(c *pgx.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.IsClosed() || c.PgConn().IsBusy() || c.PgConn().TxStatus() != 'I' {
		c.Close(context.Background())
		<-p.open
		return
	}
	p.idle <- c // never blocks: at most cap(idle) connections exist
}

// close closes the idle connections; connections in use are closed when
// released.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case c := <-p.idle:
			c.Close(context.Background())
			<-p.open
		default:
			return
		}
	}
}
