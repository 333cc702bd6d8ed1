package stream

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Credentials prove the stream's identity to an external NATS server, in
// one of the ways nats-server itself offers; set at most one. The zero
// value sends none, or what the URL carries
// (nats://user:password@host:4222). Callers read the secrets from files
// or the environment, never from command-line flags.
type Credentials struct {
	// User and Password: the server's user/password authorization.
	User, Password string
	// Token: the server's token authorization.
	Token string
	// NKeySeedFile holds a user NKey seed (SU…): the client signs the
	// server's challenge with it and the secret never leaves the host.
	NKeySeedFile string
	// CredsFile is a decentralised (JWT) credentials file as nsc writes
	// it: the user JWT and its NKey seed.
	CredsFile string
}

// TLS secures the connection to an external NATS server. Any field set
// requires TLS (a server that does not offer it is refused), as does a
// tls:// URL; otherwise TLS is used when the server requires it.
type TLS struct {
	// CAFile is a PEM file of the CAs that verify the server; "" → the
	// system's roots.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key (PEM),
	// for a server that verifies clients; both or neither.
	CertFile, KeyFile string
}

// natsOptions are the client options that authenticate and secure a
// connection to an external server.
func natsOptions(c Credentials, t TLS) ([]nats.Option, error) {
	var opts []nats.Option
	ways := 0
	if c.User != "" || c.Password != "" {
		if c.User == "" || c.Password == "" {
			return nil, errors.New("NATS credentials: a user needs a password and a password a user")
		}
		opts = append(opts, nats.UserInfo(c.User, c.Password))
		ways++
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
		ways++
	}
	if c.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("NATS credentials: nkey seed: %w", err)
		}
		opts = append(opts, o)
		ways++
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
		ways++
	}
	if ways > 1 {
		return nil, errors.New("NATS credentials: give one of user and password, token, nkey seed or creds file")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("NATS TLS: a client certificate and its key go together")
	}
	// nats.RootCAs and nats.ClientCert each make TLS required.
	if t.CAFile != "" {
		opts = append(opts, nats.RootCAs(t.CAFile))
	}
	if t.CertFile != "" {
		opts = append(opts, nats.ClientCert(t.CertFile, t.KeyFile))
	}
	return opts, nil
}
