package fleet

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// DecodeRecordsFast decodes a JSON array of layer, status, event and
// counters records written exactly as json.Marshal writes them (the form
// the uplink client sends, and the cloud passes on in its envelopes) into
// the records that encoding/json would give for the same bytes, at a
// fraction of its cost and with few allocations.
//
// It reports false for anything else: other record kinds, whitespace, a
// string with an escape or a control character, a time not in UTC or not
// in RFC 3339 as json.Marshal writes it, a number outside its field's
// range, a key that is unknown, repeated, missing or out of order, null
// (but for a record's nil map), an empty array, trailing bytes. The caller
// then decodes with encoding/json, which refuses, explains or accepts as
// it always has: this is a shortcut, never a second opinion. Everything
// it accepts, encoding/json decodes into an identical []Record (the fuzz
// targets of this package and of the uplink check it); validating the
// records is still the caller's job.
func DecodeRecordsFast(arr []byte) ([]Record, bool) {
	d := fastDecoder{buf: arr}
	recs, ok := d.records()
	if !ok || d.pos != len(d.buf) {
		return nil, false
	}
	return recs, true
}

// decodeEnvelopeFast decodes an envelope as json.Marshal writes it, its
// identities plain strings, its records as DecodeRecordsFast takes them;
// false sends the caller to encoding/json.
func decodeEnvelopeFast(data []byte) (Envelope, bool) {
	d := fastDecoder{buf: data}
	var env Envelope
	var org, site, gw string
	var ok bool
	if !d.lit(`{"org_id":`) {
		return env, false
	}
	if org, ok = d.str(&org); !ok || !d.lit(`,"site_id":`) {
		return env, false
	}
	if site, ok = d.str(&site); !ok || !d.lit(`,"gateway_id":`) {
		return env, false
	}
	if gw, ok = d.str(&gw); !ok || !d.lit(`,"records":`) {
		return env, false
	}
	recs, ok := d.records()
	if !ok || !d.lit(`}`) || d.pos != len(d.buf) {
		return env, false
	}
	return Envelope{OrgID: OrgID(org), SiteID: SiteID(site), GatewayID: GatewayID(gw), Records: recs}, true
}

// records decodes a non-empty array of records at pos.
func (d *fastDecoder) records() ([]Record, bool) {
	if !d.lit(`[`) {
		return nil, false
	}
	// Every record holds at least two closing braces: an upper bound of
	// the records, and a fast one to take.
	n := bytes.Count(d.buf[d.pos:], []byte{'}'}) / 2
	recs := make([]Record, 0, n)
	var (
		layers   []Layer
		statuses []Status
		events   []Event
		counters []Counters
	)
	for {
		if len(recs) == cap(recs) {
			return nil, false
		}
		recs = recs[:len(recs)+1]
		r := &recs[len(recs)-1]
		if !d.lit(`{"seq":`) {
			return nil, false
		}
		var ok bool
		if r.Seq, ok = d.uint(); !ok {
			return nil, false
		}
		switch {
		case d.lit(`,"kind":"layer","printer_id":`):
			r.Kind = KindLayer
		case d.lit(`,"kind":"status","printer_id":`):
			r.Kind = KindStatus
		case d.lit(`,"kind":"event","printer_id":`):
			r.Kind = KindEvent
		case d.lit(`,"kind":"counters","printer_id":`):
			r.Kind = KindCounters
		default:
			return nil, false
		}
		p, ok := d.str(&d.printer)
		if !ok || !d.lit(`,"time":`) {
			return nil, false
		}
		r.PrinterID = PrinterID(p)
		if r.Time, ok = d.time(); !ok {
			return nil, false
		}
		left := n - len(recs) + 1 // records this one included
		switch r.Kind {
		case KindLayer:
			layers = grow(layers, left)
			r.Layer = &layers[len(layers)-1]
			ok = d.lit(`,"layer":`) && d.layer(r.Layer)
		case KindStatus:
			statuses = grow(statuses, left)
			r.Status = &statuses[len(statuses)-1]
			ok = d.lit(`,"status":`) && d.status(r.Status)
		case KindCounters:
			counters = grow(counters, left)
			r.Counters = &counters[len(counters)-1]
			ok = d.lit(`,"counters":`) && d.counters(r.Counters)
		default:
			events = grow(events, left)
			r.Event = &events[len(events)-1]
			ok = d.lit(`,"event":`) && d.event(r.Event)
		}
		if !ok {
			return nil, false
		}
		if !d.lit(`}`) {
			return nil, false
		}
		if d.lit(`,`) {
			continue
		}
		if !d.lit(`]`) {
			return nil, false
		}
		return recs, true
	}
}

// grow returns slab with one more element, a zero value. When slab is
// full it continues in a new array, twice as large but for no more than
// left elements, so that pointers to the elements so far stay valid.
func grow[T any](slab []T, left int) []T {
	if len(slab) == cap(slab) {
		slab = make([]T, 0, min(max(8, 2*cap(slab)), left))
	}
	return slab[:len(slab)+1]
}

// fastDecoder reads canonical JSON from buf at pos. Its last strings are
// reused when the next value has the same bytes: a batch names the same
// few printers and jobs again and again.
type fastDecoder struct {
	buf       []byte
	pos       int
	printer   string
	job       string
	code      string
	firmware  string
	subsystem string
}

// lit consumes s if the input continues with it.
func (d *fastDecoder) lit(s string) bool {
	if len(d.buf)-d.pos < len(s) || string(d.buf[d.pos:d.pos+len(s)]) != s {
		return false
	}
	d.pos += len(s)
	return true
}

// layer decodes a Layer's object with its keys in json.Marshal's order.
func (d *fastDecoder) layer(l *Layer) bool {
	var ok bool
	if !d.lit(`{"seq":`) {
		return false
	}
	if l.Seq, ok = d.uint(); !ok || !d.lit(`,"job_id":`) {
		return false
	}
	if l.JobID, ok = d.str(&d.job); !ok || !d.lit(`,"index":`) {
		return false
	}
	i, ok := d.int()
	if !ok || int64(int(i)) != i || !d.lit(`,"size_mm2":`) {
		return false
	}
	l.Index = int(i)
	if l.SizeMM2, ok = d.float(); !ok || !d.lit(`,"duration_seconds":`) {
		return false
	}
	if l.DurationSec, ok = d.float(); !ok || !d.lit(`,"start":`) {
		return false
	}
	if l.Start, ok = d.time(); !ok || !d.lit(`,"end":`) {
		return false
	}
	if l.End, ok = d.time(); !ok {
		return false
	}
	return d.lit(`}`)
}

// status decodes a Status's object with its keys in json.Marshal's
// order (job_id may be left out: it is omitempty).
func (d *fastDecoder) status(s *Status) bool {
	if !d.lit(`{"printer_id":`) {
		return false
	}
	p, ok := d.str(&d.printer)
	if !ok || !d.lit(`,"state":`) {
		return false
	}
	s.PrinterID = PrinterID(p)
	switch {
	case d.lit(`"idle"`):
		s.State = StateIdle
	case d.lit(`"printing"`):
		s.State = StatePrinting
	case d.lit(`"cooling"`):
		s.State = StateCooling
	case d.lit(`"error"`):
		s.State = StateError
	default:
		return false
	}
	var activity string
	if !d.lit(`,"activity":`) {
		return false
	}
	if s.Activity, ok = d.str(&activity); !ok {
		return false
	}
	if d.lit(`,"job_id":`) {
		if s.JobID, ok = d.str(&d.job); !ok {
			return false
		}
	}
	if !d.lit(`,"progress":`) {
		return false
	}
	if s.Progress, ok = d.float(); !ok || !d.lit(`,"etc_seconds":`) {
		return false
	}
	if s.ETCSeconds, ok = d.int(); !ok || !d.lit(`,"pending_jobs":`) {
		return false
	}
	n, ok := d.int()
	if !ok || int64(int(n)) != n || !d.lit(`,"time":`) {
		return false
	}
	s.PendingJobs = int(n)
	if s.Time, ok = d.time(); !ok {
		return false
	}
	return d.lit(`}`)
}

// event decodes a Event's object with its keys in json.Marshal's order.
func (d *fastDecoder) event(e *Event) bool {
	var ok bool
	if !d.lit(`{"seq":`) {
		return false
	}
	if e.Seq, ok = d.uint(); !ok || !d.lit(`,"code":`) {
		return false
	}
	if e.Code, ok = d.str(&d.code); !ok || !d.lit(`,"description":`) {
		return false
	}
	var desc, details string
	if e.Description, ok = d.str(&desc); !ok || !d.lit(`,"severity":`) {
		return false
	}
	switch {
	case d.lit(`"info"`):
		e.Severity = SeverityInfo
	case d.lit(`"warning"`):
		e.Severity = SeverityWarning
	case d.lit(`"error"`):
		e.Severity = SeverityError
	case d.lit(`"critical"`):
		e.Severity = SeverityCritical
	default:
		return false
	}
	if !d.lit(`,"time":`) {
		return false
	}
	if e.Time, ok = d.time(); !ok || !d.lit(`,"firmware":`) {
		return false
	}
	if e.Firmware, ok = d.str(&d.firmware); !ok || !d.lit(`,"subsystem":`) {
		return false
	}
	if e.Subsystem, ok = d.str(&d.subsystem); !ok || !d.lit(`,"details":`) {
		return false
	}
	if e.Details, ok = d.str(&details); !ok {
		return false
	}
	return d.lit(`}`)
}

// maxMapKeys bounds the keys of a map DecodeRecordsFast takes: more
// than any printer reports, fewer than the uplink's check of canonical
// objects compares.
const maxMapKeys = 32

// counters decodes a Counters object with its keys in json.Marshal's order.
func (d *fastDecoder) counters(c *Counters) bool {
	ints := []struct {
		key string
		v   *int64
	}{{`{"total_jobs":`, &c.TotalJobs}, {`,"completed_jobs":`, &c.CompletedJobs}, {`,"layers":`, &c.Layers}, {`,"parts":`, &c.Parts}}
	for _, f := range ints {
		var ok bool
		if !d.lit(f.key) {
			return false
		}
		if *f.v, ok = d.int(); !ok {
			return false
		}
	}
	var ok bool
	if !d.lit(`,"print_volume_cm3":`) {
		return false
	}
	if c.PrintVolumeCM3, ok = d.float(); !ok || !d.lit(`,"print_time_seconds":`) {
		return false
	}
	if c.PrintTimeSec, ok = d.float(); !ok || !d.lit(`,"agents_consumed_ml":`) {
		return false
	}
	if c.AgentsConsumedML, ok = d.floatMap(); !ok {
		return false
	}
	rest := []struct {
		key string
		f   *float64
		i   *int64
	}{
		{`,"material_consumed_kg":`, &c.MaterialConsumedKG, nil},
		{`,"cooling_system_hours":`, &c.CoolingSystemHours, nil},
		{`,"filter_status_percent":`, &c.FilterStatusPercent, nil},
		{`,"lamp_usage_hours":`, &c.LampUsageHours, nil},
		{`,"intermediate_tanks_used":`, nil, &c.IntermediateTanks},
		{`,"agent_system_hours":`, &c.AgentSystemHours, nil},
		{`,"service_station_uses":`, nil, &c.ServiceStationUses},
		{`,"carriage_cycles":`, nil, &c.CarriageCycles},
		{`,"system_errors":`, nil, &c.SystemErrors},
	}
	for _, f := range rest {
		if !d.lit(f.key) {
			return false
		}
		if f.f != nil {
			*f.f, ok = d.float()
		} else {
			*f.i, ok = d.int()
		}
		if !ok {
			return false
		}
	}
	if !d.lit(`,"time":`) {
		return false
	}
	if c.Time, ok = d.time(); !ok {
		return false
	}
	return d.lit(`}`)
}

// floatMap decodes a map of float64 by name as json.Marshal writes it:
// null for a nil map, else plain [a-z0-9_] keys in increasing order (so
// none repeats), at most maxMapKeys of them.
func (d *fastDecoder) floatMap() (map[string]float64, bool) {
	if d.lit(`null`) {
		return nil, true
	}
	if !d.lit(`{`) {
		return nil, false
	}
	m := map[string]float64{}
	if d.lit(`}`) {
		return m, true
	}
	prev := ""
	for {
		var k string
		k, ok := d.str(&k)
		if !ok || !plainKey(k) || len(m) > 0 && k <= prev || len(m) == maxMapKeys || !d.lit(`:`) {
			return nil, false
		}
		if m[k], ok = d.float(); !ok {
			return nil, false
		}
		prev = k
		if d.lit(`}`) {
			return m, true
		}
		if !d.lit(`,`) {
			return nil, false
		}
	}
}

// plainKey reports whether k is a non-empty [a-z0-9_] name.
func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// str decodes a JSON string without escapes or control characters, in
// valid UTF-8 (encoding/json would replace invalid bytes), reusing *last
// when it has the same bytes and remembering the result there.
func (d *fastDecoder) str(last *string) (string, bool) {
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		return "", false
	}
	start := d.pos + 1
	ascii := true
	for i := start; i < len(d.buf); i++ {
		switch c := d.buf[i]; {
		case c == '"':
			b := d.buf[start:i]
			if !ascii && !utf8.Valid(b) {
				return "", false
			}
			d.pos = i + 1
			if string(b) != *last {
				*last = string(b)
			}
			return *last, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// digits returns the end of the run of decimal digits at i.
func (d *fastDecoder) digits(i int) int {
	for i < len(d.buf) && '0' <= d.buf[i] && d.buf[i] <= '9' {
		i++
	}
	return i
}

// uint decodes a JSON integer into a uint64 as encoding/json does:
// no sign, no fraction, no exponent, no leading zero, in range.
func (d *fastDecoder) uint() (uint64, bool) {
	end := d.digits(d.pos)
	b := d.buf[d.pos:end]
	if len(b) == 0 || len(b) > 20 || b[0] == '0' && len(b) > 1 {
		return 0, false
	}
	var x uint64
	for _, c := range b {
		v := uint64(c - '0')
		if x > (math.MaxUint64-v)/10 {
			return 0, false
		}
		x = x*10 + v
	}
	d.pos = end
	return x, true
}

// int decodes a JSON integer into an int64 as encoding/json does (a
// field of type int checks that the value fits).
func (d *fastDecoder) int() (int64, bool) {
	neg := d.pos < len(d.buf) && d.buf[d.pos] == '-'
	start := d.pos
	if neg {
		d.pos++
	}
	u, ok := d.uint()
	switch {
	case !ok:
		d.pos = start
		return 0, false
	case neg && u <= 1<<63:
		return -int64(u), true // -1<<63 wraps to itself, as it should
	case !neg && u < 1<<63:
		return int64(u), true
	}
	d.pos = start
	return 0, false
}

// float decodes a JSON number, checked against JSON's grammar, with
// strconv.ParseFloat on its exact bytes, as encoding/json does.
func (d *fastDecoder) float() (float64, bool) {
	i := d.pos
	if i < len(d.buf) && d.buf[i] == '-' {
		i++
	}
	j := d.digits(i)
	if j == i || d.buf[i] == '0' && j > i+1 {
		return 0, false
	}
	if j < len(d.buf) && d.buf[j] == '.' {
		k := d.digits(j + 1)
		if k == j+1 {
			return 0, false
		}
		j = k
	}
	if j < len(d.buf) && (d.buf[j] == 'e' || d.buf[j] == 'E') {
		k := j + 1
		if k < len(d.buf) && (d.buf[k] == '+' || d.buf[k] == '-') {
			k++
		}
		e := d.digits(k)
		if e == k {
			return 0, false
		}
		j = e
	}
	f, err := strconv.ParseFloat(string(d.buf[d.pos:j]), 64)
	if err != nil {
		return 0, false
	}
	d.pos = j
	return f, true
}

// time decodes a quoted time as json.Marshal writes a UTC time.Time:
// "2006-01-02T15:04:05.999999999Z" (time.RFC3339Nano), with 1 to 9
// fractional digits or none. Any other form, other time zones included,
// is left to the strict path.
func (d *fastDecoder) time() (time.Time, bool) {
	const base = len(`"2006-01-02T15:04:05`)
	b := d.buf[d.pos:]
	if len(b) < base+2 || b[0] != '"' || b[5] != '-' || b[8] != '-' || b[11] != 'T' || b[14] != ':' || b[17] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[1:5]), num(b[6:8]), num(b[9:11])
	hour, minute, sec := num(b[12:14]), num(b[15:17]), num(b[18:20])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := base, 0
	if b[i] == '.' {
		j := i + 1
		for j < len(b) && j-i <= 9 && '0' <= b[j] && b[j] <= '9' {
			nsec = nsec*10 + int(b[j]-'0')
			j++
		}
		n := j - i - 1
		if n == 0 || j < len(b) && '0' <= b[j] && b[j] <= '9' {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
		i = j
	}
	if len(b) < i+2 || b[i] != 'Z' || b[i+1] != '"' {
		return time.Time{}, false
	}
	d.pos += i + 2
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn is the number of days of month in year (proleptic Gregorian).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
