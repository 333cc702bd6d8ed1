// Package printer is a virtual powder-bed fusion printer: a process model of
// a 4200/5200-class machine that implements deviceapi.Device, so the device
// API cannot tell it from a real printer.
//
// The model covers the job life cycle (queued, printing layer by layer,
// build unit removed and cooling, unpacked and inspected, or failed), the
// build volume and part layout, agents, cleaning roll, printheads, lamps,
// filter, cooling system and carriage, each wearing with a hidden life, and
// a hidden part-quality model. Every constant lives in one table
// (processTable in process.go) with its public source.
//
// The simulation is lazy and deterministic. Nothing runs in the background:
// every call first advances the model from the last time it advanced to the
// injected clock's now, step by step over layer, phase and sampling
// boundaries, drawing from a random source seeded by Options.Seed. Because
// randomness is drawn only at those steps, never at read time, the same seed
// and clock readings yield the same history however often (or rarely) the
// printer is read, and a simulated month takes a fraction of a second.
// Feeds are bounded rings of compact records rendered to wire types only
// when read, so a thousand printers fit in well under a gigabyte.
//
// The printer knows private data, as a real one does: job, part, user and
// computer names and geometry references. They appear only in the Private
// fields of deviceapi.Job, deviceapi.Part and deviceapi.CurrentJob; events,
// layers and logs name jobs by their random ID only (R-PRIV-2).
//
// The simulation control (NewControlHandler, and the same as methods:
// InjectFault, SetSupply, QueueJobs, Truth) is for tests and demos: it
// injects faults, changes supplies, queues job files and reveals the hidden
// ground truth that analytics are scored against. It is never part of the
// device API.
package printer
