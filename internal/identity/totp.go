package identity

import (
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: RFC 6238 defaults that every authenticator app speaks.
const (
	totpPeriod = 30 // seconds
	totpDigits = otp.DigitsSix
	// totpSkew accepts the code of one step before and after now, for
	// clocks that drift and people who type slowly.
	totpSkew = 1
)

// NewTOTP returns a fresh TOTP secret (base32, 160 bits) for account and
// the otpauth:// URI an authenticator app imports.
func NewTOTP(issuer, account string) (secret, uri string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", fmt.Errorf("new totp: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// TOTPStep returns the number of the TOTP time step that t falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// VerifyTOTP checks code against secret at now and returns the time step
// it matched. Codes of the step before and after now are accepted, but
// never a step at or before lastStep: the caller stores the matched step
// as the new lastStep, so a code cannot be used twice (replay within its
// window is refused). The comparison is constant-time.
func VerifyTOTP(secret, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) != int(totpDigits) {
		return 0, false
	}
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	cur := TOTPStep(now)
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		if s <= lastStep {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), opts)
		if err != nil {
			return 0, false // a secret that is not base32
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// RecoveryCodeCount is how many recovery codes a user gets at once.
const RecoveryCodeCount = 10

// NewRecoveryCodes returns RecoveryCodeCount fresh recovery codes, each
// three groups of five characters ("k3v9q-8m2xd-t0wfa", 75 bits). Show them
// once; store only HashRecoveryCode of each.
func NewRecoveryCodes() ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		pw, err := GeneratePassword()
		if err != nil {
			return nil, fmt.Errorf("recovery codes: %w", err)
		}
		codes[i] = pw[:17]
	}
	return codes, nil
}

// HashRecoveryCode returns the stored form of a recovery code. It ignores
// case, spaces and dashes, so a code typed loosely still matches.
func HashRecoveryCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if r != '-' && r != ' ' && r != '\t' {
			b.WriteRune(r)
		}
	}
	return HashToken("fusionfleet-recovery-v1\x00" + b.String())
}
