// Package selfupdate replaces the running Command Center binary with a
// newer build released through the same TUF chain as printer firmware, and
// rolls it back when the new build does not come up healthy.
//
// # The steps
//
// Updater.Run looks for a commandcenter target for this platform, newer
// than the running version and not refused before, and downloads it
// through update.Client: it is verified against the pinned root, with the
// metadata's rollback protection and the running version as a floor;
// the mirror's copy is never trusted as it is. Then Swapper.Install:
//
//  1. writes it beside the executable as NAME.next and runs it in probe
//     mode (`fusionfleet commandcenter upgrade-probe`: it opens the store
//     read-only, checks the migrations it would run and the config) with a
//     deadline; a probe that fails refuses the target, nothing is swapped;
//  2. records the marker (phase swapping) in the state directory;
//  3. swaps: the running binary becomes NAME.previous and NAME.next
//     becomes NAME, each by a rename in the same directory (on Unix the
//     previous binary is a hard link first, so NAME always exists; on
//     Windows the running .exe can only be renamed away, then the new one
//     renamed in, with a moment where NAME is missing);
//  4. marks the upgrade on trial and asks the caller to restart
//     (ErrRestart).
//
// At every start, before anything else, Swapper.Boot reads the marker and
// finishes whatever step a crash interrupted: each step is idempotent and
// the marker says which comes next. On trial the new binary counts its
// start; beyond MaxAttempts starts, or when it is not healthy within
// HealthTimeout of its first start, the previous binary is renamed back,
// the target is remembered as refused (never retried) and the process
// restarts into the previous version. A healthy trial is committed.
//
// # Restart
//
// On Unix the command re-executes the new binary in place (same process
// ID, so systemd's Type=simple unit keeps tracking it, and a plain
// terminal run continues too). A crashed new binary is restarted by
// systemd's Restart=on-failure, which is what lets the start count reach
// the rollback. On Windows a running process cannot replace its image:
// the service exits with a failure and the service manager's recovery
// actions start the swapped binary (the installed service's: 5 s, 30 s and
// 1 min after a failure). A rollback found at the start is finished
// before the service manager is even spoken to; the process then exits
// with a failure the same way.
//
// # Limits
//
// Boot runs before the data directory's lock is taken (it must be able to
// restart before anything is opened), so a second Command Center started
// by hand on the same directory during a trial counts a start before the
// lock refuses it. A release whose store migration passed the probe on a
// copy but fails at the real start is rolled back, and the previous build
// refuses a store migrated past its schema: the probe's copy is what keeps
// that from happening. On Windows, between the two renames of the swap
// there is no binary under its name.
//
// # Why not the printers' A/B slots
//
// A printer's update.Client installs into a slot and runs a start check
// within one call. The Command Center's check spans a restart of the
// process doing the install, so the slots' trial would be judged by the
// binary under trial. Here the executable's own directory holds the two
// builds, and the marker, not the slots, carries the trial across the
// restart; the client only verifies and downloads (update.Client.Download).
package selfupdate
