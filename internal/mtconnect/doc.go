// Package mtconnect is the Command Center's MTConnect agent (R-PEER-6):
// the standard's REST protocol, version 2.4, over the site's local truth,
// so that a manufacturing execution system on the LAN reads the printers
// without the cloud. One Device per printer models its controller path
// (the job), build unit, cooling, cleaning roll, printheads, agents and
// lamps with the standard's data item types, and FusionFleet's own
// (namespace urn:fusionfleet:mtconnect:2.4, prefix ff) where the standard
// has none; the powder of each installed build unit is a RawMaterial
// asset.
//
// Agent.Run reads the Command Center's store every SampleInterval and
// numbers every change into a bounded circular buffer; Agent.Handler
// serves /probe, /current (at=, interval=), /sample (from=, to=, count=,
// interval= and heartbeat= as multipart/x-mixed-replace streams), /assets
// and /asset/{ids} from it, and the standard's MTConnectError documents
// (INVALID_REQUEST, OUT_OF_RANGE, NO_DEVICE, …) for what it refuses.
// docs/mtconnect.md says what of the standard is covered.
package mtconnect
