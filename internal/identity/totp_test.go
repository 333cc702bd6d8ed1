package identity

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// code returns the TOTP code of secret at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewTOTP(t *testing.T) {
	secret, uri, err := NewTOTP("FusionFleet", "ada")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		t.Errorf("secret %q: want 32 base32 characters", secret)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != secret || u.Query().Get("issuer") != "FusionFleet" {
		t.Errorf("uri %q", uri)
	}
	other, _, err := NewTOTP("FusionFleet", "ada")
	if err != nil || other == secret {
		t.Errorf("second secret %q equals the first (err %v)", other, err)
	}
}

// RFC 6238 appendix B, SHA-1, truncated to six digits.
func TestVerifyTOTPVector(t *testing.T) {
	secret := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // "12345678901234567890"
	at := time.Unix(59, 0)
	step, ok := VerifyTOTP(secret, "287082", at, 0)
	if !ok || step != 1 {
		t.Errorf("VerifyTOTP(RFC vector) = %d, %v; want 1, true", step, ok)
	}
}

func TestVerifyTOTP(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC))
	secret, _, err := NewTOTP("FusionFleet", "ada")
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	cur := TOTPStep(now)
	tests := []struct {
		name     string
		code     string
		at       time.Time
		lastStep int64
		want     int64
		ok       bool
	}{
		{"now", code(t, secret, now), now, 0, cur, true},
		{"with spaces", " " + code(t, secret, now) + " ", now, 0, cur, true},
		{"previous step", code(t, secret, now.Add(-30*time.Second)), now, 0, cur - 1, true},
		{"next step", code(t, secret, now.Add(30*time.Second)), now, 0, cur + 1, true},
		{"two steps old", code(t, secret, now.Add(-60*time.Second)), now, 0, 0, false},
		{"replay of the same step", code(t, secret, now), now, cur, 0, false},
		{"older step after a newer one", code(t, secret, now.Add(-30*time.Second)), now, cur, 0, false},
		{"wrong", "000000", now, 0, 0, false},
		{"short", "12345", now, 0, 0, false},
		{"letters", "abcdef", now, 0, 0, false},
		{"empty", "", now, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "wrong" && code(t, secret, now) == "000000" {
				t.Skip("the current code happens to be 000000")
			}
			step, ok := VerifyTOTP(secret, tt.code, tt.at, tt.lastStep)
			if ok != tt.ok || step != tt.want {
				t.Errorf("VerifyTOTP = %d, %v; want %d, %v", step, ok, tt.want, tt.ok)
			}
		})
	}
	// The code of now is accepted once the clock moves on by a step, but
	// no longer after two.
	c := code(t, secret, now)
	clk.Advance(30 * time.Second)
	if _, ok := VerifyTOTP(secret, c, clk.Now(), 0); !ok {
		t.Error("code refused one step later")
	}
	clk.Advance(30 * time.Second)
	if _, ok := VerifyTOTP(secret, c, clk.Now(), 0); ok {
		t.Error("code accepted two steps later")
	}
	if _, ok := VerifyTOTP("not base32!", "123456", now, 0); ok {
		t.Error("malformed secret accepted")
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodeCount {
		t.Fatalf("got %d codes, want %d", len(codes), RecoveryCodeCount)
	}
	re := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !re.MatchString(c) || seen[c] {
			t.Errorf("code %q malformed or repeated", c)
		}
		seen[c] = true
	}
	c := codes[0]
	h := HashRecoveryCode(c)
	if strings.Contains(h, strings.ReplaceAll(c, "-", "")) || len(h) != 64 {
		t.Errorf("hash %q of %q", h, c)
	}
	for _, typed := range []string{strings.ToUpper(c), strings.ReplaceAll(c, "-", " "), strings.ReplaceAll(c, "-", "")} {
		if HashRecoveryCode(typed) != h {
			t.Errorf("typed %q does not match", typed)
		}
	}
	if HashRecoveryCode(codes[1]) == h {
		t.Error("two codes hash the same")
	}
	if HashRecoveryCode(c) == HashToken(c) {
		t.Error("recovery hash is not domain-separated from token hashes")
	}
}

func TestAPIToken(t *testing.T) {
	tok, err := NewAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "ffat_") || len(tok) != apiTokenLen || !ValidAPIToken(tok) {
		t.Fatalf("token %q: want ffat_ and a valid checksum", tok)
	}
	other, _ := NewAPIToken()
	if other == tok {
		t.Error("two tokens are equal")
	}
	flip := []byte(tok)
	if flip[10] == 'A' {
		flip[10] = 'B'
	} else {
		flip[10] = 'A'
	}
	tests := []struct {
		name string
		s    string
	}{
		{"typo", string(flip)},
		{"no prefix", "xxxx_" + tok[5:]},
		{"short", tok[:len(tok)-1]},
		{"empty", ""},
		{"bad base64", "ffat_" + strings.Repeat("!", 43) + tok[len(tok)-6:]},
		{"session token", tok[5:48]},
	}
	for _, tt := range tests {
		if ValidAPIToken(tt.s) {
			t.Errorf("%s: %q accepted", tt.name, tt.s)
		}
	}
}

func FuzzValidAPIToken(f *testing.F) {
	tok, err := NewAPIToken()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("ffat_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidAPIToken(s) && (!strings.HasPrefix(s, APITokenPrefix) || len(s) != apiTokenLen) {
			t.Fatalf("accepted %q", s)
		}
	})
}
