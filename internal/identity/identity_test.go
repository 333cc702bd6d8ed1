package identity

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	enc, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("encoding %q: unexpected prefix", enc)
	}
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"right", "correct horse battery staple", true},
		{"wrong", "correct horse battery stapl", false},
		{"empty", "", false},
		{"case", "Correct horse battery staple", false},
		{"too long", strings.Repeat("x", maxPasswordLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckPassword(enc, tt.pw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("CheckPassword(%q) = %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two hashes of the same password are equal: salt not random")
	}
}

func TestHashPasswordRejects(t *testing.T) {
	for _, pw := range []string{"", strings.Repeat("a", maxPasswordLen+1)} {
		if _, err := HashPassword(pw); err == nil {
			t.Errorf("HashPassword(len %d) = nil error, want error", len(pw))
		}
	}
}

func TestCheckPasswordTampered(t *testing.T) {
	enc, err := HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(enc, "$")
	// Flip one character of the key: still well-formed, must not match.
	key := []byte(parts[5])
	if key[0] == 'A' {
		key[0] = 'B'
	} else {
		key[0] = 'A'
	}
	tampered := strings.Join(append(parts[:5:5], string(key)), "$")
	ok, err := CheckPassword(tampered, "secret")
	if err != nil {
		t.Fatalf("tampered key: %v", err)
	}
	if ok {
		t.Error("tampered key matched")
	}
	// Another salt: well-formed, must not match.
	other := strings.Join([]string{"", parts[1], parts[2], parts[3], "AAAAAAAAAAAAAAAAAAAAAA", parts[5]}, "$")
	if ok, err := CheckPassword(other, "secret"); err != nil || ok {
		t.Errorf("tampered salt: ok=%v err=%v, want false, nil", ok, err)
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	tests := []struct {
		name, enc, want string
	}{
		{"empty", "", "5 '$'-separated"},
		{"no leading dollar", "argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key + "$", "5 '$'-separated"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, "algorithm"},
		{"version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, "version"},
		{"params count", "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key, "parameters"},
		{"param order", "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key, "want m="},
		{"memory huge", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key, "outside"},
		{"time zero", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key, "outside"},
		{"threads huge", "$argon2id$v=19$m=19456,t=2,p=255$" + salt + "$" + key, "outside"},
		{"memory per lane", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key, "per lane"},
		{"not decimal", "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key, "plain decimal"},
		{"leading zero", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key, "plain decimal"},
		{"salt short", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key, "salt shorter"},
		{"salt bad base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!!!!!!!!!!$" + key, "salt"},
		{"salt padded", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, "salt"},
		{"key short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$a2V5", "key shorter"},
		{"key long", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("A", 100), "key longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := CheckPassword(tt.enc, "pw")
			if ok {
				t.Error("malformed hash matched")
			}
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("err = %v, want ErrMalformedHash", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$$")
	f.Add("")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseHash(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if p.memory > maxMemoryKiB || p.time > maxTime || p.threads > maxThreads || p.threads == 0 {
			t.Fatalf("accepted out-of-bounds parameters %+v", p)
		}
		if len(p.salt) < minSaltLen || len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
			t.Fatalf("accepted salt %d / key %d bytes", len(p.salt), len(p.key))
		}
		// A parsed hash re-encodes to exactly the input: one canonical form.
		if got := p.encode(); got != s {
			t.Fatalf("re-encode = %q, want %q", got, s)
		}
	})
}

func TestNewToken(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two tokens are equal")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(a) {
		t.Errorf("token %q is not 32 bytes of base64url", a)
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 test vector.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashToken("abc"); got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
}

func TestGeneratePassword(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}(-[0-9a-hjkmnp-tv-z]{5}){3}$`)
	seen := map[string]bool{}
	for range 50 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(pw) {
			t.Fatalf("password %q has the wrong shape", pw)
		}
		if seen[pw] {
			t.Fatalf("password %q repeated", pw)
		}
		seen[pw] = true
	}
}

func TestCheckNewPassword(t *testing.T) {
	generated, err := GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pw string
		want     error
	}{
		{"twelve characters", "abcdefghijkl", nil},
		{"twelve runes, more bytes", "äöüäöüäöüäöü", nil},
		{"generated", generated, nil},
		{"eleven characters", "abcdefghijk", ErrPasswordShort},
		{"empty", "", ErrPasswordShort},
		{"invalid UTF-8", strings.Repeat("\xff", 20), ErrPasswordShort},
		{"too long", strings.Repeat("x", maxPasswordLen+1), ErrPasswordLong},
		{"the user name", "Administrator", ErrPasswordIsName},
		{"the user name with spaces", " administrator ", ErrPasswordIsName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckNewPassword(tt.pw, "administrator"); !errors.Is(err, tt.want) {
				t.Errorf("CheckNewPassword(%q) = %v, want %v", tt.pw, err, tt.want)
			}
		})
	}
}
