// Package update delivers firmware images and print-parameter sets to
// printers with The Update Framework (TUF), through go-tuf's reference
// client: the release tool and the cloud keep a TUF repository (Repo,
// NewHandler), Command Centers mirror it, and each printer verifies
// everything itself (Client) before installing into an A/B slot pair and
// telling the device (Agent).
//
// # Keys: which live where
//
//   - root (offline, threshold, default 2 of 3): signs the list of keys
//     and thresholds for every role. Kept off-line by the release
//     managers; used only to create the repository and to rotate keys.
//     Printers pin a root at manufacture and follow later ones only along
//     the chain of roots, each signed by a threshold of the previous root's
//     keys and of its own (RotateRoot).
//   - targets (offline, threshold configurable): signs the list of targets
//     with their lengths, hashes and custom release metadata (kind,
//     version, models, minimum version, notes, staged rollout). Adding a
//     release needs it, so a compromised cloud cannot publish firmware.
//   - snapshot and timestamp (online, held by the cloud): the snapshot
//     fixes which version of targets metadata belongs to the current
//     repository state; the timestamp, re-signed on a schedule with a short
//     expiry (Resign), says which snapshot is current. Stealing them lets
//     an attacker at most delay updates until the targets expire, not ship
//     code.
//
// Keys are ed25519, stored as PKCS#8 PEM files readable by the owner only,
// under keys/offline and keys/online in the repository directory, so that
// the cloud receives only the online directory.
//
// # What each check defends against
//
// Each refusal carries a RefusedError whose Reason is one sentinel, and the
// printer stays on its installed slot:
//
//   - ErrTamperedTarget: the image differs from the signed length and
//     sha256 (a corrupted or malicious image).
//   - ErrTamperedMetadata: a trusted key's signature no longer verifies
//     (metadata edited in transit or on the mirror).
//   - ErrUnknownKey: signed by a key the root does not trust for the role
//     (an attacker's own key).
//   - ErrThreshold: fewer valid signatures than the role's threshold (one
//     stolen key of several).
//   - ErrRollback: a timestamp or snapshot older than the one already
//     trusted (replay of an old, vulnerable release). The trusted metadata
//     is persisted in the state directory, so this holds across restarts;
//     in addition the installed version is a floor (ErrDowngrade).
//   - ErrExpired: metadata past its expiry by the injected clock (a mirror
//     freezing the printer on stale metadata).
//   - ErrMixAndMatch: authentic metadata that is not the version and hash
//     the snapshot or timestamp names (parts of two repository states).
//   - ErrRootRotation: a new root without the signatures of both the old
//     and the new root keys.
//   - ErrMalformed: bytes that are not metadata at all (a compromised
//     mirror serving anything).
//   - ErrTooLarge: a download beyond its limit (the signed length for
//     targets, a fixed cap for metadata): a mirror streaming forever is cut
//     off, and each file has a deadline.
//   - ErrWrongModel, ErrMinVersion, ErrNotInRollout, ErrDowngrade: the
//     release is authentic but not for this printer (another model, too
//     old a base, not yet in the staged rollout, not newer).
//   - ErrStartFailed: the new release failed its start check; the client
//     switched back to the previous slot and will not retry that target.
//
// # Publishing and staged-rollout halts
//
// The release tool signs offline and uploads to the cloud (Repo.Publish,
// an archive written by WriteUpload). The cloud holds only the online keys
// (Repo.ExportOnline) and accepts an upload only if it verifies against
// the root chain the cloud already trusts: each new root signed by a
// threshold of the previous root's keys and of its own, targets signed by
// a threshold of the targets keys, every target with its signed length and
// SHA-256, and no version going backwards. A refused upload changes
// nothing; an accepted one gets a new snapshot and timestamp signed by the
// cloud. The cloud also keeps rollout.json beside the repository: the
// targets whose staged rollout is halted, by an operator (Repo.Halt) or by
// the RolloutController when a target's printers raise failure alerts
// more often than printers of the same model on other versions. Command
// Centers hold halted targets back. Halting is an availability control,
// not a security control: the file is unsigned, and printers verify every
// target with TUF whatever it says.
//
// # A/B slots
//
// Slots per kind live in the state directory. An update downloads and
// verifies into the inactive slot, switches to it on trial, runs the start
// check, and commits. A trial still open at the next start (the printer
// died during the check) is rolled back, as a boot loader would.
package update
