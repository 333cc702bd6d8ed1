// Package closer closes what a node opened, last opened first, once.
//
// A node's constructor opens listeners, stores and streams one after the
// other and must close whatever it opened when a later step fails; its
// Close closes all of them. Stack is that list, written once for every
// node.
package closer

import (
	"errors"
	"net"
	"sync"
)

// Stack holds close functions in the order their resources were opened.
// The zero value is empty and ready. Push and Close may not run
// concurrently with each other's first call; Close may be called any
// number of times.
type Stack struct {
	once sync.Once
	fns  []func() error
	err  error
}

// Push adds the close function of a resource just opened.
func (s *Stack) Push(close func() error) { s.fns = append(s.fns, close) }

// Close calls every close function, the last pushed first, once, and
// returns their errors joined. A listener already closed (net.ErrClosed)
// is no error: a server's shutdown closes its listener too.
func (s *Stack) Close() error {
	s.once.Do(func() {
		var errs []error
		for i := len(s.fns) - 1; i >= 0; i-- {
			if err := s.fns[i](); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}
