package mtconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Source is the Command Center's local truth the agent reads:
// *commandcenter.Store is one.
type Source interface {
	Printers(ctx context.Context) ([]commandcenter.Printer, error)
	Events(ctx context.Context, printerID int64, limit int) ([]commandcenter.LocalEvent, error)
	LatestSnapshot(ctx context.Context, printerID int64) (commandcenter.Snapshot, error)
}

// The defaults of Options.
const (
	DefaultBufferSize      = 1 << 17
	DefaultAssetBufferSize = 1024
	DefaultSampleInterval  = time.Second
	DefaultMaxStreams      = 16
)

// Options tune an agent; the zero value works.
type Options struct {
	// BufferSize is how many observations the circular buffer keeps
	// (0 → DefaultBufferSize); AssetBufferSize how many assets
	// (0 → DefaultAssetBufferSize).
	BufferSize, AssetBufferSize int
	// SampleInterval is how often the agent reads the store for changes
	// (0 → DefaultSampleInterval).
	SampleInterval time.Duration
	// MaxStreams bounds the streams (requests with interval=) served at
	// once (0 → DefaultMaxStreams); one more is refused with TOO_MANY.
	MaxStreams int
	// UUID is the agent's own uuid, stable for the site (the Command
	// Center's); "" → "fusionfleet-agent". Sender names the agent in
	// every header; "" → "FusionFleet Command Center".
	UUID, Sender string
	Clock        clock.Clock  // nil → the real clock
	Logger       *slog.Logger // nil → discard
}

func (o Options) withDefaults() Options {
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.AssetBufferSize <= 0 {
		o.AssetBufferSize = DefaultAssetBufferSize
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = DefaultSampleInterval
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.UUID == "" {
		o.UUID = "fusionfleet-agent"
	}
	if o.Sender == "" {
		o.Sender = "FusionFleet Command Center"
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Agent is an MTConnect agent over a Command Center's store: Run reads the
// store for changes into the buffer, Handler serves the standard's
// requests from it.
type Agent struct {
	src      Source
	opts     Options
	log      *slog.Logger
	instance uint64
	buf      *buffer
	streams  chan struct{} // a token per stream served
	done     chan struct{} // closed when Run returns: streams end
	stopOnce sync.Once

	sampleMu sync.Mutex // one Sample at a time; guards seen
	seen     map[int64]*printerSeen

	mu          sync.Mutex // guards the model and the assets
	agent       *component
	devices     []*component // printers' devices, in the store's order
	shape       string       // the model's shape: it changed when this did
	modelChange time.Time
	assets      []*asset          // oldest change first
	buAsset     map[string]string // device uuid → the asset id of its installed build unit
}

// printerSeen is what the agent last read of a printer.
type printerSeen struct {
	snapAt    time.Time // Printer.SnapshotAt of the snapshot read
	snap      commandcenter.Snapshot
	events    string // Printer.Instance and EventCursor of the events read
	lastEvent time.Time
	lastSeq   uint64
}

// New returns an agent reading src. Its instanceId is the time it starts,
// in microseconds since 1970, so that it changes with every start.
func New(src Source, opts Options) *Agent {
	opts = opts.withDefaults()
	now := opts.Clock.Now()
	a := &Agent{src: src, opts: opts, log: opts.Logger.With("component", "mtconnect"),
		instance: uint64(max(now.UnixMicro(), 1)), buf: newBuffer(opts.BufferSize),
		streams: make(chan struct{}, opts.MaxStreams), done: make(chan struct{}), seen: map[int64]*printerSeen{}, modelChange: now,
		buAsset: map[string]string{}}
	b := newBuilder("Agent", "agent", "Agent", opts.UUID)
	b.value(b.dev, catEvent, "AVAILABILITY", "", "", "avail", "AVAILABLE")
	for _, what := range []string{"added", "removed", "changed"} {
		b.value(b.dev, catEvent, "DEVICE_"+strings.ToUpper(what), "", "", "device_"+what, "")
	}
	a.agent = b.dev
	// Every data item has an observation from the start: the buffer is
	// never empty, and /current shows each item.
	a.addReadings(b.readings, now)
	return a
}

// InstanceID is the agent's instanceId.
func (a *Agent) InstanceID() uint64 { return a.instance }

// Run reads the store every SampleInterval until ctx ends. A failed read
// is logged and tried again at the next interval.
func (a *Agent) Run(ctx context.Context) error {
	t := time.NewTicker(a.opts.SampleInterval)
	defer t.Stop()
	defer a.stopOnce.Do(func() { close(a.done) })
	for {
		if err := a.Sample(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("read the Command Center's store", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample reads the store once and records what changed: the device model
// (a printer added, reached for the first time or with other parts), the
// data items' values, the printers' new events and build units.
func (a *Agent) Sample(ctx context.Context) error {
	a.sampleMu.Lock()
	defer a.sampleMu.Unlock()
	ps, err := a.src.Printers(ctx)
	if err != nil {
		return fmt.Errorf("mtconnect: %w", err)
	}
	now := a.opts.Clock.Now()
	var (
		devs     []*component
		readings []reading
		msgs     []observation
		assets   []*asset
		errs     []error
	)
	for _, p := range ps {
		if p.Identity == nil {
			continue // not reached yet: nothing to model
		}
		s := a.seen[p.ID]
		if s == nil {
			s = &printerSeen{}
			a.seen[p.ID] = s
		}
		if !p.SnapshotAt.Equal(s.snapAt) || s.snapAt.IsZero() {
			snap, err := a.src.LatestSnapshot(ctx, p.ID)
			if err != nil {
				errs = append(errs, err)
			} else {
				s.snap, s.snapAt = snap, p.SnapshotAt
			}
		}
		b := printerDevice(p, s.snap)
		devs = append(devs, b.dev)
		readings = append(readings, b.readings...)
		m, err := a.newEvents(ctx, p, s, b.dev)
		if err != nil {
			errs = append(errs, err)
		}
		msgs = append(msgs, m...)
		if as := buildUnitAsset(p, s.snap, b.dev); as != nil {
			assets = append(assets, as)
		}
	}
	a.update(devs, readings, msgs, assets, now)
	return errors.Join(errs...)
}

// newEvents returns the MESSAGE observations of the events of p read
// since the last Sample; the first Sample takes the newest event only, as
// the message's current value.
func (a *Agent) newEvents(ctx context.Context, p commandcenter.Printer, s *printerSeen, dev *component) ([]observation, error) {
	key := fmt.Sprintf("%s/%d", p.Instance, p.EventCursor)
	if key == s.events {
		return nil, nil
	}
	first := s.events == ""
	evs, err := a.src.Events(ctx, p.ID, 100)
	if err != nil {
		return nil, err
	}
	s.events = key
	item := itemOf(dev, dev.id+"_msg")
	var out []observation
	for _, e := range evs { // newest first
		if !e.Seen.After(s.lastEvent) && !(e.Seen.Equal(s.lastEvent) && e.Event.Seq > s.lastSeq) {
			break
		}
		out = append(out, observation{item: item, at: e.Event.Time, value: message(e.Event)})
		if first {
			break
		}
	}
	if len(evs) > 0 {
		s.lastEvent, s.lastSeq = evs[0].Seen, evs[0].Event.Seq
	}
	slices.Reverse(out)
	return out, nil
}

// message is an event's MESSAGE: its code, severity and description.
func message(e fleet.Event) string {
	return fmt.Sprintf("%s [%s] %s", e.Code, e.Severity, e.Description)
}

// itemOf returns the data item id of c, which the model builders always
// declare (printerDevice, New): a missing one is a bug of this package.
func itemOf(c *component, id string) *dataItem {
	for _, d := range c.items {
		if d.id == id {
			return d
		}
	}
	panic("mtconnect: no data item " + id) // the model always declares it
}

// update installs the device model devs if its shape changed, and adds
// to the buffer every reading whose value changed, the messages, and the
// changes of the assets.
func (a *Agent) update(devs []*component, readings []reading, msgs []observation, assets []*asset, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var obs []observation
	if shape := modelShape(devs); shape != a.shape {
		old := map[string]bool{}
		for _, d := range a.devices {
			old[d.uuid] = true
		}
		for _, d := range devs {
			what := "device_added"
			if old[d.uuid] {
				what = "device_changed"
				delete(old, d.uuid)
			}
			if a.shape == "" || what == "device_added" || !sameShape(a.device(d.uuid), d) {
				obs = append(obs, observation{item: itemOf(a.agent, "agent_"+what), at: now, value: d.uuid})
			}
		}
		for uuid := range old {
			obs = append(obs, observation{item: itemOf(a.agent, "agent_device_removed"), at: now, value: uuid})
		}
		a.devices, a.shape, a.modelChange = devs, shape, now
	}
	for _, r := range readings {
		o := observation{item: r.item, at: now, value: r.value, level: r.level, code: r.code}
		if prev, ok := a.buf.latestOf(r.item.id); ok && prev.same(o) && sameItem(prev.item, r.item) {
			continue
		}
		obs = append(obs, o)
	}
	// A data item new to the model without a reading yet is unavailable
	// until its first observation.
	fresh := map[string]bool{}
	for _, o := range obs {
		fresh[o.item.id] = true
	}
	for _, d := range devs {
		d.walk(func(c *component) {
			for _, i := range c.items {
				if _, ok := a.buf.latestOf(i.id); !ok && !fresh[i.id] {
					o := observation{item: i, at: now, value: unavailable}
					if i.cat == catCondition {
						o.value, o.level = "", levelUnavailable
					}
					obs = append(obs, o)
				}
			}
		})
	}
	obs = append(obs, msgs...)
	obs = append(obs, a.updateAssets(devs, assets)...)
	a.buf.add(obs...)
}

// addReadings adds readings to the buffer as they are (at New).
func (a *Agent) addReadings(rs []reading, now time.Time) {
	obs := make([]observation, 0, len(rs))
	for _, r := range rs {
		obs = append(obs, observation{item: r.item, at: now, value: r.value, level: r.level, code: r.code})
	}
	a.buf.add(obs...)
}

// device returns the device with uuid, nil if none; a.mu held.
func (a *Agent) device(uuid string) *component {
	for _, d := range a.devices {
		if d.uuid == uuid {
			return d
		}
	}
	return nil
}

// model returns the agent's device and the printers' devices, with the
// time the model last changed.
func (a *Agent) model() (agent *component, devs []*component, changed time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.agent, a.devices, a.modelChange
}

// modelShape describes the structure of devs: components and data items
// with their definitions and names, values aside.
func modelShape(devs []*component) string {
	var b strings.Builder
	for _, d := range devs {
		b.WriteString(deviceShape(d))
		b.WriteByte('\n')
	}
	return b.String()
}

func deviceShape(d *component) string {
	var b strings.Builder
	d.walk(func(c *component) {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s;", c.elem, c.id, c.name, c.uuid, c.manufacturer, c.model, c.serial)
		for _, i := range c.items {
			fmt.Fprintf(&b, "%s|%s|%s|%s|%s,", i.id, i.cat, i.typ, i.subType, i.units)
		}
	})
	return b.String()
}

func sameShape(a, b *component) bool { return a != nil && deviceShape(a) == deviceShape(b) }

// sameItem reports whether two data items are defined alike.
func sameItem(a, b *dataItem) bool { return *a == *b }
