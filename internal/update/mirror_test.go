package update

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func FuzzDecodeSigned(f *testing.F) {
	f.Add([]byte(`{"signed":{"_type":"targets","targets":{"a":{"length":1,"hashes":{"sha256":"00"}}}}}`))
	f.Add([]byte(`{"signed":{"_type":"timestamp","meta":{"snapshot.json":{"version":3}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tg targetsSigned
		if err := decodeSigned(b, "targets", &tg); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		sum := sha256.Sum256(b)
		_ = hex.EncodeToString(sum[:])
	})
}
