package cloud

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAirgapKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "airgap.key")
	made, err := loadAirgapKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	again, err := loadAirgapKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Identity.String() != made.Identity.String() || !again.Signing.Equal(made.Signing) {
		t.Error("the key read back is not the key made")
	}
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadAirgapKey(path); err == nil || !strings.Contains(err.Error(), "not a key file") {
		t.Errorf("a damaged key file: %v, want a refusal", err)
	}
}
