// Package identity hashes and checks the secrets that people and gateways
// present to the cloud: user passwords (argon2id), session and enrolment
// tokens (random, stored only as their SHA-256), API tokens (the same, with
// the prefix "ffat_" and a checksum so that secret scanners find leaked
// ones), TOTP second factors (RFC 6238, with replay refused by time step)
// with their recovery codes (stored only as a hash), and generated first
// passwords that a person can type.
//
// Password hashes are PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt, base64 raw std>$<key, base64 raw std>
//
// The parameters are the OWASP Password Storage Cheat Sheet's first
// recommendation for argon2id (19 MiB of memory, 2 iterations, 1 lane), with
// a 16-byte salt and a 32-byte key. CheckPassword reads the parameters from
// the encoding, so they can be raised later without invalidating stored
// hashes; it refuses parameters far outside sane bounds so that a tampered
// hash cannot make a login cost gigabytes of memory.
package identity
