package fleet

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func envelopeJSON(seqs ...uint64) []byte {
	env := Envelope{OrgID: "org_a", SiteID: "site_a", GatewayID: "gw_a"}
	for _, s := range seqs {
		env.Records = append(env.Records, Record{
			Seq: s, Kind: KindStatus, PrinterID: "printer-0001", Time: time.Unix(1e9, 0),
			Status: &Status{PrinterID: "printer-0001", State: StateIdle, Time: time.Unix(1e9, 0)},
		})
	}
	b, _ := json.Marshal(env)
	return b
}

func TestDecodeEnvelope(t *testing.T) {
	env, err := DecodeEnvelope(envelopeJSON(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Records) != 2 || env.GatewayID != "gw_a" {
		t.Errorf("got %+v", env)
	}
}

func TestDecodeEnvelopeRejects(t *testing.T) {
	tests := map[string][]byte{
		"not json":       []byte("{"),
		"unknown field":  []byte(`{"org_id":"o","site_id":"s","gateway_id":"g","records":[],"job_name":"x"}`),
		"no org":         []byte(`{"site_id":"s","gateway_id":"g","records":[]}`),
		"invalid record": []byte(`{"org_id":"o","site_id":"s","gateway_id":"g","records":[{"seq":0}]}`),
		"trailing":       append(envelopeJSON(1), []byte(" {}")...),
		"seq order":      envelopeJSON(2, 1),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeEnvelope(data); !errors.Is(err, ErrPoison) {
				t.Errorf("got %v, want ErrPoison", err)
			}
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(envelopeJSON(1, 2, 3))
	f.Add([]byte(`{"org_id":"o","site_id":"s","gateway_id":"g","records":[{"seq":1,"kind":"event"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := DecodeEnvelope(data)
		if err != nil {
			return
		}
		for _, r := range env.Records {
			if err := r.Validate(); err != nil {
				t.Fatalf("DecodeEnvelope accepted an invalid record: %v", err)
			}
		}
	})
}
