package mqttfeed

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// session is one connection to the broker.
type session interface {
	// publish sends m with QoS 1 and returns once the broker acknowledged
	// it, or with the reason it did not.
	publish(ctx context.Context, m message) error
	// lost is closed when the connection failed; err says why.
	lost() <-chan struct{}
	err() error
	// close publishes final, if set, waiting briefly for the broker, and
	// disconnects cleanly, so that the will is not sent.
	close(final *message)
}

// dialFunc connects to the broker, leaving will with it.
type dialFunc func(ctx context.Context, will message) (session, error)

// errConnectionLost is a connection that ended without a reason given.
var errConnectionLost = errors.New("connection to the broker lost")

// pahoDialer connects with the Eclipse Paho client (MQTT 3.1.1): a clean
// session without automatic reconnection, since the feed's own queue keeps
// what is unacknowledged and its own loop paces the attempts (Feed.publish).
func pahoDialer(hostport string, useTLS bool, opts Options) dialFunc {
	return func(ctx context.Context, will message) (session, error) {
		co := paho.NewClientOptions()
		if useTLS {
			host, _, _ := net.SplitHostPort(hostport)
			co.AddBroker("ssl://" + hostport)
			co.SetTLSConfig(&tls.Config{RootCAs: opts.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12})
		} else {
			co.AddBroker("tcp://" + hostport)
		}
		co.SetClientID(opts.ClientID)
		co.SetUsername(opts.Username)
		co.SetPassword(opts.Password)
		co.SetCleanSession(true)
		co.SetAutoReconnect(false)
		co.SetConnectRetry(false)
		co.SetConnectTimeout(opts.Timeout)
		co.SetWriteTimeout(opts.Timeout)
		co.SetPingTimeout(opts.Timeout)
		co.SetKeepAlive(30 * time.Second)
		co.SetBinaryWill(will.topic, will.payload, 1, will.retained)
		s := &pahoSession{done: make(chan struct{}), timeout: opts.Timeout}
		co.SetConnectionLostHandler(func(_ paho.Client, err error) { s.fail(err) })
		s.c = paho.NewClient(co)
		tok := s.c.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			// Connecting ends within the connect timeout; wait for it, so
			// that no connection outlives the feed.
			<-tok.Done()
			if tok.Error() == nil {
				s.c.Disconnect(0)
			}
			return nil, ctx.Err()
		}
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("connect to %s: %w", hostport, err)
		}
		return s, nil
	}
}

// pahoSession is a connection of the Paho client.
type pahoSession struct {
	c       paho.Client
	timeout time.Duration

	once   sync.Once
	done   chan struct{}
	reason error
}

func (s *pahoSession) fail(err error) {
	s.once.Do(func() {
		if err == nil {
			err = errConnectionLost
		}
		s.reason = err
		close(s.done)
	})
}

func (s *pahoSession) lost() <-chan struct{} { return s.done }

func (s *pahoSession) err() error {
	select {
	case <-s.done:
		return fmt.Errorf("connection lost: %w", s.reason)
	default:
		return errConnectionLost
	}
}

func (s *pahoSession) publish(ctx context.Context, m message) error {
	tok := s.c.Publish(m.topic, 1, m.retained, m.payload)
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish to %s: %w", m.topic, err)
		}
		return nil
	case <-s.done:
		return s.err()
	case <-t.C:
		return fmt.Errorf("publish to %s: no acknowledgement within %s", m.topic, s.timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// farewellWait bounds the wait for the broker's acknowledgement of the
// farewell at a clean stop.
const farewellWait = 2 * time.Second

func (s *pahoSession) close(final *message) {
	if final != nil && s.c.IsConnectionOpen() {
		s.c.Publish(final.topic, 1, final.retained, final.payload).WaitTimeout(farewellWait)
	}
	s.c.Disconnect(250)
	s.fail(nil)
}
