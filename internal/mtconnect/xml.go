package mtconnect

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"time"
)

// This file writes the standard's XML documents: MTConnectDevices
// (probe), MTConnectStreams (current, sample), MTConnectAssets and
// MTConnectError, version 2.4.

// Version is the version of the standard the agent's documents declare.
const Version = "2.4.0.0"

// The namespaces and schema locations of the documents.
const (
	nsDevices = "urn:mtconnect.org:MTConnectDevices:2.4"
	nsStreams = "urn:mtconnect.org:MTConnectStreams:2.4"
	nsAssets  = "urn:mtconnect.org:MTConnectAssets:2.4"
	nsError   = "urn:mtconnect.org:MTConnectError:2.4"
	nsXSI     = "http://www.w3.org/2001/XMLSchema-instance"
	schemas   = "http://schemas.mtconnect.org/schemas/"
	// extSchemaPath is where the agent serves the schema of its extension
	// observations.
	extSchemaPath = "/schemas/FusionFleetStreams_2.4.xsd"
)

// xw writes XML into a buffer.
type xw struct{ b bytes.Buffer }

func newXW() *xw {
	w := &xw{}
	w.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	return w
}

// start writes a start tag with attrs, name/value pairs; pairs with an
// empty value are left out. end closes it; empty writes an empty element.
func (w *xw) start(name string, attrs ...string) { w.tag(name, attrs, false) }
func (w *xw) empty(name string, attrs ...string) { w.tag(name, attrs, true) }
func (w *xw) end(name string)                    { w.b.WriteString("</" + name + ">") }

func (w *xw) tag(name string, attrs []string, empty bool) {
	w.b.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		w.b.WriteString(" " + attrs[i] + `="`)
		xml.EscapeText(&w.b, []byte(attrs[i+1]))
		w.b.WriteString(`"`)
	}
	if empty {
		w.b.WriteString("/>")
	} else {
		w.b.WriteString(">")
	}
}

// text writes character data.
func (w *xw) text(s string) { xml.EscapeText(&w.b, []byte(s)) }

// element writes <name attrs>text</name>.
func (w *xw) element(name, text string, attrs ...string) {
	w.start(name, attrs...)
	w.text(text)
	w.end(name)
}

// header is what every document's header says.
type header struct {
	instance    uint64
	sender      string
	created     time.Time
	modelChange time.Time
	bufferSize  int
}

func (h header) attrs() []string {
	return []string{"creationTime", timestamp(h.created), "sender", h.sender,
		"instanceId", strconv.FormatUint(h.instance, 10), "version", Version}
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// probeDoc is the MTConnectDevices document of the agent and devs.
func probeDoc(h header, assetBufferSize, assetCount int, agent *component, devs []*component) []byte {
	w := newXW()
	w.start("MTConnectDevices", "xmlns", nsDevices, "xmlns:m", nsDevices, "xmlns:xsi", nsXSI,
		"xmlns:"+extPrefix, extNamespace, "xsi:schemaLocation", nsDevices+" "+schemas+"MTConnectDevices_2.4.xsd")
	w.empty("Header", append(h.attrs(), "deviceModelChangeTime", timestamp(h.modelChange),
		"bufferSize", strconv.Itoa(h.bufferSize), "assetBufferSize", strconv.Itoa(assetBufferSize),
		"assetCount", strconv.Itoa(assetCount))...)
	w.start("Devices")
	if agent != nil {
		writeComponent(w, agent)
	}
	for _, d := range devs {
		writeComponent(w, d)
	}
	w.end("Devices")
	w.end("MTConnectDevices")
	return w.b.Bytes()
}

// writeComponent writes c and what is below it, in the order the schema
// lists a component's parts.
func writeComponent(w *xw, c *component) {
	attrs := []string{"id", c.id, "name", c.name, "uuid", c.uuid}
	if c.elem == "Device" || c.elem == "Agent" {
		attrs = append(attrs, "mtconnectVersion", "2.4")
	}
	w.start(c.elem, attrs...)
	if c.manufacturer != "" || c.model != "" || c.serial != "" {
		w.empty("Description", "manufacturer", c.manufacturer, "model", c.model, "serialNumber", c.serial)
	}
	if len(c.items) > 0 {
		w.start("DataItems")
		for _, d := range c.items {
			w.empty("DataItem", "category", string(d.cat), "id", d.id, "name", d.name, "type", d.typ,
				"subType", d.subType, "units", d.units)
		}
		w.end("DataItems")
	}
	if len(c.children) > 0 {
		w.start("Components")
		for _, k := range c.children {
			writeComponent(w, k)
		}
		w.end("Components")
	}
	w.end(c.elem)
}

// streamsDoc is the MTConnectStreams document of obs, grouped by device
// and component in the order they first appear in obs, each group's
// samples, events and conditions in obs's order.
func streamsDoc(h header, first, next, last uint64, obs []observation) []byte {
	w := newXW()
	w.start("MTConnectStreams", "xmlns", nsStreams, "xmlns:m", nsStreams, "xmlns:xsi", nsXSI,
		"xmlns:"+extPrefix, extNamespace, "xsi:schemaLocation",
		nsStreams+" "+schemas+"MTConnectStreams_2.4.xsd "+extNamespace+" "+extSchemaPath)
	w.empty("Header", append(h.attrs(), "deviceModelChangeTime", timestamp(h.modelChange),
		"bufferSize", strconv.Itoa(h.bufferSize), "nextSequence", u64(next),
		"firstSequence", u64(first), "lastSequence", u64(last))...)
	w.start("Streams")
	type group struct {
		item *dataItem // the first observation's, for the names
		obs  []observation
	}
	var (
		devOrder []string
		devs     = map[string][]*group{}
		groups   = map[string]*group{}
	)
	for _, o := range obs {
		g := groups[o.item.compID]
		if g == nil {
			g = &group{item: o.item}
			groups[o.item.compID] = g
			if devs[o.item.deviceUUID] == nil {
				devOrder = append(devOrder, o.item.deviceUUID)
			}
			devs[o.item.deviceUUID] = append(devs[o.item.deviceUUID], g)
		}
		g.obs = append(g.obs, o)
	}
	for _, uuid := range devOrder {
		gs := devs[uuid]
		w.start("DeviceStream", "name", gs[0].item.deviceName, "uuid", uuid)
		for _, g := range gs {
			w.start("ComponentStream", "component", g.item.compElem, "componentId", g.item.compID, "name", g.item.compName)
			for _, cat := range []category{catSample, catEvent, catCondition} {
				writeObservations(w, cat, g.obs)
			}
			w.end("ComponentStream")
		}
		w.end("DeviceStream")
	}
	w.end("Streams")
	w.end("MTConnectStreams")
	return w.b.Bytes()
}

// writeObservations writes the observations of category cat in obs, in
// their wrapper element, if there are any.
func writeObservations(w *xw, cat category, obs []observation) {
	wrapper := map[category]string{catSample: "Samples", catEvent: "Events", catCondition: "Condition"}[cat]
	open := false
	for _, o := range obs {
		if o.item.cat != cat {
			continue
		}
		if !open {
			w.start(wrapper)
			open = true
		}
		d := o.item
		attrs := []string{"dataItemId", d.id, "timestamp", timestamp(o.at), "sequence", u64(o.seq),
			"name", d.name, "subType", d.subType}
		if d.typ == "ASSET_CHANGED" || d.typ == "ASSET_REMOVED" {
			attrs = append(attrs, "assetType", "RawMaterial") // the only assets the agent has
		}
		if cat != catCondition {
			w.element(d.element(), o.value, attrs...)
			continue
		}
		attrs = append(attrs, "type", d.typ)
		if o.level == levelWarning || o.level == levelFault {
			id := o.code
			if id == "" {
				id = d.id
			}
			attrs = append(attrs, "nativeCode", o.code, "conditionId", id)
		}
		if o.value == "" {
			w.empty(string(o.level), attrs...)
		} else {
			w.element(string(o.level), o.value, attrs...)
		}
	}
	if open {
		w.end(wrapper)
	}
}

// assetsDoc is the MTConnectAssets document of assets.
func assetsDoc(h header, assetBufferSize, assetCount int, assets []asset) []byte {
	w := newXW()
	w.start("MTConnectAssets", "xmlns", nsAssets, "xmlns:m", nsAssets, "xmlns:xsi", nsXSI,
		"xsi:schemaLocation", nsAssets+" "+schemas+"MTConnectAssets_2.4.xsd")
	w.empty("Header", append(h.attrs(), "deviceModelChangeTime", timestamp(h.modelChange),
		"assetBufferSize", strconv.Itoa(assetBufferSize), "assetCount", strconv.Itoa(assetCount))...)
	w.start("Assets")
	for _, as := range assets {
		removed := ""
		if as.removed {
			removed = "true"
		}
		w.start("RawMaterial", "assetId", as.id, "timestamp", timestamp(as.at), "deviceUuid", as.deviceUUID,
			"removed", removed, "name", "build unit "+as.serial, "containerType", "build unit",
			"processKind", "powder bed fusion", "serialNumber", as.serial)
		w.element("Form", "POWDER")
		w.element("HasMaterial", strconv.FormatBool(as.kg > 0))
		if as.material != "" {
			w.empty("Material", "type", as.material, "name", as.material)
		}
		w.end("RawMaterial")
	}
	w.end("Assets")
	w.end("MTConnectAssets")
	return w.b.Bytes()
}

// errorDoc is the MTConnectError document of err.
func errorDoc(h header, err *Error) []byte {
	w := newXW()
	w.start("MTConnectError", "xmlns", nsError, "xmlns:m", nsError, "xmlns:xsi", nsXSI,
		"xsi:schemaLocation", nsError+" "+schemas+"MTConnectError_2.4.xsd")
	w.empty("Header", append(h.attrs(), "bufferSize", strconv.Itoa(h.bufferSize))...)
	w.start("Errors")
	w.element("Error", err.Msg, "errorCode", string(err.Code))
	w.end("Errors")
	w.end("MTConnectError")
	return w.b.Bytes()
}
