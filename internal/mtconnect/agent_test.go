package mtconnect

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// obsDoc is an MTConnectStreams document as the tests read it: the header
// and every observation as "dataItemId=value" (conditions: the level).
type obsDoc struct {
	Instance, Next, First, Last string
	Obs                         []string
}

func readStreams(t *testing.T, doc []byte) obsDoc {
	t.Helper()
	var d struct {
		Header struct {
			Instance string `xml:"instanceId,attr"`
			Next     string `xml:"nextSequence,attr"`
			First    string `xml:"firstSequence,attr"`
			Last     string `xml:"lastSequence,attr"`
		} `xml:"Header"`
		Streams []struct {
			Items []struct {
				XMLName xml.Name
				ID      string `xml:"dataItemId,attr"`
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"Streams>DeviceStream>ComponentStream>Samples"`
		Events []struct {
			Items []struct {
				ID    string `xml:"dataItemId,attr"`
				Value string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"Streams>DeviceStream>ComponentStream>Events"`
		Conds []struct {
			Items []struct {
				XMLName xml.Name
				ID      string `xml:"dataItemId,attr"`
			} `xml:",any"`
		} `xml:"Streams>DeviceStream>ComponentStream>Condition"`
	}
	if err := xml.Unmarshal(doc, &d); err != nil {
		t.Fatalf("not an MTConnectStreams document: %v\n%s", err, doc)
	}
	out := obsDoc{Instance: d.Header.Instance, Next: d.Header.Next, First: d.Header.First, Last: d.Header.Last}
	for _, s := range d.Streams {
		for _, i := range s.Items {
			out.Obs = append(out.Obs, i.ID+"="+i.Value)
		}
	}
	for _, s := range d.Events {
		for _, i := range s.Items {
			out.Obs = append(out.Obs, i.ID+"="+i.Value)
		}
	}
	for _, s := range d.Conds {
		for _, i := range s.Items {
			out.Obs = append(out.Obs, i.ID+"="+i.XMLName.Local)
		}
	}
	return out
}

// has reports whether obs holds every one of want.
func has(obs []string, want ...string) []string {
	var missing []string
	for _, w := range want {
		found := false
		for _, o := range obs {
			found = found || o == w
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing
}

// A sample after changes in the store holds exactly what changed: the
// new layer, the new event, the build unit swapped (one asset removed,
// one changed), and nothing that stayed the same.
func TestSampleRecordsChanges(t *testing.T) {
	st, a, clk := scene(t, Options{})
	h := a.Handler()
	_, doc := get(t, h, "/current")
	before := readStreams(t, doc)

	t1 := t0.Add(time.Minute)
	clk.Set(t1)
	status := printingStatus(t1)
	status.Job.LayersDone = 11
	status.ETCSeconds -= 60 // the same completion time
	observe(t, st, printer{addr: "p1:443", uuid: "printer-uuid-0001", name: "3DP 1", status: status,
		events: []fleet.Event{{Seq: 2, Code: "LAYER_SLOW", Description: "layer slow", Severity: fleet.SeverityWarning, Time: t1}},
		cons:   consumables(t1, "BU-8"), ctrs: &fleet.Counters{CoolingSystemHours: 12.25, Time: t1}}, t1, 2)
	if err := a.Sample(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, doc = get(t, h, "/sample?from="+before.Next)
	got := readStreams(t, doc)
	want := []string{"p1_path_layer=11", "p1_bu_serial=BU-8", "p1_msg=LAYER_SLOW [warning] layer slow",
		"p1_asset_rem=bu-BU-7", "p1_asset_chg=bu-BU-8"}
	if missing := has(got.Obs, want...); missing != nil || len(got.Obs) != len(want) {
		t.Errorf("sample after the change: %v; want exactly %v", got.Obs, want)
	}
	// The removed asset is kept, marked, and listed only when asked for.
	_, doc = get(t, h, "/assets")
	if strings.Contains(string(doc), "bu-BU-7") || !strings.Contains(string(doc), "bu-BU-8") {
		t.Errorf("/assets: want bu-BU-8 only:\n%s", doc)
	}
	_, doc = get(t, h, "/assets?removed=true")
	if !strings.Contains(string(doc), `assetId="bu-BU-7"`) || !strings.Contains(string(doc), `removed="true"`) {
		t.Errorf("/assets?removed=true: want bu-BU-7 removed:\n%s", doc)
	}

	// A printer the Command Center no longer reaches is unavailable,
	// and so is every value of it.
	ps, _ := st.Printers(t.Context())
	if err := st.MarkFailed(t.Context(), ps[0].ID, commandcenter.CollectionUnreachable, "timeout", t1); err != nil {
		t.Fatal(err)
	}
	if err := a.Sample(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, doc = get(t, h, "/3DP%201/current")
	cur := readStreams(t, doc)
	if missing := has(cur.Obs, "p1_avail=UNAVAILABLE", "p1_path_layer=UNAVAILABLE", "p1_system=Unavailable",
		"p1_lamp_warming_system=Unavailable"); missing != nil {
		t.Errorf("current of an unreachable printer lacks %v: %v", missing, cur.Obs)
	}
}

// current?at=N is the state as of sequence N; the sequence numbers run on
// without gaps across documents.
func TestCurrentAt(t *testing.T) {
	st, a, clk := scene(t, Options{})
	h := a.Handler()
	_, doc := get(t, h, "/current")
	before := readStreams(t, doc)
	clk.Set(t0.Add(time.Minute))
	status := printingStatus(t0)
	status.Job.LayersDone = 12
	observe(t, st, printer{addr: "p1:443", uuid: "printer-uuid-0001", name: "3DP 1", status: status}, t0, 1)
	a.Sample(t.Context())
	_, doc = get(t, h, "/current")
	after := readStreams(t, doc)
	if after.Next == before.Next || has(after.Obs, "p1_path_layer=12") != nil {
		t.Fatalf("current after the change: next %s (before %s), %v", after.Next, before.Next, after.Obs)
	}
	_, doc = get(t, h, "/current?at="+before.Last)
	at := readStreams(t, doc)
	if has(at.Obs, "p1_path_layer=10") != nil {
		t.Errorf("current?at=%s: want layer 10: %v", before.Last, at.Obs)
	}
	if at.Next != u64(mustUint(t, before.Last)+1) {
		t.Errorf("current?at=%s: nextSequence %s, want at+1", before.Last, at.Next)
	}
	if d := cmp.Diff(before.Obs, at.Obs); d != "" {
		t.Errorf("current?at=lastSequence differs from the current then (-then +at):\n%s", d)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A restarted agent is a new instance: its instanceId differs, and its
// sequence numbers start again at 1, so that clients know to start over.
func TestRestartNewInstance(t *testing.T) {
	st, a, clk := scene(t, Options{})
	_, doc := get(t, a.Handler(), "/current")
	first := readStreams(t, doc)
	clk.Set(t0.Add(time.Second))
	b := New(st, Options{Clock: clk})
	if err := b.Sample(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, doc = get(t, b.Handler(), "/current")
	second := readStreams(t, doc)
	if second.Instance == first.Instance || second.First != "1" {
		t.Errorf("restart: instanceId %s → %s, firstSequence %s; want a new instance from 1", first.Instance, second.Instance, second.First)
	}
	if d := cmp.Diff(first.Obs, second.Obs); d != "" {
		t.Errorf("restart: the current values differ (-before +after):\n%s", d)
	}
}

// The buffer keeps the newest observations of its size, numbered without
// gaps; what leaves it is out of range.
func TestBufferWraps(t *testing.T) {
	b := newBuffer(4)
	d := &dataItem{id: "x"}
	for i := range 10 {
		b.add(observation{item: d, value: u64(uint64(i + 1))})
	}
	obs, cont, first, next, ok := b.read(span{from: 7, count: 10, keep: func(*dataItem) bool { return true }})
	var got []string
	for _, o := range obs {
		got = append(got, u64(o.seq)+":"+o.value)
	}
	if d := cmp.Diff([]string{"7:7", "8:8", "9:9", "10:10"}, got); d != "" || !ok || cont != 11 || first != 7 || next != 11 {
		t.Errorf("read from 7: cont %d first %d next %d ok %t (-want +got):\n%s", cont, first, next, ok, d)
	}
	if _, _, _, _, ok := b.read(span{from: 6, count: 1, keep: func(*dataItem) bool { return true }}); ok {
		t.Error("read from 6, left the buffer: ok")
	}
	cur, _, _, ok := b.at(8)
	if !ok || cur["x"].value != "8" {
		t.Errorf("at(8) = %v %t, want value 8", cur["x"], ok)
	}
	if _, _, _, ok := b.at(6); ok {
		t.Error("at(6), left the buffer: ok")
	}
	back, cont, _, _, _ := b.read(span{from: 7, count: 2, backwards: true, keep: func(*dataItem) bool { return true }})
	if len(back) != 2 || back[0].seq != 9 || back[1].seq != 10 || cont != 11 {
		t.Errorf("the last 2: %v, cont %d; want 9, 10, cont 11", back, cont)
	}
}
