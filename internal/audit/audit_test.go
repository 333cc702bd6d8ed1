package audit

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

func TestLoggerWritesEveryField(t *testing.T) {
	var buf bytes.Buffer
	l := Logger{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	e := Event{Time: time.Unix(100, 0).UTC(), Org: "org_c", ActorOrg: "org_p", Actor: "usr_1", Name: "eve",
		Action: "grant.create", Target: "grt_1", Grant: "grt_0", Detail: "sites: all"}
	if err := l.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"msg": "audit", "org": "org_c", "actor_org": "org_p", "actor": "usr_1", "name": "eve",
		"action": "grant.create", "target": "grt_1", "grant": "grt_0", "detail": "sites: all", "time": "1970-01-01T00:01:40Z"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %q", k, got[k], want)
		}
	}
}
