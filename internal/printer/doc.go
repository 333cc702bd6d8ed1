// Package printer is a virtual powder-bed fusion printer: a process model of
// a 4200/5200-class machine (build volume, layers, cooling, a job queue and
// occasional faults) that implements deviceapi.Device, so the device API
// cannot tell it from a real printer.
//
// The simulation is lazy and deterministic. Nothing runs in the background:
// every call first advances the model from the last time it advanced to the
// injected clock's now, step by step over phase and layer boundaries, drawing
// from a random source seeded by Options.Seed. Because randomness is drawn
// only at those steps, never at read time, the same seed yields the same
// history however often (or rarely) the printer is read, and a simulated week
// takes milliseconds.
//
// The printer knows private data, as a real one does: job names, user and
// computer names. They appear only in deviceapi.Job; events carry the random
// job ID, never a name (R-PRIV-2).
package printer
