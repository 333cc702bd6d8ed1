package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// The argon2id parameters of new hashes (OWASP: m=19 MiB, t=2, p=1).
const (
	memoryKiB  = 19 * 1024
	iterations = 2
	threads    = 1
	saltLen    = 16
	keyLen     = 32
)

// Bounds on the parameters CheckPassword accepts from an encoding.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// ErrMalformedHash is wrapped by every error about an encoded hash that
// cannot be parsed or whose parameters are out of bounds.
var ErrMalformedHash = errors.New("malformed password hash")

// maxPasswordLen bounds the password length in bytes: argon2 would accept
// any length, but a megabyte "password" is an attack, not a secret.
const maxPasswordLen = 1024

var b64 = base64.RawStdEncoding

// MinPasswordLen is the fewest characters a password a person chooses may
// have. Length is the one rule: NIST SP 800-63B asks for no composition
// rules, which make passwords harder to remember rather than to guess. A
// generated password (GeneratePassword) has 23.
const MinPasswordLen = 12

// The reasons CheckNewPassword refuses a password.
var (
	ErrPasswordShort  = fmt.Errorf("password shorter than %d characters", MinPasswordLen)
	ErrPasswordLong   = fmt.Errorf("password longer than %d bytes", maxPasswordLen)
	ErrPasswordIsName = errors.New("password is the user name")
)

// CheckNewPassword checks a password the user called name chose: at least
// MinPasswordLen characters, at most maxPasswordLen bytes, valid UTF-8,
// and not the user name.
func CheckNewPassword(pw, name string) error {
	switch {
	case len(pw) > maxPasswordLen:
		return ErrPasswordLong
	case !utf8.ValidString(pw) || utf8.RuneCountInString(pw) < MinPasswordLen:
		return ErrPasswordShort
	case strings.EqualFold(strings.TrimSpace(pw), strings.TrimSpace(name)):
		return ErrPasswordIsName
	}
	return nil
}

// params are the parts of a PHC argon2id string.
type params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// HashPassword returns the argon2id PHC encoding of pw with a fresh salt.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("hash password: empty password")
	}
	if len(pw) > maxPasswordLen {
		return "", fmt.Errorf("hash password: longer than %d bytes", maxPasswordLen)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	p := params{memory: memoryKiB, time: iterations, threads: threads, salt: salt}
	p.key = argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, keyLen)
	return p.encode(), nil
}

// CheckPassword reports whether pw matches the encoded hash. The comparison
// is constant-time. A malformed encoding is an error wrapping
// ErrMalformedHash, never a silent false.
func CheckPassword(encoded, pw string) (bool, error) {
	p, err := parseHash(encoded)
	if err != nil {
		return false, fmt.Errorf("check password: %w", err)
	}
	if len(pw) > maxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

func (p params) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// parseHash parses "$argon2id$v=19$m=…,t=…,p=…$salt$key".
func parseHash(s string) (params, error) {
	var p params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: want 5 '$'-separated fields", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: algorithm %q, want argon2id", ErrMalformedHash, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: version %q, want v=%d", ErrMalformedHash, parts[2], argon2.Version)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return p, fmt.Errorf("%w: parameters %q, want m=,t=,p=", ErrMalformedHash, parts[3])
	}
	var err error
	if p.memory, err = param(kv[0], "m", 8, maxMemoryKiB); err != nil {
		return p, err
	}
	if p.time, err = param(kv[1], "t", 1, maxTime); err != nil {
		return p, err
	}
	th, err := param(kv[2], "p", 1, maxThreads)
	if err != nil {
		return p, err
	}
	p.threads = uint8(th)
	if p.memory < 8*uint32(p.threads) {
		return p, fmt.Errorf("%w: memory %d KiB below 8 per lane", ErrMalformedHash, p.memory)
	}
	if p.salt, err = field(parts[4], "salt", minSaltLen, maxSaltLen); err != nil {
		return p, err
	}
	if p.key, err = field(parts[5], "key", minKeyLen, maxKeyLen); err != nil {
		return p, err
	}
	return p, nil
}

// param parses "name=value" with value in [lo, hi].
func param(s, name string, lo, hi uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok {
		return 0, fmt.Errorf("%w: parameter %q, want %s=", ErrMalformedHash, s, name)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || v != strconv.FormatUint(n, 10) {
		return 0, fmt.Errorf("%w: parameter %s=%q is not a plain decimal number", ErrMalformedHash, name, v)
	}
	if uint32(n) < lo || uint32(n) > hi {
		return 0, fmt.Errorf("%w: parameter %s=%d outside %d..%d", ErrMalformedHash, name, n, lo, hi)
	}
	return uint32(n), nil
}

// field decodes a base64 (raw, standard alphabet) field of [lo, hi] bytes.
func field(s, name string, lo, hi int) ([]byte, error) {
	if len(s) > b64.EncodedLen(hi) {
		return nil, fmt.Errorf("%w: %s longer than %d bytes", ErrMalformedHash, name, hi)
	}
	// The decoder skips \r and \n even in strict mode; a stored hash never
	// holds them, so one that does was tampered with.
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: %s contains a line break", ErrMalformedHash, name)
	}
	b, err := b64.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformedHash, name, err)
	}
	if len(b) < lo {
		return nil, fmt.Errorf("%w: %s shorter than %d bytes", ErrMalformedHash, name, lo)
	}
	return b, nil
}
